"""Data sources: MNIST (IDX files with an offline fallback) and Part A's test images."""
