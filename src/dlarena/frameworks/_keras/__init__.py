"""Keras 3, shared by the three frameworks that run it: `tensorflow`, `keras-jax` and
`keras-torch`. The seam a backend provides (`backend`), the models' base class (`model`) and
the walker of canonical weights (`layouts`); the models are `workloads/<w>/keras.py`.

No framework itself (the registry skips folders named with a leading "_"): each of the three
frameworks names it in its INFO (`implementation_files="keras"`). Importing this package
imports no framework, not even Keras.
"""
