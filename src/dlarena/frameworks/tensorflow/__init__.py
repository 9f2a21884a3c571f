"""TensorFlow with Keras layers. Importing this package never imports TensorFlow."""

from dlarena.contract import FrameworkInfo

INFO = FrameworkInfo(
    name="tensorflow",
    description="TensorFlow 2 with Keras layers; tf.function training step by default",
    distributions=("tensorflow", "tensorflow-cpu", "tensorflow-intel", "tensorflow-macos"),
    pip_requirement="tensorflow-cpu",
    modes=("function", "eager", "xla"),
    eager_mode="eager",
    in_default_set=True,
    implementation_files="keras",  # workloads/<w>/keras.py, shared with keras-jax and -torch
    # Read at import, before `runtime` can call the threading API (which it also does).
    intra_op_variables=("TF_NUM_INTRAOP_THREADS",),
    inter_op_variables=("TF_NUM_INTEROP_THREADS",),
    quiet_variables={"TF_CPP_MIN_LOG_LEVEL": "2"},
    colour="#1f77b4",
    data_parallel=True,
    listens_on_every_interface="TensorFlow's gRPC server binds 0.0.0.0:<port> whatever host "
                               "the cluster names (grpc_server_lib.cc)",
)
