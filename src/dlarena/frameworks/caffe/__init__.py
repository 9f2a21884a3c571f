"""BVLC Caffe: listed for the seeds (and seed 001's framework list), with why it cannot run
here.

Evidence (Debian 12): Debian ships no Caffe since bookworm (`apt-cache search caffe` finds
only unrelated packages); PyPI's `caffe` 0.1.0 says of itself that it is a placeholder with
no code, and `caffe2` (0.5.0a0, 2018) is Caffe2, since merged into PyTorch, not Caffe.
Caffe 1.0 (2017) would have to be built from its source and its C++ dependencies, which no
package registry reachable here provides. See docs/old-frameworks.md.
"""

from dlarena.contract import FrameworkInfo

INFO = FrameworkInfo(
    name="caffe",
    description="BVLC Caffe 1.0 (its last release, 2017)",
    distributions=("caffe",),
    pip_requirement="caffe",
    modes=("graph",),
    eager_mode=None,
    unavailable="Debian 12 has no Caffe package, PyPI's 'caffe' is a "
                "placeholder without code, and Caffe 1.0 builds only from source",
)
