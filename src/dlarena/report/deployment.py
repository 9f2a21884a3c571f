"""The deployment section: the export matrix (framework x format x workload: did it work, or
why not), save/load figures, portable inference beside the framework, serving under load.
Tables as strings, shared by the terminal, Markdown and HTML reports; medians only."""

from __future__ import annotations

from dataclasses import dataclass

from dlarena.report import formatting as fmt
from dlarena.report.model import CellReport, Report
from dlarena.scenarios.deployment import P99_REQUESTS

SAVE_SCENARIOS = ("save-weights", "save-model", "save-program")
EXPORT_SCENARIOS = ("export-onnx", "export-openvino", "export-litert", "export-aotinductor")
SERVE_SCENARIOS = ("serve", "serve-torchserve")
MATRIX_SCENARIOS = (*SAVE_SCENARIOS, *EXPORT_SCENARIOS, *SERVE_SCENARIOS)
# A failed cell's reason in the matrix, cut to this many characters (the full one is listed
# under the failed cells).
REASON_CHARACTERS = 90

SAVE_HEADER = ("workload", "framework", "kind", "format", "save s", "load s (fresh process)",
               "import s", "read s", "size", "max |Δ|")
EXPORT_HEADER = ("workload", "framework", "format", "runtime", "export s", "size", "max |Δ|",
                 "runtime samples/s", "framework samples/s", "speed-up", "runtime p50 batch-1",
                 "framework p50 batch-1")
SERVE_HEADER = ("workload", "framework", "server", "start → 1st answer", "c1 req/s", "c1 p50",
                "c1 p99", "c4 req/s", "c4 p99", "c16 req/s", "c16 p99", "errors",
                "saturation: Poisson max rate (p99 ≤ bound)", "levels with p99 on ≥ 1000 req",
                "server peak RSS")


def _deployment_cells(report: Report, scenarios: tuple[str, ...]) -> list[CellReport]:
    return [cell for cell in report.cells if cell.stored.spec.scenario in scenarios]


def _median(cell: CellReport, metric: str) -> float | None:
    summary = cell.summaries.get(metric)
    return None if summary is None else summary.median


def _seconds(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{1e3 * value:.3g} ms" if value < 1 else f"{value:.3g} s"


def _number(value: float | None) -> str:
    return "–" if value is None else fmt.number(value)


def _bytes(value: float | None) -> str:
    if value is None:
        return "–"
    for limit, unit in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if value >= limit:
            return f"{value / limit:.3g} {unit}"
    return f"{value:.0f} B"


def _manifest(cell: CellReport, key: str) -> str:
    values = {str(d.get("manifest", {}).get(key)) for d in cell.stored.details
              if key in d.get("manifest", {})}
    return " / ".join(sorted(values)) or "–"


def _outcome(cell: CellReport) -> str:
    if cell.stored.ok:
        difference = _median(cell, "max_abs_difference")
        return "ok" if difference is None else f"ok (max |Δ| {difference:.1e})"
    reason = (cell.stored.error or "failed").removeprefix("RuntimeError: ")
    reason = reason.removeprefix("AssertionError: ")
    if len(reason) > REASON_CHARACTERS:
        reason = reason[:REASON_CHARACTERS - 1] + "…"
    return f"{fmt.UNSUPPORTED_NOTE}: {reason}" if cell.stored.unsupported else f"FAILED: {reason}"


def export_matrix(report: Report) -> tuple[list[str], list[list[str]]]:
    """Rows (workload, framework), a column per deployment scenario the run measured."""
    cells = _deployment_cells(report, MATRIX_SCENARIOS)
    columns = [s for s in MATRIX_SCENARIOS if any(c.stored.spec.scenario == s for c in cells)]
    by_row: dict[tuple[str, str], dict[str, CellReport]] = {}
    for cell in cells:
        spec = cell.stored.spec
        by_row.setdefault((spec.workload, cell.label), {})[spec.scenario] = cell
    rows = [[workload, label, *(_outcome(found[s]) if s in found else "not run"
                                for s in columns)]
            for (workload, label), found in by_row.items()]
    return ["workload", "framework", *columns], rows


def save_rows(report: Report) -> list[list[str]]:
    return [[cell.stored.spec.workload, cell.label,
             cell.stored.spec.scenario.removeprefix("save-"), _manifest(cell, "saved_format"),
             _seconds(_median(cell, "save_seconds")), _seconds(_median(cell, "load_seconds")),
             _seconds(_median(cell, "load_import_seconds")),
             _seconds(_median(cell, "load_read_seconds")),
             _bytes(_median(cell, "file_bytes")),
             _number(_median(cell, "max_abs_difference"))]
            for cell in _deployment_cells(report, SAVE_SCENARIOS) if cell.stored.ok]


def export_rows(report: Report) -> list[list[str]]:
    return [[cell.stored.spec.workload, cell.label,
             cell.stored.spec.scenario.removeprefix("export-"),
             _manifest(cell, "portable_runtime"),
             _seconds(_median(cell, "export_seconds")), _bytes(_median(cell, "export_bytes")),
             _number(_median(cell, "max_abs_difference")),
             _number(_median(cell, "portable_infer_throughput")),
             _number(_median(cell, "native_infer_throughput")),
             "–" if (ratio := _median(cell, "portable_speedup")) is None else f"{ratio:.2f}x",
             _seconds(_median(cell, "portable_latency_seconds")),
             _seconds(_median(cell, "native_latency_seconds"))]
            for cell in _deployment_cells(report, EXPORT_SCENARIOS) if cell.stored.ok]


def serve_rows(report: Report) -> list[list[str]]:
    rows = []
    for cell in _deployment_cells(report, SERVE_SCENARIOS):
        if not cell.stored.ok:
            continue
        errors = sum(_median(cell, f"serve_errors_c{c}") or 0.0 for c in (1, 4, 16))
        rows.append([
            cell.stored.spec.workload, cell.label, server(cell),
            _seconds(_median(cell, "server_start_seconds")),
            _number(_median(cell, "serve_requests_per_second_c1")),
            _seconds(_median(cell, "serve_p50_seconds_c1")),
            _seconds(_median(cell, "serve_p99_seconds_c1")),
            _number(_median(cell, "serve_requests_per_second_c4")),
            _seconds(_median(cell, "serve_p99_seconds_c4")),
            _number(_median(cell, "serve_requests_per_second_c16")),
            _seconds(_median(cell, "serve_p99_seconds_c16")),
            f"{errors:.0f}",
            saturation(cell),
            _levels_on_enough_requests(cell),
            _bytes(_median(cell, "server_peak_rss_bytes")),
        ])
    return rows


def saturation(cell: CellReport) -> str:
    """The highest Poisson arrival rate the server held; "< R" when not even the lowest
    rate the search offered (R requests/s) held; a dash for a cell without open-loop levels."""
    held = _median(cell, "poisson_max_rate_within_bound")
    if held is not None:
        return _number(held)
    offered = cell.stored.samples.get("poisson_offered_rate", [])
    return f"< {fmt.number(min(offered))}" if offered else "–"


def server(cell: CellReport) -> str:
    """The server of a serve cell, as its manifest names it (dlarena's own small one for a
    `serve` cell stored before manifests named it)."""
    named = _manifest(cell, "server")
    return "dlarena" if named == "–" else named


TORCHSERVE_TITLE = "TorchServe: where a request's time goes (one client at a time)"
TORCHSERVE_HEADER = ("workload", "framework", "client p50", "front end p50", "queue p50",
                     "handler p50 (the model)", "HTTP and Netty (client − front end)",
                     "front end ↔ backend (front end − queue − handler)", "requests")


def torchserve_rows(report: Report) -> list[list[str]]:
    """Where a TorchServe request's time goes, one client at a time: medians of the client's
    latency and of TorchServe's own per-request figures, and the differences between them."""
    rows = []
    for cell in _deployment_cells(report, ("serve-torchserve",)):
        client, front, queue, handler = (
            _median(cell, f"torchserve_{part}_seconds")
            for part in ("client", "frontend", "queue", "handler"))
        if not cell.stored.ok or None in (client, front, queue, handler):
            continue
        assert client is not None and front is not None  # for the type checker
        assert queue is not None and handler is not None
        counted = len(cell.stored.samples.get("torchserve_client_seconds", []))
        rows.append([cell.stored.spec.workload, cell.label, _seconds(client), _seconds(front),
                     _seconds(queue), _seconds(handler), _seconds(client - front),
                     _seconds(front - queue - handler), str(counted)])
    return rows


def _levels_on_enough_requests(cell: CellReport) -> str:
    """How many load levels' p99 rest on P99_REQUESTS requests, with the time bound that cut
    the others short (a dash for cells measured before levels counted their requests)."""
    counts = [value for c in (1, 4, 16)
              for value in cell.stored.samples.get(f"serve_requests_c{c}", [])]
    counts += cell.stored.samples.get("poisson_requests", [])
    bound = _median(cell, "serve_level_bound_seconds")
    if not counts or bound is None:
        return "–"
    enough = sum(count >= P99_REQUESTS for count in counts)
    if enough == len(counts):
        return f"all {len(counts)}"
    return f"{enough} of {len(counts)} (others cut at {bound:.3g} s, fewest {min(counts):.0f})"


@dataclass(frozen=True)
class LoadPoint:
    """One open-loop level: offered Poisson rate, p50 and p99 latency, answered requests
    (None: a cell measured before levels counted them)."""

    offered: float
    p50: float | None
    p99: float
    requests: float | None


def load_curves(report: Report) -> list[tuple[str, str, list[LoadPoint]]]:
    """(workload, framework, points by offered rate) of every served cell: latency under
    open-loop load, one point per level of its search for the saturation rate."""
    curves = []
    for cell in _deployment_cells(report, SERVE_SCENARIOS):
        samples = cell.stored.samples
        offered = samples.get("poisson_offered_rate", [])
        if not offered or not cell.stored.ok:
            continue
        p50s: list[float | None] = list(samples.get("poisson_p50_seconds", []))
        counts: list[float | None] = list(samples.get("poisson_requests", []))
        points = [LoadPoint(rate, p50, p99, count) for rate, p99, p50, count in zip(
            offered, samples.get("poisson_p99_seconds", []),
            p50s or [None] * len(offered), counts or [None] * len(offered), strict=False)]
        label = cell.label if server(cell) == "dlarena" else f"{cell.label} · {server(cell)}"
        curves.append((cell.stored.spec.workload, label,
                       sorted(points, key=lambda point: point.offered)))
    return curves


NOTE = ("Save: the model saved in the framework's format of each kind (weights: needs the "
        "model's code; model: architecture and weights; program: runs without the code), then "
        "loaded in a fresh process up to its first prediction (code-free kinds exclude "
        "building the model); outputs equal the original's bit for bit where the format "
        "promises it, else within |Δ| ≤ 1e-4·max|reference| + 1e-5 (float32). Export: the "
        "same float32 tolerance against the framework's outputs, then throughput at the "
        "cell's batch size and batch-1 latency in the portable runtime beside the framework's "
        "own, same process, same threads. Serve: the same small HTTP server on 127.0.0.1 for "
        "every framework, one request computing at a time; closed loop at 1, 4 and 16 "
        "clients, then Poisson arrivals that search for the saturation rate: from half the "
        "1-client rate, 1.5x per level until p99 exceeds 10x the 1-client p99 (an ideal "
        "one-at-a-time server holds that to ~80% of its capacity) or a request fails (down "
        "by 1.5x per level until one holds, when the first breaks), then two levels that "
        "halve the gap (\"< R\": not even the lowest rate tried held). Each level runs "
        "until its p99 rests on 1000 requests or its time bound (stated when it cut a "
        "level short). TorchServe: the same PyTorch model and request under the same load, "
        "behind PyTorch's model "
        "server (a Java front end queueing requests for one Python backend worker; its "
        "defaults otherwise: token authorization, logging); its peak memory is both "
        "processes'.")
