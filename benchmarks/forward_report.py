"""The report of benchmarks/forward.py: a case's figures (:class:`Row`), the table, the summary lines against
the targets (:data:`TARGETS`), and the machine's description for the JSON report.
"""

from __future__ import annotations

import math
import os
import platform
import statistics
from dataclasses import dataclass, field
from typing import Any

from benchmarks.forward_cases import Case

TARGETS = {"forward_max": 1.00, "forward_median": 0.85, "train_max": 1.00, "build_warm_median": 1.2}


@dataclass
class Row:
    case: Case
    figures: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def ratio(self, what: str) -> float | None:
        value = self.figures.get(what, {})
        return value.get("ratio") if isinstance(value, dict) else None


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(rows: list[Row], compared: bool) -> str:
    """One line per case. Compared: vibench ÷ reference in CPU time, the median of the alternated pairs
    with the quartiles of the pair ratios, then the same median in wall-clock time."""
    if compared:
        head = (f"{'model':<24} {'forward (quartiles)':>19} {'wall':>5} {'train (quartiles)':>19} {'wall':>5} "
                f"{'build warm':>10} {'cold s':>6} {'ref fwd ms':>10}")
        lines = [head, "-" * len(head)]
        for row in rows:
            if row.error:
                lines.append(f"{row.case.name:<24} error: {row.error}")
                continue
            f = row.figures
            forward, train = f["forward"], f["train"]
            lines.append(f"{row.case.name:<24} {spread(forward):>19} {forward['wall']['ratio']:5.2f} "
                         f"{spread(train):>19} {train['wall']['ratio']:5.2f} {f['build_warm']['ratio']:10.2f} "
                         f"{f['build_cold_s']:6.2f} {forward['reference_ms']:10.1f}")
        return "\n".join(lines)
    head = f"{'model':<24} {'forward ms':>11} {'train ms':>9} {'build warm ms':>14} {'build cold s':>13}"
    lines = [head, "-" * len(head)]
    for row in rows:
        if row.error:
            lines.append(f"{row.case.name:<24} error: {row.error}")
            continue
        f = row.figures
        lines.append(f"{row.case.name:<24} {f['forward']['vibench_ms']:11.1f} {f['train']['vibench_ms']:9.1f} "
                     f"{f['build_warm']['vibench_ms']:14.1f} {f['build_cold_s']:13.2f}")
    return "\n".join(lines)


def spread(figure: dict[str, Any]) -> str:
    low, high = figure["ratio_quartiles"]
    return f"{figure['ratio']:.2f} ({low:.2f}-{high:.2f})"


def summary(rows: list[Row]) -> tuple[list[str], bool]:
    """Summary lines against the targets, and whether every target was met."""
    ok_rows = [r for r in rows if not r.error]
    lines: list[str] = []
    met = len(ok_rows) == len(rows)

    def figures(what: str) -> list[tuple[float, str]]:
        return sorted(((r.ratio(what) or math.nan, r.case.name) for r in ok_rows), reverse=True)

    for what, label in (("forward", "forward (CPU time)"), ("train", "training step (CPU time)"),
                        ("build_warm", "build (warm cache)")):
        values = figures(what)
        if not values:
            continue
        ratios = [v for v, _ in values]
        median = statistics.median(ratios)
        over = [f"{n} {v:.2f}" for v, n in values if v > 1.0]
        line = f"{label}: median {median:.2f}, max {values[0][0]:.2f} ({values[0][1]}), min {values[-1][0]:.2f}"
        if what == "forward":
            good = values[0][0] <= TARGETS["forward_max"] and median <= TARGETS["forward_median"]
            line += f"; targets max <= 1.00, median <= 0.85: {'met' if good else 'MISSED'}"
        elif what == "train":
            good = values[0][0] <= TARGETS["train_max"]
            line += f"; target every model <= 1.00: {'met' if good else 'MISSED'}"
        else:
            good = median <= TARGETS["build_warm_median"]
            line += f"; target median <= 1.2: {'met' if good else 'MISSED'}"
        met = met and good
        lines.append(line)
        if over:
            lines.append(f"  over 1.00 ({len(over)}): " + ", ".join(over))
    walls = {what: [r.figures[what]["wall"]["ratio"] for r in ok_rows] for what in ("forward", "train")}
    if walls["forward"]:
        lines.append(f"wall clock, for comparison: forward median {statistics.median(walls['forward']):.2f}, "
                     f"max {max(walls['forward']):.2f}; training step median {statistics.median(walls['train']):.2f}, "
                     f"max {max(walls['train']):.2f}")
    colds = sorted((r.figures["build_cold_s"], r.case.name) for r in ok_rows)
    if colds:
        lines.append(f"build (cold, fresh cache folder): median {statistics.median(c for c, _ in colds):.2f} s, "
                     f"max {colds[-1][0]:.2f} s ({colds[-1][1]})")
    errors = [r for r in rows if r.error]
    if errors:
        lines.append(f"{len(errors)} case(s) failed: " + ", ".join(r.case.name for r in errors))
    return lines, met


def machine() -> dict[str, Any]:
    import torch

    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"python": platform.python_version(), "torch": torch.__version__, "cpus": os.cpu_count(),
            "threads": torch.get_num_threads(), "loadavg": load, "platform": platform.platform()}


def progress(row: Row, compared: bool) -> str:
    """A case's line while the run goes on: its ratios (compared) or vibench's times."""
    f = row.figures
    if compared:
        return (f"forward {_fmt(row.ratio('forward'))}  train {_fmt(row.ratio('train'))}  "
                f"build {_fmt(row.ratio('build_warm'))}  (reference forward {f['forward']['reference_ms']:.1f} ms)")
    return f"forward {f['forward']['vibench_ms']:.1f} ms  train {f['train']['vibench_ms']:.1f} ms"

