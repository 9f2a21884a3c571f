"""resnet50: ResNet-50 v1.5 (torchvision's), in PyTorch and TensorFlow."""
