"""Real datasets (catalogue, file formats, fetching) and the convergence tasks trained on them.

NumPy and the standard library only: the worker side reads these.
"""
