"""Cold start-up of the compiler against `import torch`, measured in the same run.

    python benchmarks/startup.py [--runs N] [--spec examples/resnet18_1d.yaml]

Targets: a cold `vibench-compile --check` at most 0.25x the time of `python -c "import torch"`
both with bytecode and on a fresh checkout's first run (issue #10); `-o model.py` at most 0.30x
with bytecode (issue #2; its first-run figure is printed without a target).

* with bytecode: vibench byte-compiled, as `pip install` and `make env` leave it;
* a fresh checkout's first run: no `.pyc` of vibench's own modules (they are removed before each
  such run and PYTHONDONTWRITEBYTECODE=1 keeps Python from writing them), the dependencies as
  installed (with their bytecode).

Every command is a fresh process of the real console script (`.venv/bin/vibench-compile`, next to
the interpreter), timed from outside; medians over N rounds, the commands interleaved within each
round so that machine load hits all of them alike. The load average is printed with the figures.
Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "vibench")
TARGETS = {"--check (no .pyc)": 0.25, "--check (bytecode)": 0.25, "-o (bytecode)": 0.30}


def console_script() -> str:
    script = os.path.join(os.path.dirname(sys.executable), "vibench-compile")
    if not os.path.exists(script):
        script = shutil.which("vibench-compile") or ""
    if not script:
        sys.exit("vibench-compile is not installed next to this interpreter; run `make env`")
    return script


def drop_bytecode() -> None:
    for folder, dirs, _ in os.walk(PACKAGE):
        if "__pycache__" in dirs:
            shutil.rmtree(os.path.join(folder, "__pycache__"), ignore_errors=True)
            dirs.remove("__pycache__")


def timed(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - started


def measure(compiler: dict[str, list[str]], baseline: dict[str, list[str]], runs: int,
            env: dict[str, str]) -> dict[str, list[float]]:
    """Seconds of each command over ``runs`` rounds; vibench's bytecode is restored however it ends."""
    times: dict[str, list[float]] = {}
    try:
        for _ in range(runs):
            for name, cmd in compiler.items():  # a fresh checkout's first run: no bytecode of vibench
                drop_bytecode()
                times.setdefault(f"{name} (no .pyc)", []).append(timed(cmd, env))
            compileall.compile_dir(PACKAGE, quiet=1)
            for name, cmd in baseline.items():
                times.setdefault(name, []).append(timed(cmd, env))
                if name == "python -c pass":
                    for cname, ccmd in compiler.items():
                        times.setdefault(f"{cname} (bytecode)", []).append(timed(ccmd, env))
    finally:
        compileall.compile_dir(PACKAGE, quiet=1)
    return times


def main() -> int:
    from vibench.compiler.cli_args import _positive

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=_positive, default=11,
                        help="rounds of every command; medians are reported (default: 11)")
    parser.add_argument("--spec", default=None,
                        help="spec file (a path from the current folder) or a library template such as "
                        "cnn/ResNet1D (default: examples/resnet18_1d.yaml of the checkout)")
    args = parser.parse_args()
    if args.spec is None:
        spec = os.path.join(ROOT, "examples", "resnet18_1d.yaml")
    else:  # the commands run in the checkout: a path from the caller's folder is made absolute
        spec = os.path.abspath(args.spec) if os.path.exists(args.spec) else args.spec
    script = console_script()
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "VIBENCH_CACHE": "0"}
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "model.py")
        baseline = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "import torch": [sys.executable, "-c", "import torch"],
        }
        compiler = {
            "--check": [script, spec, "--check"],
            "-o": [script, spec, "-o", out],
        }
        load_before = os.getloadavg()
        try:
            # Once with vibench's bytecode in place: a spec that does not compile stops here, before a .pyc goes.
            for cmd in compiler.values():
                timed(cmd, env)
            times = measure(compiler, baseline, args.runs, env)
        except subprocess.CalledProcessError as err:
            print(f"startup: `{' '.join(err.cmd)}` failed (exit {err.returncode}); nothing was timed", file=sys.stderr)
            return 1
        load_after = os.getloadavg()
    med = {k: statistics.median(v) for k, v in times.items()}
    torch_time = med["import torch"]
    print(f"console script: {script}; {args.runs} rounds; load average {load_before[0]:.2f} before, "
          f"{load_after[0]:.2f} after ({os.cpu_count()} CPUs)")
    print(f"{'command':<28} {'median s':>9} {'min s':>7} {'x import torch':>15} {'target':>7}")
    missed = []
    for name, value in med.items():
        target = TARGETS.get(name)
        ratio = value / torch_time
        mark = "" if target is None else f"<= {target:.2f}" + ("" if ratio <= target else "  MISSED")
        if target is not None and ratio > target:
            missed.append(name)
        print(f"{name:<28} {value:9.3f} {min(times[name]):7.3f} {ratio:15.3f} {mark:>7}")
    summary = ", ".join(f"{name} {med[name] / torch_time:.3f}x" for name in med if name not in baseline)
    print(f"\ncold start against `import torch`: {summary}")
    print("targets missed: " + (", ".join(missed) if missed else "none"))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
