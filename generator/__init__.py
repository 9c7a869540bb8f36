"""Runs the 'Fun with Diffusion Models' experiments and builds their static write-up."""

__version__ = "0.1.0"
