"""The standing differential campaign (`make fuzz`): mutated shipped specs and generated valid specs.

    python scripts/fuzz.py --valid 5000 --mutations 20000 --seed 1 --out build/fuzz

Phases, each reporting what it found:

1. **support** (with ``--valid``): every block of the catalogue alone, a few drawn cases each, through
   ``torch.compile`` / ``torch.export`` / ``torch.jit.script``; the blocks a backend cannot take, and
   why, compared with ``KNOWN_UNSUPPORTED`` in :mod:`vibench.testing.oracles`;
2. **mutations**: M mutants of the shipped specs (``vibench/specs/**``, ``examples/*``), each compiled
   twice in a torch-free worker process (:func:`vibench.testing.oracles.check_static_digest`: a SpecError
   or a program, never another exception; every diagnostic located; the same answer twice; an accepted
   spec's model.py valid and free of injected code), under a CPU-time alarm (``--timeout``), a
   wall-clock watchdog that kills a worker stuck inside C code, and a memory limit (``--memory-mb``); every
   ``--cross-every``-th mutant is also compiled by a second worker with another ``PYTHONHASHSEED``;
3. **valid**: N specs from :func:`vibench.testing.graph_specs` (hypothesis, seeded), each through
   :func:`vibench.testing.check_static` and :func:`vibench.testing.check_runtime` (static vs runtime
   shapes, emit vs build, eager vs compile / export / script);
4. **minimise**: one failing case per signature is shrunk (:func:`vibench.testing.minimise`) and saved
   as a regression spec under ``--regressions`` (default ``tests/regressions``), which
   ``tests/test_regressions.py`` replays.

Figures (cases, verdicts, findings by kind, throughput) are printed and written to ``OUT/summary.json``
(before minimising too, and the figures so far on Ctrl-C), every finding to ``OUT/findings.jsonl``,
minimised cases to ``OUT/minimised/``; a run first removes those an earlier run left in OUT. Exit status
1 when anything but a known-unsupported backend failure was found, 2 for a bad option value (checked
before anything runs: :mod:`scripts.fuzz_options`), 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import selectors
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Where `vibench` is imported from: the checkout, or a snapshot of it (--snapshot) so that a long campaign
# and its worker processes run one version of the code while the tree keeps changing.
CODE = os.environ.get("VIBENCH_FUZZ_CODE", ROOT)
if CODE not in sys.path:  # `python scripts/fuzz.py` puts only scripts/ on the path
    sys.path.insert(0, CODE)
if ROOT not in sys.path:  # for scripts.fuzz_options; after CODE, which vibench is still imported from
    sys.path.append(ROOT)

from scripts.fuzz_options import clear_report, parse, take_snapshot  # noqa: E402
from vibench.testing import Finding, minimise  # noqa: E402
from vibench.testing import regressions as saved  # noqa: E402

STATIC_FAILURES = ("uncaught-exception", "crash", "hang", "nondeterminism", "no-position", "bad-source",
                   "code-injection")


@dataclass
class Example:
    """The first case of a signature: what it takes to replay and minimise it."""

    finding: Finding
    check: str  # "static" | "runtime"
    text: str
    case: str  # where it came from: "mutation 123 of examples/x.yaml (operators)", "valid 45"
    path: str | None = None
    origin: str = ""  # the shipped spec a mutant came from, as shown (vibench/specs/..., examples/...)
    params: dict[str, Any] | None = None
    inputs: tuple = ()


@dataclass
class Report:
    counts: Counter = field(default_factory=Counter)  # cases and verdicts per phase
    kinds: Counter = field(default_factory=Counter)  # findings by kind
    signatures: Counter = field(default_factory=Counter)
    examples: dict[str, Example] = field(default_factory=dict)
    known: Counter = field(default_factory=Counter)  # "backend: block" -> failures explained by KNOWN_UNSUPPORTED
    blocks: Counter = field(default_factory=Counter)
    features: Counter = field(default_factory=Counter)
    seconds: Counter = field(default_factory=Counter)
    support: dict[str, dict[str, str]] = field(default_factory=dict)
    saved: list[str] = field(default_factory=list)

    def add(self, finding: Finding, example: Example, log: Any) -> None:
        self.kinds[finding.kind] += 1
        self.signatures[finding.signature] += 1
        self.examples.setdefault(finding.signature, example)
        log.write(json.dumps({**finding.to_json(), "case": example.case}) + "\n")
        log.flush()


# --------------------------------------------------------------------------------------------
# the torch-free worker
# --------------------------------------------------------------------------------------------


def worker_main(timeout: float, memory_mb: int) -> int:
    """Answer one JSON request per line on stdin: a spec to check statically."""
    import resource

    from vibench.testing.oracles import check_static_digest

    if memory_mb:
        limit = memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    reply = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # whatever else prints goes to the log, not into the replies
    for line in sys.stdin:
        request = json.loads(line)
        start, cpu = time.perf_counter(), time.process_time()
        inputs = {k: tuple(v) for k, v in request["inputs"].items()} if request.get("inputs") else None
        verdict, digest, findings = check_static_digest(request["text"], request.get("path"), request.get("params"),
                                                        inputs=inputs, timeout=timeout)
        reply.write(json.dumps({"verdict": verdict, "digest": digest, "findings": [f.to_json() for f in findings],
                                "seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu,
                                "compiles": 1 if verdict == "crash" else 2}) + "\n")
        reply.flush()
    return 0


class Worker:
    """A worker process with a watchdog: no answer within the limit kills it, and it is restarted."""

    def __init__(self, timeout: float, memory_mb: int, hashseed: int, log: Any) -> None:
        self.timeout, self.memory_mb, self.hashseed, self.log = timeout, memory_mb, hashseed, log
        self.proc: subprocess.Popen | None = None
        self.restarts = 0

    def _start(self) -> subprocess.Popen:
        env = dict(os.environ, PYTHONHASHSEED=str(self.hashseed))
        command = [sys.executable, os.path.abspath(__file__), "--worker", "--timeout", str(self.timeout),
                   "--memory-mb", str(self.memory_mb)]
        return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                text=True, encoding="utf-8", errors="surrogatepass", env=env, cwd=ROOT)

    def check(self, text: str, path: str | None, params: dict[str, Any] | None,
              inputs: dict[str, tuple[int, ...]] | None = None) -> dict[str, Any]:
        first = self.proc is None
        if self.proc is None:
            self.proc = self._start()
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(json.dumps({"text": text, "path": path, "params": params, "inputs": inputs}) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return self._died()
        limit = 6 * self.timeout + (60 if first else 30)  # wall-clock: the machine may be loaded
        with selectors.DefaultSelector() as selector:
            selector.register(self.proc.stdout, selectors.EVENT_READ)
            if not selector.select(limit):
                self._kill()
                return {"verdict": "crash", "digest": "", "seconds": limit, "compiles": 1, "findings": [
                    Finding("hang", f"no answer within {limit:.0f} s (killed by the watchdog)", "hang:watchdog")
                    .to_json()]}
        line = self.proc.stdout.readline()
        if not line:
            return self._died()
        return json.loads(line)

    def _died(self) -> dict[str, Any]:
        assert self.proc is not None
        code = self.proc.wait()
        self.proc = None
        self.restarts += 1
        what = f"signal {-code}" if code < 0 else f"exit status {code}"
        return {"verdict": "crash", "digest": "", "seconds": 0.0, "compiles": 1, "findings": [
            Finding("crash", f"the compiling process died ({what})", f"crash:{what}").to_json()]}

    def _kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            self.restarts += 1

    def close(self) -> None:
        if self.proc is not None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None


def _findings(reply: dict[str, Any]) -> list[Finding]:
    return [Finding(**f) for f in reply["findings"]]


# --------------------------------------------------------------------------------------------
# phases
# --------------------------------------------------------------------------------------------


def run_mutations(args: argparse.Namespace, report: Report, workers: list[Worker], log: Any) -> None:
    from vibench.testing import mutate, shipped_specs

    sources = shipped_specs(ROOT)
    texts = {}
    for _, path in sources:
        with open(path, encoding="utf-8") as fh:
            texts[path] = fh.read()
    start = time.perf_counter()
    for i in range(args.mutations):
        rng = random.Random(f"{args.seed}:{i}")
        shown, path = rng.choice(sources)
        mutant = mutate(texts[path], rng, shown, path)
        restarts = workers[0].restarts
        reply = workers[0].check(mutant.text, mutant.path, mutant.params)
        if workers[0].restarts != restarts:
            workers[1].close()  # both must run the same code (the tree may have changed since they started)
        report.counts[f"mutations {reply['verdict']}"] += 1
        report.seconds["static checks"] += reply["seconds"]
        report.seconds["static checks cpu"] += reply.get("cpu", reply["seconds"])
        report.counts["static checks"] += reply["compiles"]
        report.counts["static checks in workers"] += reply["compiles"]
        findings = _findings(reply)
        if args.cross_every and i % args.cross_every == 0 and reply["verdict"] != "crash":
            restarts = workers[1].restarts
            other = workers[1].check(mutant.text, mutant.path, mutant.params)
            if workers[1].restarts != restarts:
                workers[0].close()
            report.counts["mutations cross-checked"] += 1
            if other["verdict"] != "crash" and other["digest"] != reply["digest"]:
                findings.append(Finding("nondeterminism", "another PYTHONHASHSEED gives another answer",
                                        "nondeterminism:hashseed"))
        case = f"mutation {i} of {shown} ({'; '.join(mutant.operators)})"[:400]
        for finding in findings:
            report.add(finding, Example(finding, "static", mutant.text, case, mutant.path, origin=mutant.origin,
                                        params=mutant.params), log)
        if (i + 1) % args.progress == 0 or i + 1 == args.mutations:
            rate = (i + 1) / (time.perf_counter() - start)
            print(f"  mutations {i + 1}/{args.mutations}  {rate:.1f}/s  findings {sum(report.kinds.values())}",
                  flush=True)
        # after each mutant: an interrupted run's summary has the figures so far
        report.counts["mutations total"] = i + 1
        report.seconds["mutations"] = time.perf_counter() - start


@contextlib.contextmanager
def _stderr_to(path: str) -> Iterator[None]:
    """torch prints graphs and warnings on stderr when a backend fails: keep them in a log file."""
    sys.stderr.flush()
    saved_fd = os.dup(2)
    with open(path, "a") as fh:
        os.dup2(fh.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved_fd, 2)
            os.close(saved_fd)


def _forget_models() -> None:
    """Drop the modules build() keeps per model (thousands of models would otherwise pile up)."""
    import linecache

    for name in [m for m in sys.modules if m.startswith(("vibench_generated_", "vibench_fuzz_", "vibench.models.m_"))]:
        del sys.modules[name]
    for key in [k for k in linecache.cache if k.startswith("<vibench:")]:
        del linecache.cache[key]
    with contextlib.suppress(ImportError):
        from vibench.runtime import cache

        getattr(cache, "_memory", {}).clear()


def run_support(args: argparse.Namespace, report: Report) -> None:
    """Every block alone through every backend: which ones cannot, and why."""
    from hypothesis import HealthCheck, Phase, given, seed, settings

    from vibench.compiler import registry
    from vibench.testing import block_cases, check_runtime, compile_case
    from vibench.testing.oracles import KNOWN_CONDITIONS, KNOWN_UNSUPPORTED

    def block_support(name: str) -> dict[str, str]:
        failures: dict[str, str] = {}

        @seed(args.seed)
        @settings(max_examples=args.support, database=None, deadline=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(block_cases(name))
        def one(case: Any) -> None:
            case, _ = compile_case(case)
            for finding in check_runtime(case.text, case.inputs, backends=args.backends, timeout=120):
                backend, _, what = finding.kind.partition("-")
                if what == "failure":
                    failures.setdefault(backend, finding.message)
                elif backend not in args.backends or what != "mismatch":
                    failures.setdefault("eager", f"{finding.kind}: {finding.message}")

        try:
            one()
        except Exception as err:  # noqa: BLE001 - e.g. no valid case could be drawn
            failures.setdefault("drawing", f"{type(err).__name__}: {err}"[:200])
        _forget_models()
        return failures

    start = time.perf_counter()
    for name in registry.all_blocks():
        report.support[name] = block_support(name)
    report.seconds["support"] = time.perf_counter() - start
    print("  blocks a backend cannot take (alone):")
    for backend in args.backends:
        failing = {n: f[backend] for n, f in report.support.items() if backend in f}
        listed = KNOWN_UNSUPPORTED.get(backend, {})
        print(f"    {backend}: {len(failing)} blocks: {', '.join(sorted(failing)) or '-'}")
        for name in sorted(set(failing) - set(listed)):
            print(f"      not in KNOWN_UNSUPPORTED: {name}: {failing[name][:160]}")
        for name in sorted(set(listed) - set(failing)):
            condition = KNOWN_CONDITIONS.get((backend, name))
            if condition:  # listed only for some parameter values, which the drawn cases may not hold
                needs = ", ".join(f"{k}={v!r}" for k, v in condition.items())
                print(f"      listed for {needs} only, passed here: {name} (no drawn case failed)")
            else:
                print(f"      listed but passed here: {name}")


def run_valid(args: argparse.Namespace, report: Report, log: Any) -> None:
    from hypothesis import HealthCheck, Phase, given, seed, settings

    from vibench.testing import GraphCase, check_runtime, check_static, graph_specs
    from vibench.testing.regressions import known_unsupported, unsupported_nodes

    start = time.perf_counter()
    done = [0]

    @seed(args.seed)
    @settings(max_examples=args.valid, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(graph_specs(max_nodes=args.max_nodes))
    def one(case: GraphCase) -> None:
        try:
            check(case)
        except Exception as err:  # noqa: BLE001 - a bug of this harness must not end the campaign
            name = type(err).__name__
            finding = Finding("harness-error", f"{name}: {err}"[:300], f"harness-error:{name}")
            report.add(finding, Example(finding, "runtime", case.text, f"valid {done[0]}", inputs=case.inputs), log)

    def check(case: GraphCase) -> None:
        k = done[0]
        done[0] += 1
        label = f"valid {k}"
        report.blocks.update(case.blocks)
        report.features.update(case.features)
        for text, message in case.crashes:
            finding = Finding("uncaught-exception", message, f"uncaught-exception:generation:{message[:60]}")
            report.add(finding, Example(finding, "static", text, f"{label} (while growing)"), log)
        t0, cpu = time.perf_counter(), time.process_time()
        verdict, findings = check_static(case.text, inputs=case.bindings, timeout=args.timeout)
        report.seconds["static checks"] += time.perf_counter() - t0
        report.seconds["static checks cpu"] += time.process_time() - cpu
        report.counts["static checks"] += 2
        for finding in findings:
            report.add(finding, Example(finding, "static", case.text, label, inputs=case.inputs), log)
        t0 = time.perf_counter()
        for finding in check_runtime(case.text, case.inputs, backends=args.backends, timeout=args.runtime_timeout):
            if known_unsupported(finding, case.text):
                backend = finding.kind.partition("-")[0]
                for block in sorted(set(unsupported_nodes(backend, case.text))):
                    report.known[f"{backend}: {block}"] += 1
                report.kinds[f"{finding.kind} (known unsupported)"] += 1
                continue
            report.add(finding, Example(finding, "runtime", case.text, label, inputs=case.inputs), log)
        report.seconds["runtime checks"] += time.perf_counter() - t0
        _forget_models()
        if done[0] % args.progress_valid == 0:
            import resource

            rate = done[0] / (time.perf_counter() - start)
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
            print(f"  valid {done[0]}/{args.valid}  {rate:.2f}/s  findings {sum(report.kinds.values())}  "
                  f"max RSS {rss} MB", flush=True)

    try:
        one()
    finally:  # an interrupted run's summary has the figures so far
        report.counts["valid"] = done[0]
        report.seconds["valid"] = time.perf_counter() - start


def _declared(text: str, inputs: tuple) -> tuple:
    """The ``inputs`` that spec ``text`` still declares (a minimised spec may have dropped some)."""
    import yaml

    try:
        declared = (yaml.load(text, Loader=yaml.CSafeLoader) or {}).get("inputs") or {}
    except (yaml.YAMLError, AttributeError):
        return inputs
    return tuple(t for t in inputs if t.name in declared)


def _same(a: Finding, b: Finding) -> bool:
    if a.kind in ("hang", "crash"):
        return b.kind == a.kind
    return a.signature == b.signature


def minimise_and_save(args: argparse.Namespace, report: Report, worker: Worker | None) -> None:
    from vibench.testing import check_runtime
    from vibench.testing.regressions import format_inputs

    existing = set()
    if os.path.isdir(args.regressions):
        for name in os.listdir(args.regressions):
            if name.endswith((".yaml", ".json")):
                existing.add(saved.load(os.path.join(args.regressions, name)).meta.get("signature", ""))
    outdir = os.path.join(args.out, "minimised")
    os.makedirs(outdir, exist_ok=True)
    for count, (signature, example) in enumerate(sorted(report.examples.items())):
        if count >= args.max_minimise:
            print(f"  (minimised the first {args.max_minimise} signatures only)")
            break
        finding = example.finding
        if finding.kind == "harness-error":
            continue  # a bug of this script or of vibench.testing, not of the compiler
        start = time.perf_counter()
        if example.check == "static":
            if worker is None:
                continue
            budget = 25 if finding.kind in ("hang", "crash") else 3 * args.minimise_budget

            def fails(text: str, example: Example = example, finding: Finding = finding) -> bool:
                assert worker is not None
                bindings = {t.name: t.dims for t in example.inputs} or None
                reply = worker.check(text, example.path, example.params, bindings)
                return any(_same(finding, f) for f in _findings(reply))

            small = minimise(example.text, fails, budget)
            meta = {"check": "static", "kind": finding.kind, "expect": "any",
                    "origin": example.origin,
                    "params": json.dumps(example.params) if example.params else "",
                    "inputs": format_inputs(example.inputs)}
        else:
            backend = finding.kind.partition("-")[0]
            backends = (backend,) if backend in args.backends else ()

            def fails(text: str, example: Example = example, finding: Finding = finding,
                      backends: tuple[str, ...] = backends) -> bool:
                found = check_runtime(text, _declared(text, example.inputs), backends=backends,
                                      timeout=args.runtime_timeout)
                _forget_models()
                return any(_same(finding, f) for f in found)

            with _stderr_to(os.path.join(args.out, "torch-stderr.log")):
                small = minimise(example.text, fails, args.minimise_budget)
            meta = {"check": "runtime", "kind": finding.kind, "expect": "ok",
                    "inputs": format_inputs(_declared(small, example.inputs)), "backends": ",".join(backends)}
        meta.update({"status": "open", "signature": signature, "note": finding.message[:300],
                     "found": f"scripts/fuzz.py --seed {args.seed}: {example.case}"[:300]})
        meta = {k: v for k, v in meta.items() if v != ""}
        path = saved.save(outdir, small, meta)
        print(f"  minimised {signature[:90]}: {len(example.text)} -> {len(small)} chars "
              f"({time.perf_counter() - start:.0f} s) {_shown(path)}", flush=True)
        if not args.no_save and signature not in existing:
            report.saved.append(_shown(saved.save(args.regressions, small, meta)))
            existing.add(signature)


def _shown(path: str) -> str:
    """``path`` relative to the checkout when inside it (tests/regressions/...), else whole."""
    inside = os.path.commonpath([ROOT, os.path.abspath(path)]) == ROOT
    return os.path.relpath(path, ROOT) if inside else os.path.abspath(path)


# --------------------------------------------------------------------------------------------
# figures
# --------------------------------------------------------------------------------------------


def summary(args: argparse.Namespace, report: Report) -> dict[str, Any]:
    from vibench.compiler import registry

    checks, seconds = report.counts["static checks"], report.seconds["static checks"]
    cpu = report.seconds["static checks cpu"]
    catalogue = set(registry.all_blocks())
    return {
        "seed": args.seed,
        "mutations": {k.removeprefix("mutations "): v for k, v in report.counts.items() if k.startswith("mutations")},
        "valid": report.counts["valid"],
        "static_checks": checks,
        "static_checks_in_workers": report.counts["static checks in workers"],  # the rest: valid specs, here
        "static_checks_per_second": round(checks / seconds, 1) if seconds else None,
        "static_checks_per_cpu_second": round(checks / cpu, 1) if cpu else None,
        "seconds": {k: round(v, 1) for k, v in report.seconds.items()},
        "findings_by_kind": dict(report.kinds),
        "signatures": dict(report.signatures),
        "known_unsupported": dict(report.known),
        "blocks_covered": len(catalogue & set(report.blocks)),
        "blocks_in_catalogue": len(catalogue),
        "blocks_not_covered": sorted(catalogue - set(report.blocks)),
        "block_uses": dict(report.blocks.most_common()),
        "features": dict(report.features.most_common()),
        "support": {name: f for name, f in report.support.items() if f},
        "saved_regressions": report.saved,
    }


def print_summary(data: dict[str, Any]) -> None:
    kinds = data["findings_by_kind"]
    print(f"\n== fuzz figures (seed {data['seed']}) ==")
    m = data["mutations"]
    if m:
        rate = m.get("total", 0) / data["seconds"]["mutations"] if data["seconds"].get("mutations") else 0
        print(f"mutated specs: {m.get('total', 0)} (ok {m.get('ok', 0)}, spec errors {m.get('error', 0)}, "
              f"crashed {m.get('crash', 0)}; {m.get('cross-checked', 0)} also in a second process) "
              f"in {data['seconds'].get('mutations', 0):.0f} s = {rate:.1f} mutants/s")
    if data["valid"]:
        print(f"valid specs: {data['valid']} in {data['seconds'].get('valid', 0):.0f} s; blocks covered "
              f"{data['blocks_covered']}/{data['blocks_in_catalogue']}"
              + (f" (not: {', '.join(data['blocks_not_covered'])})" if data["blocks_not_covered"] else ""))
        print("  features: " + ", ".join(f"{k} {v}" for k, v in data["features"].items()))
    # Where they ran: the mutants' compiles in the worker processes, the valid specs' in this one.
    workers = data["static_checks_in_workers"]
    print(f"static checks: {data['static_checks']} ({workers} in worker processes, "
          f"{data['static_checks'] - workers} in this process) at {data['static_checks_per_second']} checks/s "
          f"wall-clock, {data['static_checks_per_cpu_second']} per CPU second")
    groups = [("uncaught exceptions", ("uncaught-exception", "crash")), ("hangs", ("hang",)),
              ("nondeterminism", ("nondeterminism",)), ("diagnostics without a position", ("no-position",)),
              ("bad emitted source", ("bad-source",)), ("code injections", ("code-injection",)),
              ("static/runtime mismatches", ("shape-mismatch", "dtype-mismatch", "param-count-mismatch")),
              ("emit/build mismatches", ("emit-build-mismatch", "emit-failure")),
              ("valid specs refused or failing", ("rejected", "build-failure", "runtime-failure")),
              ("compile/export/script mismatches", ("compile-mismatch", "export-mismatch", "script-mismatch")),
              ("compile/export/script failures (new)", ("compile-failure", "export-failure", "script-failure")),
              ("errors of the harness itself", ("harness-error",))]
    for title, members in groups:
        print(f"  {title}: {sum(kinds.get(k, 0) for k in members)}"
              + "".join(f"  [{k} {kinds[k]}]" for k in members if kinds.get(k)))
    known = {k: v for k, v in kinds.items() if k.endswith("(known unsupported)")}
    if known:
        print("  backend failures explained by KNOWN_UNSUPPORTED: " + ", ".join(f"{k} {v}" for k, v in known.items()))
    if data["signatures"]:
        print("signatures:")
        for sig, n in sorted(data["signatures"].items(), key=lambda kv: -kv[1]):
            print(f"  {n:6d}  {sig[:150]}")
    if data["saved_regressions"]:
        print("saved regressions: " + ", ".join(data["saved_regressions"]))


def _run_on_snapshot(out: str, argv: list[str], regressions: str) -> int:
    """Copy vibench/ to OUT/code and run this campaign there (in a child process, same arguments).

    The child runs in the checkout, so it gets the report and regression folders as absolute paths
    (given last, they override relative ones). It gets a Ctrl-C from the terminal as this process does,
    says where its partial findings are and ends: this process waits for it.
    """
    code = take_snapshot(ROOT, out)
    env = dict(os.environ, VIBENCH_FUZZ_CODE=code)
    child = subprocess.Popen([sys.executable, os.path.abspath(__file__), *argv, "--out", out,
                              "--regressions", regressions], env=env, cwd=ROOT)
    while True:
        try:
            return child.wait()
        except KeyboardInterrupt:
            continue


def _write_summary(args: argparse.Namespace, report: Report, **extra: Any) -> dict[str, Any]:
    data = {**summary(args, report), **extra}
    with open(os.path.join(args.out, "summary.json"), "w") as fh:
        json.dump(data, fh, indent=1, sort_keys=True, default=str)
    return data


def main(argv: list[str] | None = None) -> int:
    args = parse(__doc__.split("\n\n")[0], argv)
    if args.worker:
        return worker_main(args.timeout, args.memory_mb)
    if args.snapshot and "VIBENCH_FUZZ_CODE" not in os.environ:
        return _run_on_snapshot(args.out, argv if argv is not None else sys.argv[1:], args.regressions)
    clear_report(args.out)
    import vibench

    print(f"vibench from {os.path.dirname(os.path.abspath(vibench.__file__))}", flush=True)
    os.environ["VIBENCH_CACHE"] = "0"  # thousands of one-off models: keep build()'s cache in memory only
    report = Report()
    log_path = os.path.join(args.out, "findings.jsonl")
    try:
        with open(log_path, "w") as log, open(os.path.join(args.out, "worker-stderr.log"), "w") as worker_log:
            workers = [Worker(args.timeout, args.memory_mb, hashseed, worker_log) for hashseed in (1, 2)]
            try:
                campaign(args, report, workers, log)
            finally:
                for worker in workers:
                    worker.close()
    except KeyboardInterrupt:
        _write_summary(args, report, interrupted=True)
        print(f"\ninterrupted: the findings so far are in {log_path}, their figures in "
              f"{os.path.join(args.out, 'summary.json')}", file=sys.stderr)
        return 130
    data = _write_summary(args, report)
    print_summary(data)
    return 1 if report.signatures else 0


def campaign(args: argparse.Namespace, report: Report, workers: list[Worker], log: Any) -> None:
    """The phases, then the minimising of what they found (its figures are written before: minimising
    is the long end of a run, which a failure or a Ctrl-C may cut)."""
    if args.valid and args.support:
        print(f"support: every block alone through {', '.join(args.backends)}", flush=True)
        import torch

        torch.set_num_threads(1)
        with _stderr_to(os.path.join(args.out, "torch-stderr.log")):
            run_support(args, report)
    if args.mutations:
        print(f"mutations: {args.mutations} mutants of the shipped specs", flush=True)
        run_mutations(args, report, workers, log)
    if args.valid:
        import torch

        torch.set_num_threads(1)
        print(f"valid: {args.valid} generated specs", flush=True)
        with _stderr_to(os.path.join(args.out, "torch-stderr.log")):
            run_valid(args, report, log)
    if report.examples:
        _write_summary(args, report)
        print(f"minimise: {len(report.examples)} signatures", flush=True)
        minimise_and_save(args, report, workers[0])


if __name__ == "__main__":
    raise SystemExit(main())
