"""The A/A control: what a framework measured against its identical twin on this machine
(`dlarena calibrate`) says of the verdicts. Identical code must read "no difference": every
"X faster" between twins is a false verdict, and every report shows the machine's latest
count beside its own verdicts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dlarena import registry
from dlarena.analysis import stopping
from dlarena.analysis.verdict import Verdict
from dlarena.store import StoredRun


@dataclass(frozen=True)
class Control:
    """The latest A/A session on a machine: one `dlarena calibrate`, several runs."""

    framework: str
    runs: tuple[int, ...]
    created_utc: str
    pairs: int
    false: int  # "X faster" between identical twins
    equivalent: int  # no meaningful difference within the margin
    undecided: int
    # "fresh" (`calibrate --no-fork-servers`) or "forked" (the default) worker processes;
    # None: not recorded.
    workers: str | None = None

    @property
    def text(self) -> str:
        runs = f"run {self.runs[0]}" if len(self.runs) == 1 else (
            f"runs {self.runs[0]}–{self.runs[-1]}")
        workers = f"{self.workers} workers, " if self.workers else ""
        return (f"A/A control on this machine ({self.framework} against its identical twin, "
                f"{workers}{runs}, {self.created_utc[:10]}): {self.false} false verdict"
                f"{'' if self.false == 1 else 's'} of {self.pairs} pairs; {self.equivalent} "
                f"no meaningful difference, {self.undecided} undecided")


def twin_framework(run: StoredRun) -> str | None:
    """The framework an A/A run measured against its twin; None for any other run."""
    names = set(run.environment.get("framework_versions", {}))
    frameworks = registry.frameworks()
    for name in names:
        info = frameworks.get(name)
        if info is not None and info.twin_of is not None and names == {name, info.twin_of}:
            return info.twin_of
    return None


def latest_session(runs: Sequence[StoredRun], machine: StoredRun) -> list[StoredRun]:
    """The A/A runs of the latest `dlarena calibrate` on `machine`'s machine: the newest A/A
    run and those before it of the same session (the `calibration` label that command
    stores), back to the first that is not."""
    controls = [run for run in runs
                if twin_framework(run) and run.machine_key == machine.machine_key]
    if not controls:
        return []
    session = [controls[-1]]
    for run in reversed(controls[:-1]):
        if run.environment.get("calibration") != session[0].environment.get("calibration"):
            break
        session.insert(0, run)
    return session


def tally(framework: str, session: Sequence[StoredRun],
          verdicts_of: Callable[[StoredRun], list[Verdict]]) -> Control | None:
    """Count a session's verdicts; None when it holds none."""
    verdicts = [verdict for run in session for verdict in verdicts_of(run)]
    if not verdicts:
        return None
    label = session[-1].environment.get("calibration")
    # A stored label (maybe from an imported bundle): only the two values calibrate writes.
    workers = label.get("workers") if isinstance(label, dict) else None
    return Control(
        framework=framework, runs=tuple(run.id for run in session),
        created_utc=session[-1].created_utc, pairs=len(verdicts),
        false=sum(verdict.significant for verdict in verdicts),
        equivalent=sum(verdict.decision == stopping.EQUIVALENT for verdict in verdicts),
        undecided=sum(not verdict.significant and verdict.decision != stopping.EQUIVALENT
                      for verdict in verdicts),
        workers=workers if workers in ("fresh", "forked") else None)


def summary(found: Control | None) -> str:
    """What `dlarena calibrate` ends with."""
    if found is None:
        return "the A/A control gave no verdict (every cell failed?): see the errors above"
    return found.text
