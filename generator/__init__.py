"""Runs the 'Fun with Diffusion Models' experiments and builds their static write-up."""
import os

# Before torch loads: OpenMP threads that spin while waiting made small CPU work 20-200x slower
# on a busy 2-core machine (measured); passive waiting costs nothing measurable on big batches.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# Apple GPUs: an op MPS lacks runs on the CPU instead of failing (read when torch loads)
os.environ.setdefault("PYTORCH_ENABLE_MPS_FALLBACK", "1")

__version__ = "0.1.0"
