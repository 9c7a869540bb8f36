"""Part A's section runners (a0 ... a1.9), one per section id; each lives in a module by topic.

  part_a_sampling   a0 sampling, 1.5 samples, 1.6 classifier-free guidance
  part_a_denoise    1.1 forward process, 1.2 blur, 1.3 one-step, 1.4 iterative denoising
  part_a_edits      1.7 SDEdit, 1.7.1 web and drawn images, 1.7.2 inpainting, 1.7.3 translation
  part_a_illusions  1.8 visual anagrams, 1.9 hybrid images
"""
from generator.experiments.part_a_denoise import run_a1_1, run_a1_2, run_a1_3, run_a1_4
from generator.experiments.part_a_edits import run_a1_7, run_a1_7_1, run_a1_7_2, run_a1_7_3
from generator.experiments.part_a_illusions import run_a1_8, run_a1_9
from generator.experiments.part_a_sampling import run_a0, run_a1_5, run_a1_6

__all__ = ["run_a0", "run_a1_1", "run_a1_2", "run_a1_3", "run_a1_4", "run_a1_5", "run_a1_6",
           "run_a1_7", "run_a1_7_1", "run_a1_7_2", "run_a1_7_3", "run_a1_8", "run_a1_9"]
