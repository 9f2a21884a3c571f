"""mobilenet_v2: MobileNetV2 (torchvision's), in PyTorch and TensorFlow."""
