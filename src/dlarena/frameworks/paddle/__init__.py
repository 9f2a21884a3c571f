"""PaddlePaddle 3 (paddle.nn, dynamic graph; paddle.jit.to_static). Importing this package
never imports paddle; the worker does.

Its wheel pins packages (opt_einsum==3.3.0, protobuf) that the main environment's TensorFlow
and JAX use at other versions, so it lives in its own environment, `.venv-paddle` beside the
checkout (`make venvs`), found without a --python flag.
"""

from dlarena.contract import FrameworkInfo

INFO = FrameworkInfo(
    name="paddle",
    description="PaddlePaddle 3 paddle.nn, dynamic graph by default, paddle.jit.to_static",
    distributions=("paddlepaddle",),
    pip_requirement="paddlepaddle==3.3.1",
    modes=("eager", "to_static"),
    eager_mode="eager",
    quiet_variables={"GLOG_minloglevel": "2", "GLOG_v": "0"},
    colour="#2932e1",
    own_environment=".venv-paddle",
)
