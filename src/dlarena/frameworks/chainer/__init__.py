"""Chainer 7.8 (define-by-run). Importing this package never imports chainer; the worker does.

Chainer 7.8.1 (its last release, a source distribution) builds only with a setuptools that
still ships pkg_resources and is tested with NumPy 1.x, so it lives in its own environment,
`.venv-chainer` beside the checkout (`make venvs`), found without a --python flag.
"""

from dlarena.contract import FrameworkInfo

INFO = FrameworkInfo(
    name="chainer",
    description="Chainer 7.8, define-by-run on NumPy (CPU; no CuPy here)",
    distributions=("chainer",),
    pip_requirement="chainer==7.8.1 numpy==1.23.5",
    modes=("eager",),
    eager_mode="eager",
    colour="#9b59b6",
    unbiased_running_variance=True,
    own_environment=".venv-chainer",
)
