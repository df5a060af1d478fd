"""The runtime oracle of the differential campaign (see :mod:`vibench.testing.oracles`).

:func:`check_runtime` (torch) — for a valid spec and concrete inputs: the static output shapes, dtypes
and parameter count equal those of a real forward pass; the emitted file imported from disk and
:func:`vibench.build` agree; eager outputs agree with ``torch.compile``, ``torch.export`` and
``torch.jit.script`` within a tolerance. Moved out of ``oracles.py``; its inputs are checked and drawn
by :mod:`vibench.testing.runtime_inputs`.
"""

from __future__ import annotations

import contextlib
import os
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from vibench.testing.oracles import (
    BACKENDS,
    Finding,
    Timeout,
    _crash,
    _one_line,
    _where,
    check_arguments,
    check_runtime_options,
    time_limit,
)
from vibench.testing.runtime_inputs import (
    MAX_ELEMENTS,  # noqa: F401 - documented here before the inputs moved out
    cases_of,
    check_cases,
    check_elements,
    check_refused_inputs,
    ordered,
    sizes_of,
)
from vibench.testing.specs import TensorCase

if TYPE_CHECKING:
    import torch

def check_runtime(text: str, inputs: Sequence[TensorCase] | Mapping[str, Sequence[int]], *,
                  backends: tuple[str, ...] = BACKENDS, timeout: float | None = 300.0, rtol: float = 1e-4,
                  atol: float = 1e-5, workdir: str | None = None) -> list[Finding]:
    """Run a valid spec through every oracle; return the findings (empty: all agree). ``workdir``
    receives the emitted file (default: a temporary folder).

    ``inputs`` gives every input the model takes, in any order (they are passed by the spec's
    declaration): :class:`~vibench.testing.TensorCase` values (name, sizes, dtype, ``fill``), or a
    dict of input name -> sizes as :func:`vibench.check` takes it (each input then random in its
    declared dtype); an integer input that routes samples to per-system heads (a ``system_id`` port)
    holds ids those heads serve, unless its TensorCase gives a ``fill``. ``backends`` names some of
    :data:`~vibench.testing.oracles.BACKENDS` (a tuple: ``("script",)``; ``()`` for none). A caller's
    mistake is a TypeError or ValueError, not a finding: ``inputs`` or ``backends`` of another kind, an
    unknown backend, a ``timeout`` that is not positive (None: no limit), an input of the model left out
    or one it does not take, sizes of another rank than the input's declared shape or another value of
    a fixed size, two sizes for one symbol, a TensorCase dtype that is no dtype name or not the input's
    declared dtype, a ``fill`` that dtype cannot hold (1.5 or NaN for int64), ``rtol`` or ``atol`` below
    0, a ``workdir`` that is no writable folder. A forward that returns no tensor for an output, or
    another count of values than the spec's outputs, is a ``shape-mismatch`` finding.

    >>> spec = ("vibench: 1\\nname: M\\ninputs: {x: {shape: [B, 4]}}\\n"
    ...         "nodes: {fc: {block: linear, in: x, out_features: 2}}\\noutputs: {y: fc}\\n")
    >>> check_runtime(spec, {"x": (2, 4)}, backends=())
    []
    """
    import tempfile

    cases = cases_of(inputs)
    check_cases(cases)
    check_arguments(text, inputs=sizes_of(inputs, cases), timeout=timeout)
    check_elements(sizes_of(inputs, cases))
    backends = _backends(backends)
    workdir = check_runtime_options(cases, rtol, atol, workdir)
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="vibench-fuzz-"))
        try:
            with time_limit(timeout):
                return _runtime(text, sizes_of(inputs, cases), cases, backends, rtol, atol, workdir)
        except Timeout as err:
            where = _where(err)
            return [Finding("hang", f"no answer within {timeout} s of CPU time (at {where})", f"hang:{where}")]
    return []  # pragma: no cover - ExitStack does not swallow


def _backends(backends: Any) -> tuple[str, ...]:
    """``backends`` as a tuple of names of :data:`BACKENDS`: TypeError for a str (``"script"``: write
    ``("script",)``) or a value of another kind, ValueError for an unknown name."""
    from vibench.compiler.diagnostics import one_of, suggest

    if isinstance(backends, (str, bytes)) or not isinstance(backends, (tuple, list)):
        hint = f": write ({backends!r:.40},)" if isinstance(backends, str) else ""
        raise TypeError(f"backends is a tuple of backend names such as {BACKENDS}, not a "
                        f"{type(backends).__name__}{hint}")
    for name in backends:
        if not isinstance(name, str):
            raise TypeError(f"backends: a backend name is a str, not {type(name).__name__} ({name!r:.40})")
        if name not in _BACKEND_RUNS:
            meant = suggest(name, BACKENDS)
            raise ValueError(f"backends: unknown backend {name!r:.60}; the backends are {one_of(BACKENDS)}"
                             + (f": {meant}" if meant else ""))
    return tuple(backends)


def _runtime(text: str, bindings: dict[str, tuple[int, ...]], cases: tuple[TensorCase, ...] | None,
             backends: tuple[str, ...], rtol: float, atol: float, workdir: str) -> list[Finding]:
    import torch

    import vibench
    from vibench.compiler.diagnostics import SpecError
    from vibench.compiler.symbolic import evaluate
    from vibench.testing.blocks import random_inputs

    try:
        result = vibench.compile_spec(text=text, inputs=bindings)
    except SpecError as err:
        check_refused_inputs(text, bindings, err)
        said = (f"the spec is refused: {err.codes} (check_runtime takes a spec the compiler accepts: compile a "
                "drawn case with compile_case first, which rejects the ones it refuses)")
        return [Finding("rejected", said, f"rejected:{','.join(err.codes)}")]
    except Exception as err:  # noqa: BLE001
        return [_crash("uncaught-exception", err)]
    program = result.program
    drawn_as = ordered(cases, bindings, program)  # the caller's mistakes, before anything is built
    try:
        with warnings.catch_warnings():  # the spec's warnings are not failures, also under `-W error`
            warnings.simplefilter("ignore", vibench.SpecWarning)
            model = vibench.build(text=text, inputs=bindings).eval()
    except Exception as err:  # noqa: BLE001
        return [_crash("build-failure", err)]
    try:
        emitted = _import_emitted(result.source, program.root.name, workdir).eval()
    except Exception as err:  # noqa: BLE001
        return [_crash("emit-failure", err)]

    findings: list[Finding] = []
    names = [name for name, _, _ in program.root.outputs]
    xs = random_inputs(drawn_as, seed=0)
    try:
        eager = _outputs(model, xs, names)
    except OutputMismatch as err:  # what forward returned fits no declared output: nothing to compare
        return [Finding("shape-mismatch", str(err), "shape-mismatch:count")]
    except Exception as err:  # noqa: BLE001
        return [_crash("runtime-failure", err)]

    env = dict(program.bindings)
    if set(eager) != set(names):
        findings.append(Finding("shape-mismatch", f"outputs {sorted(eager)} vs static {sorted(names)}",
                                "shape-mismatch:names"))
    for name, _, t in program.root.outputs:
        if name not in eager:
            continue
        static = tuple(evaluate(d, env) for d in t.shape)
        got = eager[name]
        if not isinstance(got, torch.Tensor):  # a native that returns a pair or None for one output
            findings.append(Finding("shape-mismatch", f"output {name}: torch returned {_kind(got)}, static {t}",
                                    "shape-mismatch:type"))
            continue
        if tuple(got.shape) != static:
            findings.append(Finding("shape-mismatch", f"output {name}: torch {tuple(got.shape)} vs static {t}",
                                    "shape-mismatch"))
        if str(got.dtype).removeprefix("torch.") != t.dtype:
            findings.append(Finding("dtype-mismatch", f"output {name}: torch {got.dtype} vs static {t.dtype}",
                                    f"dtype-mismatch:{t.dtype}->{got.dtype}"))
    real = sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters())
    if real != program.root.param_count:
        findings.append(Finding("param-count-mismatch", f"torch {real} vs static {program.root.param_count}",
                                "param-count-mismatch"))

    built_state, emitted_state = model.state_dict(), emitted.state_dict()
    shapes = {k: tuple(v.shape) for k, v in built_state.items()}
    if shapes != {k: tuple(v.shape) for k, v in emitted_state.items()}:
        findings.append(Finding("emit-build-mismatch", "state_dict keys or shapes differ", "emit-build-mismatch:state"))
    else:
        try:
            emitted.load_state_dict(built_state)
            other = _outputs(emitted, xs, names)
        except Exception as err:  # noqa: BLE001
            findings.append(_crash("emit-failure", err))
        else:
            problem = _compare(eager, other, 0.0, 0.0)
            if problem:
                findings.append(Finding("emit-build-mismatch", problem, "emit-build-mismatch:outputs"))

    drawn: frozenset[str] | None = None  # the outputs that are random draws (found on a first mismatch)
    for backend in backends:
        try:
            with _quiet():
                out = _BACKEND_RUNS[backend](model, xs, names)
        except Timeout:
            raise
        except Exception as err:  # noqa: BLE001 - recorded: a backend that cannot take this model
            findings.append(Finding(f"{backend}-failure", _one_line(err), f"{backend}-failure:{_reason(err)}"))
            continue
        problem = _compare(eager, out, rtol, atol)
        if problem:
            if drawn is None:
                drawn = _drawn(model, xs, names, eager)
            problem = _compare(eager, out, rtol, atol, drawn)
        if problem:
            findings.append(Finding(f"{backend}-mismatch", problem, f"{backend}-mismatch"))
    return findings


def _import_emitted(source: str, class_name: str, workdir: str) -> torch.nn.Module:
    """Write the emitted source to ``workdir`` and import it as a file, like a user would."""
    import hashlib
    import importlib.util
    import sys

    import torch

    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    module_name = f"vibench_fuzz_{digest}"
    path = os.path.join(workdir, f"{module_name}.py")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(source)
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(module_name, None)
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
        classes = [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, torch.nn.Module)
                   and v.__module__ == module_name]
        cls = classes[-1]
    return cls()


class OutputMismatch(Exception):
    """What a model's forward returned does not fit the outputs the spec declares (a finding)."""


def _kind(value: Any) -> str:
    return "None" if value is None else type(value).__name__


def _as_dict(result: Any, names: list[str]) -> dict[str, Any]:
    """The outputs by name: a dict as it is, one value for one output, else one value per output in
    order; OutputMismatch for another count of values (a surplus one would be silently dropped)."""
    if isinstance(result, dict):
        return dict(result)
    if len(names) == 1:
        return {names[0]: result}
    declared = f"the {len(names)} outputs {', '.join(names)}"
    if not isinstance(result, (tuple, list)):
        raise OutputMismatch(f"forward returned {_kind(result)}, not one value for each of {declared}")
    if len(result) != len(names):
        raise OutputMismatch(f"forward returned {len(result)} values for {declared}")
    return dict(zip(names, result, strict=True))


def _fresh(xs: list[torch.Tensor]) -> list[torch.Tensor]:
    return [x.clone() for x in xs]  # a model that writes into its inputs must not change the next run's


def _outputs(model: Any, xs: list[torch.Tensor], names: list[str], seed: int = 0) -> dict[str, Any]:
    import torch

    torch.manual_seed(seed)  # blocks that sample (at evaluation too) draw the same in every run
    with torch.no_grad():
        return _as_dict(model(*_fresh(xs)), names)


def _drawn(model: Any, xs: list[torch.Tensor], names: list[str], eager: dict[str, Any]) -> frozenset[str]:
    """The outputs that are random draws: those another seed of the global generator changes in eager mode.

    Seeding makes eager runs repeat, but a backend need not consume the generator as eager Python
    does: TorchScript drops random ops whose results nothing reads (a dead `for_each` copy of
    ``hse_patch_sampling``), so a later draw gets other numbers. Only such outputs' shapes and dtypes
    are compared across backends; the emitted file is still compared exactly (same code, same draws).
    """
    other = _outputs(model, xs, names, seed=1)
    return frozenset(name for name, value in eager.items()
                     if name in other and _compare({name: value}, {name: other[name]}, 0.0, 0.0))


def _run_compile(model: Any, xs: list[torch.Tensor], names: list[str]) -> dict[str, Any]:
    import torch

    try:
        return _outputs(torch.compile(model, fullgraph=False, backend="eager"), xs, names)
    finally:
        torch._dynamo.reset()


def _run_export(model: Any, xs: list[torch.Tensor], names: list[str]) -> dict[str, Any]:
    import torch

    program = torch.export.export(model, tuple(_fresh(xs)))
    return _outputs(program.module(), xs, names)


def _run_script(model: Any, xs: list[torch.Tensor], names: list[str]) -> dict[str, Any]:
    import torch

    return _outputs(torch.jit.script(model), xs, names)


_BACKEND_RUNS = {"compile": _run_compile, "export": _run_export, "script": _run_script}


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    import logging
    import warnings

    loggers = [logging.getLogger(n) for n in ("torch._dynamo", "torch._export", "torch.export", "torch.fx")]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels, strict=True):
                lg.setLevel(level)


def _reason(err: BaseException) -> str:
    """The exception type and the first line of its message, with numbers and quoted names blurred."""
    first = (str(err).strip().splitlines() or [""])[0]
    first = re.sub(r"\d+", "N", first)
    first = re.sub(r"'[^']*'|`[^`]*`|\"[^\"]*\"", "'…'", first)
    return f"{type(err).__name__}: {first[:120]}"


def _compare(expected: dict[str, Any], got: dict[str, Any], rtol: float, atol: float,
             drawn: frozenset[str] = frozenset()) -> str | None:
    """None when ``got`` matches ``expected`` (tensors within tolerance, NaN equal to NaN), else why not.
    Of the outputs in ``drawn`` (random draws, see :func:`_drawn`) only shapes and dtypes count. An
    output that is a parameter itself (``learned_table``) requires grad even under ``no_grad``: the
    tensors are detached, so that no conversion to a Python number warns (an error under ``-W error``)."""
    import torch

    if set(expected) != set(got):
        return f"outputs {sorted(got)} vs {sorted(expected)}"
    for name, a in expected.items():
        b = got[name]
        if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
            if type(a) is not type(b):
                return f"{name}: {type(b).__name__} vs {type(a).__name__}"
            continue
        a, b = a.detach(), b.detach()
        if a.shape != b.shape or a.dtype != b.dtype:
            return f"{name}: {tuple(b.shape)} {b.dtype} vs {tuple(a.shape)} {a.dtype}"
        if name in drawn:
            continue
        if a.dtype.is_floating_point or a.dtype.is_complex:
            scale = float(a.abs().nan_to_num(0.0, 0.0, 0.0).max()) if a.numel() else 0.0
            if not torch.allclose(a, b, rtol=rtol, atol=atol * max(1.0, scale), equal_nan=True):
                diff = (a - b).abs().nan_to_num(float("inf")).max().item() if a.numel() else 0.0
                return f"{name}: max abs difference {diff:.3g} (scale {scale:.3g})"
        elif not torch.equal(a, b):
            return f"{name}: integer outputs differ"
    return None
