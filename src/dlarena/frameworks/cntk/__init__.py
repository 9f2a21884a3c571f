"""Microsoft CNTK: listed for Table 1 of Paszke et al. 2019, with why it cannot run here.

Evidence (Debian 12, CPython 3.11): PyPI's last CNTK, 2.7.post2 (2020), has wheels for
CPython 3.5 and 3.6 only (`pip download cntk` finds none for 3.7, 3.8 or 3.11); dlarena's
worker needs Python >= 3.11, so no CNTK worker can start. Tried anyway in a Python 3.6.15
virtual environment: the cp36 wheel installs, and `import cntk` fails with "ImportError:
libmpi_cxx.so.1: cannot open shared object file" (OpenMPI 1.10's C++ library, which Debian 12
does not ship). Debian has no CNTK package. See docs/old-frameworks.md.
"""

from dlarena.contract import FrameworkInfo

INFO = FrameworkInfo(
    name="cntk",
    description="Microsoft Cognitive Toolkit 2.7 (its last release, 2019)",
    distributions=("cntk", "cntk-cpu"),
    pip_requirement="cntk",
    modes=("graph",),
    eager_mode=None,
    unavailable="CNTK 2.7.post2, its last release, has wheels for CPython 3.5-3.6 only "
                "(dlarena's worker needs Python >= 3.11), and even on Python 3.6 here "
                "`import cntk` fails: libmpi_cxx.so.1 (OpenMPI 1.10) is not in Debian 12",
)
