"""Forward, training-step and build speed of every library template against PHM-Vibench's own model.

    python benchmarks/forward.py --reference .reference/PHM-Vibench     # the side-by-side (issue 8)
    python benchmarks/forward.py                                        # vibench alone; comparison skipped
    python benchmarks/forward.py --reference DIR --quick --only ResNet  # a short run of some templates
    python benchmarks/forward.py --reference DIR --only MobileNet --profile 5   # + torch.profiler op diff

For every template of ``vibench/specs`` with a ``reference:`` section (:data:`CASES`, one
configuration each: the canonical row of ``tests/reference/models.json``, the ISFM demo config) the
reference model is built from its ``model:`` section (``scripts/reference.py``), vibench builds the
same hyperparameters (``vibench.build``: the PHM-Vibench config route, ``extends:`` for an ISFM
component) and loads the reference's ``state_dict`` through the template's renames (strict). The
library III components and M_02_ISFM_Prompt, whose references need set-up (timm, a sequence patcher,
metadata, prompts), run as their value-parity cases do (``scripts/reference_cases_isfm.py``), at the
demo's sizes (``Case.parity``; non-strict loading where that case leaves reference weights aside). Before
anything is timed both run in eval mode on the same input after the same ``torch.manual_seed`` and
must agree (outputs to 1e-4 and the input gradient to 1e-3, relative to their scale); a case that
does not is reported, not timed. Inputs are [8, 1024, C] signals and [8, 32, 128] ISFM tokens; where
the canonical configuration costs seconds a call on one thread (AttentionGRU, Autoformer,
Informer, Linformer, MLPMixer, gMLP, DenseNetMLP, TransformerRNN, ConvTransformer; TimesNet, GraphNO)
a smaller size of the same model is
used, named in the case's ``doc``. Then, on one thread (``torch.set_num_threads(1)``), after warm-up:

* **forward** (eval, ``torch.no_grad()``) and **train** (train mode: forward, the mean square of every
  output, backward; gradients reset each step) are timed in alternation, reference and vibench in
  ABBA order, each sample long enough to time (several calls when one is short), until the time
  budget is spent (at least ``--min-pairs`` pairs). The ratio is vibench ÷ reference, the median
  of the per-pair ratios (quartiles beside it), in CPU time (:data:`CLOCKS`; wall-clock figures are
  printed and recorded too). glibc's allocator thresholds are fixed for the run
  (:func:`fixed_allocator`), and each case runs in a fresh process (:func:`run_case_isolated`);
* **build warm** is ``vibench.build`` of the same spec again (the cache hit: a key and the
  constructor) against the reference's constructor (``Model(args, metadata)``; for ISFM, the
  composite's or component's class), alternated the same way; **build cold** is the first
  ``vibench.build`` of the spec in a fresh cache folder (``VIBENCH_CACHE_DIR``, a temporary folder
  removed at the end; the compiler's own start-up is paid before, by a tiny spec, and printed), in CPU
  seconds.

The ISFM composites are run by their components on the reference side (``embedding(x, fs)``,
``backbone``, ``task_head(tokens, system_id)``): the computation vibench's forward does from ``fs``
and ``system_id``, without the reference's per-batch metadata look-up by ``file_id``.

Targets (issue 8): forward every ratio <= 1.00 and median <= 0.85; training step <= 1.00; warm build
median <= 1.2. A table and summary lines are printed, and every figure goes to ``--out`` (JSON).
A case that fails is reported and the others still run. Exit status 0 when every case ran and met the
targets, 1 otherwise (2: bad arguments).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:  # `python benchmarks/forward.py` puts only benchmarks/ on the path
    sys.path.insert(0, ROOT)

# The case table, the two sides, the timing and the report live beside this file (benchmarks/forward_*.py).
from benchmarks.forward_cases import CASES, Case, parity_case  # noqa: E402
from benchmarks.forward_report import TARGETS, Row, machine, progress, spread, summary, table  # noqa: E402
from benchmarks.forward_sides import (  # noqa: E402
    Side,
    agreement,
    case_inputs,
    no_grad,
    reference_side,
    train_step,
    vibench_side,
)
from benchmarks.forward_timing import alternate, profile  # noqa: E402

# ---------------------------------------------------------------------------------------------
# One case.


@dataclass
class Settings:
    reference: str | None
    budget: float  # seconds per timed comparison
    min_pairs: int
    max_pairs: int
    profile: int = 0  # calls profiled per side (0: no profile)
    noise: bool = False  # also time the reference against itself


def run_case(case: Case, settings: Settings) -> Row:
    import torch

    row = Row(case)
    num_classes = {"1": 10}
    inputs = case_inputs(case)
    ref: Side | None = None
    if case.parity and settings.reference is not None:  # its set-up gives the inputs vibench reads too
        torch.manual_seed(0)
        ref = reference_side(case, settings.reference, inputs, num_classes)
    torch.manual_seed(0)
    ours, cold = vibench_side(case, inputs, num_classes)
    row.figures["build_cold_s"] = cold["cpu"]
    row.figures["build_cold_wall_s"] = cold["wall"]
    row.figures["parameters"] = sum(p.numel() for p in ours.model.parameters())
    timing = dict(budget=settings.budget, min_pairs=settings.min_pairs, max_pairs=settings.max_pairs)
    if settings.reference is None:
        ours.model.eval()
        row.figures["forward"] = _alone(no_grad(ours), timing)
        ours.model.train()
        row.figures["train"] = _alone(train_step(ours), timing)
        row.figures["build_warm"] = _alone(ours.construct, {**timing, "budget": settings.budget / 2})
        return row
    from vibench.runtime.checkpoint import load_reference_state_dict

    if ref is None:
        torch.manual_seed(0)
        ref = reference_side(case, settings.reference, inputs, num_classes)
    # Parity cases whose reference holds weights vibench does not (DEVIATIONS.md) load as they are recorded.
    strict = getattr(parity_case(case), "strict", True) if case.parity else True
    load_reference_state_dict(ours.model, ref.model.state_dict(), strict=strict)
    row.figures["agreement"] = agreement(ref, ours, inputs)
    with ref.context():
        for model in (ref.model, ours.model):
            model.eval()
        row.figures["forward"] = alternate(no_grad(ref), no_grad(ours), **timing)
        for model in (ref.model, ours.model):
            model.train()
        row.figures["train"] = alternate(train_step(ref), train_step(ours), **timing)
        if settings.noise:  # the reference against itself: how far from 1.00 noise alone moves a ratio
            row.figures["noise_train"] = alternate(train_step(ref), train_step(ref), **timing)
            for model in (ref.model, ours.model):
                model.eval()
            row.figures["noise_forward"] = alternate(no_grad(ref), no_grad(ref), **timing)
        if settings.profile:
            for model in (ref.model, ours.model):
                model.eval()
            row.figures["profile_forward"] = profile(no_grad(ref), no_grad(ours), settings.profile)
            for model in (ref.model, ours.model):
                model.train()
            row.figures["profile_train"] = profile(train_step(ref), train_step(ours), settings.profile)
    del ref.model, ours.model
    row.figures["build_warm"] = alternate(ref.construct, ours.construct, **{**timing, "budget": settings.budget / 2})
    return row


def _alone(fn: Callable[[], Any], timing: dict[str, Any]) -> dict[str, Any]:
    result = alternate(fn, fn, **timing)  # the same function on both sides: the ratio shows the noise
    return {"vibench_ms": result["vibench_ms"], "noise_ratio": result["ratio"], "pairs": result["pairs"],
            "wall_ms": result["wall"]["vibench_ms"]}


# ---------------------------------------------------------------------------------------------
# The run: the allocator, the command line, each case in a process of its own.


MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(1 << 34),
          "MALLOC_TOP_PAD_": str(256 << 20)}
"""glibc's allocator settings for the run (see :func:`fixed_allocator`)."""


def fixed_allocator(argv: list[str]) -> None:
    """Re-run this script with :data:`MALLOC` in the environment, once, on glibc.

    By default glibc hands freed blocks of more than its (adaptive) mmap threshold back to the system
    and the next allocation faults them in again, zero-filled: the same training step of Dlinear
    then takes 6 or 30 ms of CPU time at random, for either model. With fixed thresholds freed memory
    is reused, and both sides are timed on warm memory (``--default-malloc`` keeps glibc's defaults).
    """
    glibc = hasattr(os, "confstr") and "glibc" in (os.confstr("CS_GNU_LIBC_VERSION") or "")
    if glibc and not all(os.environ.get(k) == v for k, v in MALLOC.items()):
        sys.stdout.flush()
        os.execve(sys.executable, [sys.executable, os.path.abspath(__file__), *argv], {**os.environ, **MALLOC})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", help="a PHM-Vibench checkout (without it: vibench's own figures only)")
    parser.add_argument("--quick", action="store_true", help="a short run: less time per figure, fewer pairs")
    parser.add_argument("--only", action="append", default=[], help="run the templates whose name contains this")
    parser.add_argument("--budget", type=float, help="seconds per timed comparison, above 0 (default 4, --quick 1)")
    parser.add_argument("--min-pairs", type=int, help="fewest alternated pairs per figure, at least 1 (default 7, "
                        "--quick 3)")
    parser.add_argument("--profile", type=int, default=0, metavar="CALLS",
                        help="also profile CALLS forwards and training steps of each side (torch.profiler) and print "
                             "the operators whose time differs most")
    parser.add_argument("--noise", action="store_true",
                        help="also time the reference against itself (A/A): the ratio noise alone gives")
    parser.add_argument("--default-malloc", action="store_true",
                        help="keep glibc's adaptive allocator (noisier: see fixed_allocator)")
    parser.add_argument("--in-process", action="store_true",
                        help="run every case in this process (by default each runs in a fresh one: see "
                             "run_case_isolated)")
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "out", "forward.json"))
    parser.add_argument("--case", type=int, help=argparse.SUPPRESS)  # a case's own process (run_case_isolated)
    parser.add_argument("--row-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    # Checked here, before anything is timed (a negative budget or pair count ended in an IndexError; 0
    # silently meant the default).
    if args.budget is None:
        args.budget = 1.0 if args.quick else 4.0
    elif not (0 < args.budget and math.isfinite(args.budget)):
        parser.error(f"argument --budget: expected a number of seconds above 0, got {args.budget:g}")
    if args.min_pairs is None:
        args.min_pairs = 3 if args.quick else 7
    elif args.min_pairs < 1:
        parser.error(f"argument --min-pairs: expected a positive integer, got {args.min_pairs}")
    if args.profile < 0:
        parser.error(f"argument --profile: expected a number of calls (0: no profile), got {args.profile}")
    settings = Settings(reference=args.reference, budget=args.budget, min_pairs=args.min_pairs, max_pairs=200,
                        profile=args.profile, noise=args.noise)
    if args.case is not None:  # internal, but a usage error all the same (an IndexError, or open(None), before)
        if not 0 <= args.case < len(CASES):
            parser.error(f"argument --case: expected a case index from 0 to {len(CASES) - 1}, got {args.case}")
        if args.row_out is None:
            parser.error("argument --case: needs --row-out FILE, where the case's row is written")
        problem = _unwritable(args.row_out, "--row-out", make_folder=False)
        if problem:  # before the case runs (the row was lost after it, in a FileNotFoundError)
            parser.error(problem)
        return one_case(args.case, settings, args.row_out)
    if args.reference:
        from scripts import reference

        try:
            print(reference.check_checkout(args.reference))
        except FileNotFoundError as err:
            parser.error(str(err))
    cases = [c for c in CASES if not args.only or any(o.lower() in c.template.lower() for o in args.only)]
    if not cases:
        parser.error(f"no template matches {args.only}")
    problem = _unwritable(args.out, "--out")
    if problem:  # found now, not after every case has been timed
        parser.error(problem)

    warnings.simplefilter("ignore")  # the reference's deprecation and "complex modules" warnings
    cache = tempfile.mkdtemp(prefix="vibench-bench-cache-")
    os.environ["VIBENCH_CACHE_DIR"] = cache  # before vibench.models is imported: cold builds start empty
    try:
        return run_cases(args, settings, cases, cache)
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def _unwritable(path: str, flag: str, make_folder: bool = True) -> str | None:
    """Why the report cannot be written to ``path``, or None: scripts/device_check.py's check of its --out (a
    symbolic link followed to its target, a dangling one's folder included), the folder of ``path`` made here if
    missing (``make_folder``; not one a link leads to)."""
    from scripts.device_check import unwritable

    return unwritable(path, flag, make_folder=make_folder)


def run_cases(args: argparse.Namespace, settings: Settings, cases: list[Case], cache: str) -> int:
    """Every case (each in a process of its own, unless ``--in-process``), the table and the report."""
    import torch

    import vibench
    from vibench.api import _TINY

    torch.set_num_threads(1)
    load_at_start = _load()
    started = time.perf_counter()
    vibench.build(text=_TINY)  # the compiler's own imports, paid once
    startup = time.perf_counter() - started
    print(f"machine: {os.cpu_count()} CPUs, load average {_load()}, 1 thread; vibench cache {cache}; "
          f"compiler start-up (first build of a tiny spec) {startup:.2f} s")
    if not args.reference:
        print("reference: none given (--reference DIR): the comparison with PHM-Vibench is SKIPPED; "
              "vibench's own figures follow")

    rows: list[Row] = []
    for case in cases:
        began = time.perf_counter()
        row = run_case_guarded(case, settings) if args.in_process else run_case_isolated(case, argv_of(args), cache)
        row.figures["seconds"] = time.perf_counter() - began
        rows.append(row)
        print(f"  {case.name:<24} {row.figures['seconds']:6.1f} s  "
              + (f"error: {row.error}" if row.error else progress(row, bool(args.reference))), flush=True)
        if "noise_forward" in row.figures:
            print(f"    reference against itself (A/A): forward {spread(row.figures['noise_forward'])}, "
                  f"train {spread(row.figures['noise_train'])}")
        for what in ("forward", "train"):
            if f"profile_{what}" in row.figures:
                print(f"    profile, {what} ({settings.profile} calls each, self CPU time per call):")
                print("\n".join(row.figures[f"profile_{what}"]), flush=True)

    print()
    print(table(rows, bool(args.reference)))
    print()
    met = all(not r.error for r in rows)
    if args.reference:
        lines, met = summary(rows)
        print("\n".join(lines))
    else:
        print("comparison with the reference SKIPPED (no --reference); ratios need a PHM-Vibench checkout")
    print(f"load average at the start: {load_at_start}; at the end: {_load()} ({os.cpu_count()} CPUs)")
    report = {"machine": {**machine(), "load_at_start": load_at_start, "load_at_end": _load(),
                          "allocator": {k: os.environ.get(k) for k in MALLOC}, "clock": "process CPU time"},
              "reference": args.reference, "process": os.getpid(),
              "settings": vars(settings), "targets": TARGETS, "compiler_startup_s": startup,
              "cases": [{"template": r.case.template, "reference": r.case.reference, "config": r.case.doc,
                         "args": r.case.args, "x": list(r.case.x), "error": r.error, **r.figures} for r in rows]}
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(report, fh, indent=1, default=str)
    print(f"wrote {os.path.relpath(args.out)}")
    return 0 if met else 1


def run_case_guarded(case: Case, settings: Settings) -> Row:
    """:func:`run_case`; a failure is the row's error (the other cases still run)."""
    try:
        return run_case(case, settings)
    except Exception as err:  # noqa: BLE001 - one case's failure is reported; the others still run
        row = Row(case, error=f"{type(err).__name__}: {str(err).splitlines()[0][:160] if str(err) else ''}")
        row.figures["traceback"] = traceback.format_exc()
        return row


def argv_of(args: argparse.Namespace) -> list[str]:
    """The options a case's own process takes from this run (see :func:`run_case_isolated`)."""
    words = ["--budget", str(args.budget), "--min-pairs", str(args.min_pairs), "--profile", str(args.profile)]
    words += ["--reference", args.reference] if args.reference else []
    return words + (["--noise"] if args.noise else [])


def run_case_isolated(case: Case, options: list[str], cache: str) -> Row:
    """:func:`run_case` in a process of its own (the default; ``--in-process`` runs every case in this one).

    Each case starts from the same state: in one long process the allocator's and the kernel's memory
    state after earlier cases moved whole figures (MultiTaskHead's training step 1.64 with quartiles
    1.63-1.66 late in a full run, 1.01 alone; ResNetMLP's forward 1.10 against 1.01). What the models
    print (PHM-Vibench's prompt embedding prints a line per call) is not shown; a failed process's last
    lines are the row's error.
    """
    import subprocess

    with tempfile.TemporaryDirectory(prefix="vibench-bench-case-") as tmp:
        out = os.path.join(tmp, "row.json")
        command = [sys.executable, os.path.abspath(__file__), *options, "--case", str(CASES.index(case)),
                   "--row-out", out]
        done = subprocess.run(command, capture_output=True, text=True, errors="replace",
                              env={**os.environ, "VIBENCH_CACHE_DIR": cache}, check=False)
        if done.returncode == 0 and os.path.exists(out):
            with open(out, encoding="utf-8") as fh:
                saved = json.load(fh)
            return Row(case, saved["figures"], saved["error"])
    tail = (done.stderr or done.stdout).strip().splitlines()[-12:]
    row = Row(case, error=f"its process ended with status {done.returncode}: {(tail or [''])[-1][:160]}")
    row.figures["traceback"] = "\n".join(tail)
    return row


def one_case(index: int, settings: Settings, out: str) -> int:
    """The child's side of :func:`run_case_isolated`: the compiler's start-up paid first, as in one run."""
    import torch

    import vibench
    from vibench.api import _TINY

    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    vibench.build(text=_TINY)
    row = run_case_guarded(CASES[index], settings)
    row.figures["process"] = os.getpid()
    with open(out, "w", encoding="utf-8") as fh:
        json.dump({"figures": row.figures, "error": row.error}, fh, default=str)
    return 0


def _load() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "?"


if __name__ == "__main__":
    if "--default-malloc" not in sys.argv[1:]:
        fixed_allocator(sys.argv[1:])
    sys.exit(main())
