"""Timing for benchmarks/forward.py: two callables timed in alternation (ABBA...) on two clocks, the
vibench ÷ reference ratio of each pair summarised (:class:`Timing`), and a torch.profiler operator diff.
"""

from __future__ import annotations

import contextlib
import gc
import math
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass
class Timing:
    """One clock's figures for an alternated comparison: seconds per call of each side (medians) and
    the median vibench ÷ reference ratio of the pairs, with its quartiles."""

    reference: float
    vibench: float
    ratio: float
    quartiles: tuple[float, float]  # of the pair ratios: their spread shows the noise
    fastest: float  # vibench's fastest sample ÷ the reference's

    def to_json(self) -> dict[str, Any]:
        return {"reference_ms": self.reference * 1e3, "vibench_ms": self.vibench * 1e3, "ratio": self.ratio,
                "ratio_quartiles": list(self.quartiles), "ratio_of_fastest": self.fastest}

    @staticmethod
    def of(reference: list[float], ours: list[float]) -> Timing:
        ratios = [b / a for a, b in zip(reference, ours, strict=True)]
        quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
        return Timing(statistics.median(reference), statistics.median(ours), statistics.median(ratios),
                      (quartiles[0], quartiles[2]), min(ours) / min(reference))


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}
"""``cpu``, the process's CPU time, is the headline: with one torch thread every kernel (and autograd's
backward) runs on the calling thread, and on a shared machine the wall clock also counts the time
other processes hold the cores. ``wall`` is recorded beside it."""


def alternate(reference: Callable[[], Any], ours: Callable[[], Any], *, budget: float, min_pairs: int,
              max_pairs: int, warmup: int = 2, sample: float = 0.02) -> dict[str, Any]:
    """Time ``reference`` and ``ours`` in alternation (ABBA...), after ``warmup`` calls of each; the
    figures of each clock of :data:`CLOCKS`.

    A sample is ``calls`` calls in a row, enough for the shorter side to take ``sample`` seconds of
    CPU time. Pairs are taken until ``budget`` seconds (wall) are spent and there are ``min_pairs``
    of them (never more than ``max_pairs``): a slow machine gives fewer pairs, never a failure.
    """
    once = math.inf
    for _ in range(warmup):
        for fn in (reference, ours):
            started = time.process_time()
            fn()
            once = min(once, time.process_time() - started)
    calls = max(1, min(1000, math.ceil(sample / max(1e-6, once))))

    def timed(fn: Callable[[], Any]) -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(calls):
            fn()
        return (time.process_time() - cpu) / calls, (time.perf_counter() - wall) / calls

    samples: dict[str, list[tuple[float, float]]] = {"reference": [], "vibench": []}
    deadline = time.perf_counter() + budget
    pairs = 0
    with _no_gc():
        while pairs < max_pairs and (pairs < min_pairs or time.perf_counter() < deadline):
            order = (("reference", reference), ("vibench", ours))
            for name, fn in order if pairs % 2 == 0 else order[::-1]:
                samples[name].append(timed(fn))
            pairs += 1
    out: dict[str, Any] = {"pairs": pairs, "calls_per_sample": calls}
    for k, clock in enumerate(CLOCKS):
        figures = Timing.of([t[k] for t in samples["reference"]], [t[k] for t in samples["vibench"]]).to_json()
        if clock == "cpu":
            out.update(figures)
        else:
            out[clock] = figures
    return out


def profile(reference: Callable[[], Any], ours: Callable[[], Any], calls: int, top: int = 14) -> list[str]:
    """The operators whose self CPU time differs most between the two sides (torch.profiler), per call."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    totals: list[dict[str, tuple[float, float]]] = []
    for fn in (reference, ours):
        fn()
        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(calls):
                fn()
        totals.append({e.key: (e.self_cpu_time_total / calls / 1e3, e.count / calls) for e in prof.key_averages()})
    names = sorted(set(totals[0]) | set(totals[1]),
                   key=lambda n: -abs(totals[1].get(n, (0, 0))[0] - totals[0].get(n, (0, 0))[0]))
    lines = [f"    {'operator':<44} {'reference ms':>12} {'calls':>6} {'vibench ms':>11} {'calls':>6}"]
    for name in names[:top]:
        (a_ms, a_n), (b_ms, b_n) = totals[0].get(name, (0.0, 0.0)), totals[1].get(name, (0.0, 0.0))
        lines.append(f"    {name[:44]:<44} {a_ms:12.2f} {a_n:6.0f} {b_ms:11.2f} {b_n:6.0f}")
    for k, side in enumerate(("reference", "vibench")):
        lines.append(f"    total self CPU, {side}: {sum(ms for ms, _ in totals[k].values()):.2f} ms a call")
    return lines
