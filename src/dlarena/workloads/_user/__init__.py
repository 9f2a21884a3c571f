"""The user's own model as a workload for one run: `dlarena run --model SPEC`.

SPEC is a `.keras` file, `file.py:function` or `package.module:function`. The coordinator
describes the model once in a child process (`describe`: its weights, inputs, outputs, FLOPs),
never importing a framework itself; the description travels to every worker in the
environment variable `spec.ENVIRONMENT_VARIABLE`, and each worker rebuilds the model from
SPEC in its own process (`source.build`). The folder's name starts with "_": it is no
workload of the catalogue, and the registry adds it only while a run names a model.
"""
