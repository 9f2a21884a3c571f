"""`dlarena list`: what can be measured here, without importing any framework."""

from __future__ import annotations

from typing import Any

from dlarena import registry
from dlarena.engine import environment
from dlarena.engine.plan import MEASURE_BY_SIZE, suite_frameworks
from dlarena.engine.suites import SUITES, Suite
from dlarena.errors import UsageError
from dlarena.scenarios import SCENARIOS


def listing(interpreters: dict[str, str]) -> dict[str, Any]:
    frameworks: list[dict[str, Any]] = []
    for name in registry.names():  # a twin is its framework again, under another name
        info = registry.frameworks()[name]
        interpreter = interpreters.get(name)
        version = environment.framework_version(info, interpreter)
        frameworks.append({
            "name": name,
            "description": info.description,
            "installed": version is not None,
            "version": version,
            "install": None if version else environment.install_command(info, interpreter),
            "not_runnable": None if version else environment.not_runnable_reason(info,
                                                                                 interpreter),
            "interpreter": interpreter,
            "modes": list(info.modes),
            "default_mode": info.default_mode,
            "in_default_set": info.in_default_set,
            "test_double": info.test_double,
        })
    installed = [fw["name"] for fw in frameworks if fw["installed"]]
    workloads = [
        {
            "name": name,
            "description": workload.description,
            "frameworks": registry.implementing_frameworks(name),
            "sizes": {size: config.description for size, config in workload.sizes.items()},
            "trainable_parameters": {
                size: workload.trainable_parameter_count(size) for size in workload.sizes
            },
            "unit": workload.unit,
            "forward_flops_per_sample": {
                size: workload.forward_flops(size) for size in workload.sizes
            },
        }
        for name, workload in registry.workloads().items()
    ]
    return {
        "frameworks": frameworks,
        "workloads": workloads,
        "scenarios": [{"name": s.name, "description": s.description} for s in SCENARIOS.values()],
        "sizes": {
            size: {"min_window_seconds": m.min_window_seconds, "windows": m.windows}
            for size, m in MEASURE_BY_SIZE.items()
        },
        "suites": [
            {"name": s.name, "description": s.description, "workloads": list(s.workloads),
             "framework_rule": s.frameworks,
             "frameworks": _suite_frameworks(s, installed), "scenarios": list(s.scenarios),
             "size": s.size, "processes": s.processes}
            for s in SUITES.values()
        ],
    }


def _suite_frameworks(suite: Suite, installed: list[str]) -> list[str]:
    try:
        return suite_frameworks(suite, installed)
    except UsageError:
        return []


def render_listing(data: dict[str, Any]) -> str:
    lines = ["Frameworks"]
    for fw in data["frameworks"]:
        state = f"{fw['version']}" if fw["installed"] else str(fw["not_runnable"])
        if fw["installed"] and fw["interpreter"]:
            state += f" (in {fw['interpreter']})"
        double = (" (test double)" if fw["test_double"]
                  else " (default set)" if fw["in_default_set"] else "")
        lines.append(f"  {fw['name']:<12} {state}{double}")
        lines.append(f"  {'':<12} modes: {', '.join(fw['modes'])}; {fw['description']}")
    doubles = {fw["name"] for fw in data["frameworks"] if fw["test_double"]}
    lines.append("\nWorkloads")
    for wl in data["workloads"]:
        real = [f for f in wl["frameworks"] if f not in doubles]
        lines.append(f"  {wl['name']:<12} {wl['description']}")
        lines.append(f"  {'':<12} implemented in: {', '.join(real)}; throughput in "
                     f"{wl['unit']}/s")
        for size, text in wl["sizes"].items():
            params = wl["trainable_parameters"][size]
            gflops = wl["forward_flops_per_sample"][size] / 1e9
            lines.append(f"  {'':<12} {size:<6} {text}; {params:,} trainable parameters; "
                         f"{gflops:.3g} GFLOP forward per sample")
    lines.append("\nScenarios")
    lines += [f"  {s['name']:<12} {s['description']}" for s in data["scenarios"]]
    lines.append("\nSizes (measurement)")
    lines += [f"  {size:<12} windows of >= {m['min_window_seconds']} s, {m['windows']} of them"
              for size, m in data["sizes"].items()]
    lines.append("\nSuites")
    for suite in data["suites"]:
        lines.append(f"  {suite['name']:<12} {suite['description']}")
        chosen = ", ".join(suite["frameworks"]) or "none installed"
        lines.append(f"  {'':<12} frameworks: {suite['framework_rule']} ({chosen})")
    return "\n".join(lines)
