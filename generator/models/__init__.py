"""Models: the course UNet, the MNIST classifier, and Part A's denoiser backends."""
