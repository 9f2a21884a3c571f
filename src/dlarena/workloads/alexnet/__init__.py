"""alexnet: torchvision's single-tower AlexNet, in PyTorch and TensorFlow."""
