"""Framework-neutral deployment machinery: output comparison, portable runtimes (ONNX
Runtime, the LiteRT interpreter), child processes, the loopback HTTP server and the load
generator. The framework-specific paths are each framework's `deploy.py`."""
