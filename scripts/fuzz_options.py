"""The command line of scripts/fuzz.py: its options, and the folders a campaign writes.

Every option value is checked here, before a phase or a worker starts: a value a worker cannot run
under (``--timeout 0``, ``--memory-mb 50``) was otherwise reported as a compiler crash and saved as an
open regression. A bad value, or an ``--out`` / ``--regressions`` that is no folder this user can
write, is a usage error (exit status 2). Both folders are made absolute (a ``--snapshot`` campaign
runs in a child process whose working folder is the checkout).

The report folder keeps only this run's figures (:func:`clear_report`), and ``--snapshot`` copies
``vibench/`` to ``OUT/code``, a folder this script made and marked (:func:`take_snapshot`): it never
replaces a folder of that name it did not make.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import tempfile
from collections.abc import Callable

from vibench.testing.blocks import MAX_STEPS
from vibench.testing.oracles import BACKENDS, MAX_TIMEOUT
from vibench.testing.regressions import PREFIX

MAX_SECONDS = MAX_TIMEOUT
"""The longest ``--timeout`` / ``--runtime-timeout``: a day, the oracles' own bound
(:data:`vibench.testing.oracles.MAX_TIMEOUT`: a CPU-time alarm of 10**10 s overflows)."""

MIN_TIMEOUT = 5.0
"""The shortest ``--timeout`` (CPU seconds per static compile): the limit under which
``tests/test_regressions.py`` replays a saved case (:func:`vibench.testing.regressions.replay`, 5 s). A
"hang" found under a shorter limit replays clean there, an open regression that fails as a strict XPASS
(``--timeout 0.001`` saved every case so); at 5 s, what ran out of time also runs out on replay. No
healthy compile comes near it: the slowest shipped specs (mlp/DenseNetMLP, cnn/AttentionCNN) take 0.5 s
for two compiles (measured)."""

MIN_RUNTIME_TIMEOUT = 60.0
"""The shortest ``--runtime-timeout`` (CPU seconds per valid spec's runtime checks): ten times the first
check of examples/resnet18_1d.yaml in a process (5.6 s: eager, ``torch.compile``'s warm-up, export and
TorchScript; 1.8 s once warm). Below about that every valid spec is a "hang"."""

MIN_MEMORY_MB, MAX_MEMORY_MB = 256, 2**24
"""``--memory-mb`` bounds: a worker holding the compiler and the largest shipped spec uses about 72 MB
of address space, and at 50 MB it dies before it answers (every mutant a "crash"); above 16 TiB the
limit in bytes no longer fits ``setrlimit``. 0 is no limit."""

SNAPSHOT_MARK = ".fuzz-snapshot"
"""The file in ``OUT/code`` that says scripts/fuzz.py made the folder (and may replace it)."""

REPORT_FILES = ("summary.json", "torch-stderr.log")
"""The files of an earlier run that this run would not overwrite at its start (``findings.jsonl`` and
``worker-stderr.log`` are opened for writing at once; ``torch-stderr.log`` is appended to)."""

MINIMISED = re.compile(r"[a-z0-9-]+-[0-9a-f]{10}\.yaml")
"""The name :func:`vibench.testing.regressions.save` gives a minimised case (``kind-digest.yaml``)."""


def _integer(low: int, high: int | None = None, zero: str = "") -> Callable[[str], int]:
    """An option type: an integer from ``low`` to ``high``; ``zero`` says what 0 means where it is allowed."""
    if high is not None:
        expected = f"an integer from {low} to {high}"
    else:
        expected = {0: "0 or a positive integer", 1: "a positive integer"}.get(low, f"an integer of at least {low}")
    if zero:
        expected += f" ({zero})"

    def parse(text: str) -> int:
        try:
            value = int(text.replace("_", ""))
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got `{text[:40]}`") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {value}")
        return value

    return parse


def _seconds(least: float) -> Callable[[str], float]:
    """An option type: a number of seconds from ``least`` to :data:`MAX_SECONDS`."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number of seconds, got `{text[:40]}`") from None
        if not value <= MAX_SECONDS:  # (NaN too) the range as it is: `above 0` was said of a floor of 5 s
            raise argparse.ArgumentTypeError(f"expected a number of seconds from {least:g} to {MAX_SECONDS:.0f}, "
                                             f"got {text[:40]}")
        if value < least:
            raise argparse.ArgumentTypeError(f"expected at least {least:g} seconds, got {text[:40]}: a shorter limit "
                                             "makes healthy cases hangs, saved as regressions that replay clean")
        return value

    return parse


def _memory(text: str) -> int:
    value = _integer(0, MAX_MEMORY_MB, "0: no limit")(text)
    if 0 < value < MIN_MEMORY_MB:
        raise argparse.ArgumentTypeError(f"expected at least {MIN_MEMORY_MB} MB (0: no limit), got {value}: a "
                                         "worker needs that much address space for the compiler itself")
    import resource

    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    if value and hard != resource.RLIM_INFINITY and value * 2**20 > hard:
        raise argparse.ArgumentTypeError(f"expected at most {hard // 2**20} MB, this process's own address-space "
                                         f"limit (ulimit -v), got {value}")
    return value


def _backends(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(b.strip() for b in text.split(",") if b.strip()))
    unknown = [b for b in names if b not in BACKENDS]
    if unknown:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of {', '.join(BACKENDS)}, got "
                                         f"`{unknown[0][:40]}`")
    return names


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    count = _integer(0, zero="0: skip")
    p.add_argument("--valid", type=count, default=200, help="generated valid specs (default 200; 0: skip)")
    p.add_argument("--mutations", type=count, default=2000, help="mutated shipped specs (default 2000; 0: skip)")
    p.add_argument("--seed", type=int, default=0, help="seed of both campaigns")
    p.add_argument("--out", default=os.path.join(root, "build", "fuzz"), help="report folder (build/fuzz)")
    p.add_argument("--regressions", default=os.path.join(root, "tests", "regressions"),
                   help="where new regression specs go (tests/regressions)")
    p.add_argument("--no-save", action="store_true", help="do not write regression specs")
    p.add_argument("--timeout", type=_seconds(MIN_TIMEOUT), default=10.0,
                   help=f"CPU seconds per static compile (default 10; {MIN_TIMEOUT:g} to {MAX_SECONDS:.0f})")
    p.add_argument("--runtime-timeout", type=_seconds(MIN_RUNTIME_TIMEOUT), default=120.0,
                   help=f"CPU seconds per valid spec's runtime checks (default 120; {MIN_RUNTIME_TIMEOUT:g} to "
                        f"{MAX_SECONDS:.0f})")
    p.add_argument("--memory-mb", type=_memory, default=2048,
                   help=f"address-space limit of a compile worker (at least {MIN_MEMORY_MB}; 0: no limit)")
    p.add_argument("--cross-every", type=_integer(0, zero="0: never"), default=5,
                   help="every k-th mutant also in a second process (0: never)")
    p.add_argument("--max-nodes", type=_integer(1, MAX_STEPS), default=8,
                   help=f"steps per generated spec (1 to {MAX_STEPS})")
    p.add_argument("--backends", type=_backends, default=BACKENDS,
                   help=f"backends compared with eager (default {','.join(BACKENDS)})")
    p.add_argument("--support", type=count, default=4, help="cases per block in the support phase (0: skip)")
    p.add_argument("--minimise-budget", type=_integer(0, zero="0: save as found"), default=150,
                   help="checks per minimised failure")
    p.add_argument("--max-minimise", type=_integer(0), default=40, help="signatures minimised per run")
    p.add_argument("--progress", type=_integer(1), default=1000, help="print progress every k mutants")
    p.add_argument("--progress-valid", type=_integer(1), default=100, help="print progress every k valid specs")
    p.add_argument("--snapshot", action="store_true",
                   help="run on a copy of vibench/ taken now (OUT/code, a folder this script makes; it refuses "
                        "an OUT/code it did not make): the tree may change during the run")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    return p


def parse(description: str, argv: list[str] | None) -> argparse.Namespace:
    """The options, checked; ``--out`` (made if missing) and ``--regressions`` as writable absolute folders."""
    p = parser(description)
    args = p.parse_args(argv)
    if args.worker:
        return args
    folders = [("--out", "out")] + ([] if args.no_save else [("--regressions", "regressions")])
    for option, name in folders:  # both checked before either is made
        path = os.path.abspath(getattr(args, name))
        if os.path.lexists(path) and not os.path.isdir(path):
            p.error(f"{option}: {path} is a file, not a folder")
    for option, name in folders:
        setattr(args, name, _folder(p, option, getattr(args, name)))
    code = os.path.join(args.out, "code")
    if args.snapshot and os.path.lexists(code) and not os.path.isfile(os.path.join(code, SNAPSHOT_MARK)):
        p.error(f"--snapshot: {code} exists and this script did not make it (no {SNAPSHOT_MARK} in it), so it is "
                "left alone: give another --out, or remove that folder")
    return args


def _folder(p: argparse.ArgumentParser, option: str, path: str) -> str:
    """``path`` made absolute, as a folder that exists (made here if missing) and takes new files."""
    path = os.path.abspath(path)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as err:
        p.error(f"{option}: cannot create {path}: {err.strerror or err}")
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as err:
        p.error(f"{option}: cannot write in {path}: {err.strerror or err}")
    return path


def clear_report(out: str) -> None:
    """Remove what an earlier run left in ``out`` that this one would not overwrite (its summary, torch's
    log, its minimised cases), so an interrupted run never shows an earlier run's figures. Other files
    stay."""
    for name in REPORT_FILES:
        if os.path.isfile(os.path.join(out, name)):
            os.remove(os.path.join(out, name))
    folder = os.path.join(out, "minimised")
    if not os.path.isdir(folder):
        return
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        if MINIMISED.fullmatch(name) and os.path.isfile(path) and not os.path.islink(path):
            with open(path, encoding="utf-8", errors="replace") as fh:
                ours = fh.read(len(PREFIX)) == PREFIX
            if ours:
                os.remove(path)


def take_snapshot(root: str, out: str) -> str:
    """Copy ``root/vibench`` to ``out/code`` (replacing a snapshot this script made there); the folder."""
    code = os.path.join(out, "code")
    if os.path.lexists(code):
        if not os.path.isfile(os.path.join(code, SNAPSHOT_MARK)):  # parse() refused it: checked again before rmtree
            raise FileExistsError(f"{code} was not made by scripts/fuzz.py --snapshot")
        shutil.rmtree(code)
    os.makedirs(code)
    with open(os.path.join(code, SNAPSHOT_MARK), "w") as fh:  # first: an interrupted copy is still ours
        fh.write("made by scripts/fuzz.py --snapshot; replaced by its next run\n")
    shutil.copytree(os.path.join(root, "vibench"), os.path.join(code, "vibench"),
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return code
