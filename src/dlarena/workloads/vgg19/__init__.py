"""vgg19: VGG-19 (configuration E), in PyTorch and TensorFlow."""
