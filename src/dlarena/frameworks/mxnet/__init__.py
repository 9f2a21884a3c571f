"""Apache MXNet 1.9 (Gluon). Importing this package never imports mxnet; the worker does.

MXNet 1.9.1 needs NumPy < 1.24 (it uses `np.bool`), so it lives in its own environment,
`.venv-mxnet` beside the checkout (`make venvs`), found without a --python flag.
"""

from dlarena.contract import FrameworkInfo

INFO = FrameworkInfo(
    name="mxnet",
    description="Apache MXNet 1.9 Gluon, imperative by default, hybridize() to a cached graph",
    distributions=("mxnet",),
    pip_requirement="mxnet==1.9.1 numpy==1.23.5",
    modes=("eager", "hybridize"),
    eager_mode="eager",
    # Its engine's CPU worker threads run independent operators side by side.
    inter_op_variables=("MXNET_CPU_WORKER_NTHREADS",),
    quiet_variables={"MXNET_SUBGRAPH_VERBOSE": "0"},
    colour="#0b7a75",
    own_environment=".venv-mxnet",
)
