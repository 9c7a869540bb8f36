"""Benchmarks of the training loop and samplers: python -m generator.bench."""
