"""A fake framework in NumPy: the engine, store and reports are testable in milliseconds."""

from dlarena.contract import FrameworkInfo

INFO = FrameworkInfo(
    name="fake",
    description="NumPy test double: fixed work per step, injectable faults",
    distributions=("numpy",),
    pip_requirement="numpy",
    modes=("eager", "compiled"),
    eager_mode="eager",
    colour="#7f7f7f",
    test_double=True,
    generic_implementation="dlarena.frameworks.fake.model:FakeImplementation",
)
