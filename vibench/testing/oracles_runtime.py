"""The runtime oracle of the differential campaign (see :mod:`vibench.testing.oracles`).

:func:`check_runtime` (torch) — for a valid spec and concrete inputs: the static output shapes, dtypes
and parameter count equal those of a real forward pass; the emitted file imported from disk and
:func:`vibench.build` agree; eager outputs agree with ``torch.compile``, ``torch.export`` and
``torch.jit.script`` within a tolerance. Moved out of ``oracles.py`` unchanged.
"""

from __future__ import annotations

import contextlib
import os
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
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
from vibench.testing.specs import TensorCase

if TYPE_CHECKING:
    import torch

    from vibench.compiler.diagnostics import SpecError
    from vibench.compiler.ir import Program

def check_runtime(text: str, inputs: Sequence[TensorCase] | Mapping[str, Sequence[int]], *,
                  backends: tuple[str, ...] = BACKENDS, timeout: float | None = 300.0, rtol: float = 1e-4,
                  atol: float = 1e-5, workdir: str | None = None) -> list[Finding]:
    """Run a valid spec through every oracle; return the findings (empty: all agree). ``workdir``
    receives the emitted file (default: a temporary folder).

    ``inputs`` gives every input the model takes, in any order (they are passed by the spec's
    declaration): :class:`~vibench.testing.TensorCase` values (name, sizes, dtype, ``fill``), or a
    dict of input name -> sizes as :func:`vibench.check` takes it (each input then random in its
    declared dtype). ``backends`` names some of :data:`~vibench.testing.oracles.BACKENDS` (a tuple:
    ``("script",)``; ``()`` for none). A caller's mistake is a TypeError or ValueError, not a finding:
    ``inputs`` or ``backends`` of another kind, an unknown backend, a ``timeout`` that is not positive
    (None: no limit), an input of the model left out or one it does not take, sizes of another rank
    than the input's declared shape or another value of a fixed size, a TensorCase dtype that is no
    dtype name or not the input's declared dtype, ``rtol`` or ``atol`` below 0, a ``workdir`` that is
    no writable folder.

    >>> spec = ("vibench: 1\\nname: M\\ninputs: {x: {shape: [B, 4]}}\\n"
    ...         "nodes: {fc: {block: linear, in: x, out_features: 2}}\\noutputs: {y: fc}\\n")
    >>> check_runtime(spec, {"x": (2, 4)}, backends=())
    []
    """
    import tempfile

    cases = _cases(inputs)
    _check_cases(cases)
    check_arguments(text, inputs=_sizes(inputs, cases), timeout=timeout)
    _check_elements(_sizes(inputs, cases))
    backends = _backends(backends)
    workdir = check_runtime_options(cases, rtol, atol, workdir)
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="vibench-fuzz-"))
        try:
            with time_limit(timeout):
                return _runtime(text, _sizes(inputs, cases), cases, backends, rtol, atol, workdir)
        except Timeout as err:
            where = _where(err)
            return [Finding("hang", f"no answer within {timeout} s of CPU time (at {where})", f"hang:{where}")]
    return []  # pragma: no cover - ExitStack does not swallow


def _cases(inputs: Any) -> tuple[TensorCase, ...] | None:
    """``inputs`` as TensorCases; None for a dict of sizes (their dtypes are known after compiling)."""
    if isinstance(inputs, Mapping):
        return None
    if isinstance(inputs, Sequence) and not isinstance(inputs, (str, bytes)):
        wrong = [t for t in inputs if not isinstance(t, TensorCase)]
        if not wrong:
            return tuple(inputs)
        found = f"a {type(inputs).__name__} holding {type(wrong[0]).__name__}"
    else:
        found = type(inputs).__name__
    raise TypeError("inputs is a sequence of vibench.testing.TensorCase or a dict of input name -> sizes such as "
                    f"{{'x': (2, 1, 64)}}, not {found}")


MAX_ELEMENTS = 2**28
"""The most elements :func:`check_runtime` draws for one input (1 GiB of float32): larger sizes are a
caller's mistake (a ValueError), not an allocator error from inside the oracle."""


def _check_cases(cases: tuple[TensorCase, ...] | None) -> None:
    """ValueError for an input given twice (the last would silently win); TypeError for a ``fill`` that
    is no number (torch.full would fail later, naming no input)."""
    seen: set[str] = set()
    for case in cases or ():
        if case.name in seen:
            raise ValueError(f"inputs gives {case.name!r:.60} twice: give each input one TensorCase")
        seen.add(case.name)
        fill = case.fill
        if fill is not None and (isinstance(fill, bool) or not isinstance(fill, (int, float))):
            raise TypeError(f"inputs: the fill of {case.name!r:.60} is a number (an int such as a system id; None: "
                            f"drawn values), not {type(fill).__name__} ({fill!r:.40})")


def _check_elements(bindings: dict[str, tuple[int, ...]]) -> None:
    """ValueError for an input of more than :data:`MAX_ELEMENTS` elements, before anything is drawn."""
    for name, dims in bindings.items():
        count = 1
        for size in dims:
            count *= size
        if count > MAX_ELEMENTS:
            raise ValueError(f"inputs gives {name!r:.60} the sizes {tuple(dims)!r:.80}: {count} elements, more than "
                             f"check_runtime draws for one input (at most 2**28 = {MAX_ELEMENTS})")


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


def _sizes(inputs: Any, cases: tuple[TensorCase, ...] | None) -> dict[str, tuple[int, ...]]:
    return {t.name: t.dims for t in cases} if cases is not None else dict(inputs)


def _ordered(cases: tuple[TensorCase, ...] | None, bindings: dict[str, tuple[int, ...]],
             program: Program) -> tuple[TensorCase, ...]:
    """The inputs in the order the model's forward takes them (the spec's declaration); ValueError for
    an input of the model that ``inputs`` left out, or a TensorCase of another dtype than the input's
    declared one (the model refuses it: no finding)."""
    declared = program.root.inputs
    given = {t.name: t for t in cases} if cases is not None else {
        name: TensorCase(name, tuple(d if isinstance(d, int) else str(d) for d in t.shape), tuple(bindings[name]),
                         t.dtype) for name, t in declared if name in bindings}
    missing = [name for name, _ in declared if name not in given]
    if missing:
        raise ValueError(f"inputs leaves out {', '.join(map(repr, missing))}: give every input the model takes "
                         f"({', '.join(name for name, _ in declared)})")
    for name, t in declared:
        dtype = given[name].dtype
        if dtype != t.dtype:
            raise ValueError(f"inputs gives {name!r} the dtype {dtype}, but the model declares it {t.dtype} (give "
                             f"TensorCase(..., {t.dtype!r}), or declare the input `dtype: {dtype}`)")
    from vibench.compiler.codegen.checks import positive

    return tuple(replace(given[name], positive=True) if positive(program.root, name) else given[name]
                 for name, _ in declared)


def _check_unknown_inputs(text: str, bindings: dict[str, tuple[int, ...]], err: SpecError) -> None:
    """ValueError naming the inputs of ``bindings`` that the spec does not declare, when the compiler
    refused them (E305): a caller's mistake, not a finding. Only on that error path: the spec's
    inputs are then read by compiling it with no sizes bound."""
    import vibench
    from vibench.compiler.diagnostics import SpecError, suggest

    if "E305" not in err.codes:
        return
    try:
        shapes = [(name, t.shape) for name, t in vibench.check(text=text).root.inputs]
        declared = [name for name, _ in shapes]
    except SpecError:
        return  # the spec itself is refused: the finding stands
    unknown = [name for name in bindings if name not in declared]
    _check_declared_shapes(dict(shapes), bindings)
    if unknown:
        hints = [f"`{name}`: {hint}" for name in unknown if (hint := suggest(name, declared))]
        raise ValueError(f"inputs names {', '.join(map(repr, unknown))}, which the model does not take: give only "
                         f"the inputs it takes ({', '.join(declared)})" + "".join(f"; {h}" for h in hints)) from None


def _check_declared_shapes(shapes: dict[str, Any], bindings: dict[str, tuple[int, ...]]) -> None:
    """ValueError for sizes of ``bindings`` of another rank than the input's declared shape, or another
    size on a fixed axis: a caller's mistake, not a finding."""
    for name, dims in bindings.items():
        if name not in shapes:
            continue
        shape = shapes[name]
        wrong = len(dims) != len(shape) or any(isinstance(d, int) and d != n for d, n in zip(shape, dims, strict=True))
        if wrong:
            written = "[" + ", ".join(str(d) for d in shape) + "]"
            what = f"{len(dims)} sizes for {len(shape)} axes" if len(dims) != len(shape) else "another fixed size"
            raise ValueError(f"inputs gives {name!r} the sizes {tuple(dims)}, but the model declares it {written}: "
                             f"{what}") from None


def _runtime(text: str, bindings: dict[str, tuple[int, ...]], cases: tuple[TensorCase, ...] | None,
             backends: tuple[str, ...], rtol: float, atol: float, workdir: str) -> list[Finding]:
    import vibench
    from vibench.compiler.diagnostics import SpecError
    from vibench.compiler.symbolic import evaluate
    from vibench.testing.blocks import random_inputs

    try:
        result = vibench.compile_spec(text=text, inputs=bindings)
    except SpecError as err:
        _check_unknown_inputs(text, bindings, err)
        said = (f"the spec is refused: {err.codes} (check_runtime takes a spec the compiler accepts: compile a "
                "drawn case with compile_case first, which rejects the ones it refuses)")
        return [Finding("rejected", said, f"rejected:{','.join(err.codes)}")]
    except Exception as err:  # noqa: BLE001
        return [_crash("uncaught-exception", err)]
    program = result.program
    ordered = _ordered(cases, bindings, program)  # the caller's mistakes, before anything is built
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
    xs = random_inputs(ordered, seed=0)
    try:
        eager = _outputs(model, xs, names)
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


def _as_dict(result: Any, names: list[str]) -> dict[str, Any]:
    if isinstance(result, dict):
        return dict(result)
    if len(names) == 1:
        return {names[0]: result}
    return {name: value for name, value in zip(names, result, strict=False)}


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
