"""Keras 3 on PyTorch: the Keras models (`workloads/<w>/keras.py`), run by KERAS_BACKEND=torch.

Importing this package imports neither Keras nor torch.
"""

from dlarena.contract import FrameworkInfo

INFO = FrameworkInfo(
    name="keras-torch",
    description="Keras 3 on the PyTorch backend; eager by default, as Keras runs it there",
    distributions=("keras",),
    requires=("torch",),
    pip_requirement="keras torch",
    # Keras' `jit_compile="auto"` means eager on torch; jit_compile=True is torch.compile.
    modes=("eager", "jit_compile"),
    eager_mode="eager",
    implementation_files="keras",  # workloads/<w>/keras.py, as tensorflow
    implementations_of="tensorflow",
    runs_on="torch",
    # torch.compile's Inductor and Triton caches: a warm cache would hide compile time.
    cache_variables={"TORCHINDUCTOR_CACHE_DIR": "torchinductor", "TRITON_CACHE_DIR": "triton"},
    colour="#9467bd",
)
