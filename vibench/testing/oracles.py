"""The oracles of the differential campaign: what must hold for any spec, and for a valid one.

* :func:`check_static` (torch-free) — for any spec text: the compiler answers with a program or a
  :class:`~vibench.SpecError` (never another exception), within a time limit, every diagnostic has
  a position, compiling twice gives the same source or the same diagnostics, and an accepted spec's
  model.py is valid Python in which :data:`~vibench.testing.mutations.MARKER` is never code;
* :func:`~vibench.testing.oracles_runtime.check_runtime` (torch; :mod:`vibench.testing.oracles_runtime`)
  — for a valid spec and concrete inputs: the static output shapes, dtypes and parameter count equal
  those of a real forward pass; the emitted file imported from disk and :func:`vibench.build` have
  the same ``state_dict`` keys and shapes and give the same outputs for the same weights; eager
  outputs agree with ``torch.compile`` (backend ``eager``), ``torch.export`` and ``torch.jit.script``
  within a tolerance (outputs that are random draws, which another seed changes, in shape and dtype
  only: backends consume the generator differently). A backend that fails is a finding of its own
  kind (``export-failure``...); :data:`KNOWN_UNSUPPORTED`
  lists the blocks that cannot work with a backend, and why.

Each problem is a :class:`Finding`; its ``signature`` groups findings of one cause (kind, exception
type and the innermost vibench frame), so that one representative per signature is minimised.
"""

from __future__ import annotations

import ast
import contextlib
import json
import numbers
import os
import re
import signal
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from vibench.testing.mutations import MARKER, checked_folder

BACKENDS = ("compile", "export", "script")
"""The compilers compared with eager execution, in the order they run."""

MAX_TIMEOUT = 86_400.0
"""The longest ``timeout`` an oracle takes, in seconds (a day; ``scripts/fuzz.py``'s ``--timeout`` and
``--runtime-timeout`` are held to it too): the CPU-time alarm of :func:`time_limit` refuses 10**10 s
(OverflowError: timestamp out of range), which would be no finding but the caller's mistake."""

_MHA_NO_BIAS = ("torch cannot script nn.MultiheadAttention(bias=False): its forward reads `in_proj_bias.dtype`, "
                "and TorchScript types the None attribute as NoneType (torch 2.x; upstream)")
KNOWN_UNSUPPORTED: dict[str, dict[str, str]] = {
    "compile": {},
    "export": {
        "times_block": "the folding periods come from torch.topk of the FFT amplitudes: the reshape sizes are "
                       "data-dependent, which torch.export cannot trace into one static graph (TimesNet's design)",
    },
    "script": {
        "multi_head_attention": _MHA_NO_BIAS,
        "transformer_encoder_layer": _MHA_NO_BIAS,
    },
}
"""backend -> block -> why a spec with that block cannot go through that backend. Found by the campaign
(``scripts/fuzz.py`` runs every block alone through every backend and prints what fails); only
limits of the backend or of the block's very computation are listed, never a bug to fix."""

KNOWN_CONDITIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("script", "multi_head_attention"): {"bias": False},
    ("script", "transformer_encoder_layer"): {"bias": False},
}
"""(backend, block) -> parameter values a node needs for the entry of :data:`KNOWN_UNSUPPORTED` to
apply (absent: any node of the block)."""

STATIC_KINDS = ("uncaught-exception", "hang", "nondeterminism", "no-position", "bad-source", "code-injection")
RUNTIME_KINDS = ("rejected", "build-failure", "emit-failure", "runtime-failure", "shape-mismatch",
                 "dtype-mismatch", "param-count-mismatch", "emit-build-mismatch") + tuple(
    f"{b}-{what}" for b in BACKENDS for what in ("failure", "mismatch"))


@dataclass(frozen=True)
class Finding:
    """One problem: its ``kind`` (see :data:`STATIC_KINDS`, :data:`RUNTIME_KINDS`), a one-line
    ``message``, and a ``signature`` that is the same for findings of one cause."""

    kind: str
    message: str
    signature: str

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "message": self.message, "signature": self.signature}


class Timeout(BaseException):
    """Raised by :func:`time_limit` (a BaseException, so that no ``except Exception`` swallows it)."""


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`Timeout` in the block once it has used ``seconds`` of CPU time (``ITIMER_PROF``:
    a loaded machine slows a case down without making it a hang; no limit off the main thread or
    where there is no such timer). Code stuck inside one C call is interrupted only when it returns:
    run untrusted cases in a process that a watchdog can kill as well (``scripts/fuzz.py`` does)."""
    usable = seconds and hasattr(signal, "SIGPROF") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise Timeout(f"no answer within {seconds} s of CPU time")

    previous = signal.signal(signal.SIGPROF, expire)
    signal.setitimer(signal.ITIMER_PROF, float(seconds))  # type: ignore[arg-type]
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


def _where(err: BaseException) -> str:
    """``path:function`` of the innermost frame inside vibench (outside vibench.testing), else the last."""
    frames = traceback.extract_tb(err.__traceback__)
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    inside = [f for f in frames if f.filename.startswith(package) and os.sep + "testing" + os.sep not in f.filename]
    if not (inside or frames):
        return "?"
    frame = (inside or frames)[-1]
    shown = os.path.relpath(frame.filename, os.path.dirname(package)) if frame.filename.startswith(package) \
        else os.path.basename(frame.filename)
    # a built model's module is named by its cache key: one name for all, so one bug is one signature
    shown = re.sub(r"m_p?[0-9a-f]{16,}", "m_<key>", shown)
    return f"{shown}:{frame.name}"


def _one_line(err: BaseException, limit: int = 200) -> str:
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text[:limit]}"


def _crash(kind: str, err: BaseException) -> Finding:
    return Finding(kind, f"{_one_line(err)} (at {_where(err)})", f"{kind}:{type(err).__name__}:{_where(err)}")


# --------------------------------------------------------------------------------------------
# static
# --------------------------------------------------------------------------------------------


def check_static(text: str, path: str | None = None, params: dict[str, Any] | None = None, *,
                 inputs: dict[str, tuple[int, ...]] | None = None, timeout: float | None = 10.0,
                 search_path: list[str] | None = None) -> tuple[str, list[Finding]]:
    """Compile ``text`` twice (as the file ``path``, when given: local references resolve next to it;
    ``params`` and ``inputs`` as ``--set`` and ``--input``) and return the verdict — ``"ok"``,
    ``"error"`` (a SpecError) or ``"crash"`` — and the findings.

    >>> check_static("vibench: 1\\nname: M\\ninputs: {x: {shape: [B, 4]}}\\n"
    ...              "nodes: {fc: {block: linear, in: x, out_features: 2}}\\noutputs: {y: fc}\\n")
    ('ok', [])
    >>> check_static("vibench: 1\\nname: M\\nnodes: {fc: {block: lineer}}\\n")[0]
    'error'

    A caller's mistake is no finding: an argument of the wrong kind (``text`` not a str, ``params``
    not a dict...) is a TypeError, a ``timeout`` that is not positive or above :data:`MAX_TIMEOUT` (a day)
    or a ``path`` that names no spec file (nor library template) a ValueError, raised before the compiler
    runs (``timeout=None``: no limit).
    """
    verdict, _, findings = check_static_digest(text, path, params, inputs=inputs, timeout=timeout,
                                               search_path=search_path)
    return verdict, findings


def check_static_digest(text: str, path: str | None = None, params: dict[str, Any] | None = None, *,
                        inputs: dict[str, tuple[int, ...]] | None = None, timeout: float | None = 10.0,
                        search_path: list[str] | None = None) -> tuple[str, str, list[Finding]]:
    """:func:`check_static`, plus a digest of what the compiler answered (the source, or the diagnostics
    as JSON and rendered), to compare answers across processes."""
    import hashlib

    check_arguments(text, path, params, inputs, timeout, search_path)
    first = _static_once(text, path, params, inputs, timeout, search_path)
    if first[0] == "crash":
        return "crash", "", first[2]
    second = _static_once(text, path, params, inputs, timeout, search_path)
    findings = list(first[2])
    if second[0] == "crash":
        return "crash", "", findings + [f for f in second[2] if f.kind in ("hang", "uncaught-exception")] + [
            Finding("nondeterminism", "the second compile crashed, the first did not", "nondeterminism:crash")]
    if (first[0], first[1]) != (second[0], second[1]):
        findings.append(Finding("nondeterminism", f"two compiles differ ({first[0]} then {second[0]})",
                                f"nondeterminism:{first[0]}"))
    digest = hashlib.sha256(f"{first[0]}\n{first[1]}".encode("utf-8", "surrogatepass")).hexdigest()
    return first[0], digest, findings


def check_arguments(text: Any, path: Any = None, params: Any = None, inputs: Any = None, timeout: Any = None,
                    search_path: Any = None) -> None:
    """TypeError or ValueError, naming the argument, for what the caller of an oracle got wrong (as
    :func:`vibench.check` would raise it, where a compiler crash must not be mistaken for it)."""
    from vibench.api import _arguments
    from vibench.compiler.diagnostics import SpecError
    from vibench.compiler.pipeline import find_spec, input_sizes

    if text is None:
        raise TypeError("text is the spec's YAML or JSON as a str, not None")
    spec, folders = _arguments(path, text, params, search_path)  # text of another kind, path, params, search_path
    if spec is not None:
        try:
            found = find_spec(spec, folders)  # the compiler's E004 has no position in the text: it is no finding
        except SpecError:
            found = None
        # find_spec takes any existing path (a folder too): with `text` given the compiler never opens it,
        # and a folder would only move where local references resolve
        if found is None or not os.path.isfile(found):
            kind = ("no spec file or library template" if found is None else
                    "a folder" if os.path.isdir(found) else "no regular file")
            raise ValueError(f"path {spec!r:.200} names {kind}: give the file that text is a copy of (its folder "
                             "resolves local references), or None")
    input_sizes(inputs)
    if timeout is not None:
        # Any real number, as int and float (np.float32(10), np.int64(10) were a TypeError, np.float64 not); the
        # value as shown clipped, as Python refuses the str of an int of 4,300 digits (10**5000).
        if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real):
            raise TypeError(f"timeout is a number of seconds (None: no limit), not {type(timeout).__name__}")
        try:  # an int compared as it is (exactly, at any size); another real number as the float it is
            seconds = timeout if isinstance(timeout, int) else float(timeout)
        except OverflowError:  # (a Fraction past the float range)
            seconds = float("inf")
        if not 0 < seconds <= MAX_TIMEOUT:
            large = isinstance(timeout, int) and timeout.bit_length() > 1_000
            shown = "an integer of more than 300 digits" if large else f"{timeout}"
            raise ValueError(f"timeout must be a positive number of seconds, at most {MAX_TIMEOUT:.0f} (a day; "
                             f"None: no limit), got {shown:.60}")


def check_runtime_options(cases: Any, rtol: Any, atol: Any, workdir: Any) -> str | None:
    """TypeError or ValueError, naming the argument, for what the caller of
    :func:`~vibench.testing.oracles_runtime.check_runtime` got wrong beyond :func:`check_arguments`: a
    TensorCase dtype that is no dtype name, a tolerance that is not a number >= 0, a ``workdir`` that
    is no writable folder (the emitted file could not be written: no finding). The workdir as a str."""
    from vibench.testing.runtime_inputs import check_dtype

    for case in cases or ():
        check_dtype(case)
    for name, value in (("rtol", rtol), ("atol", atol)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{name} is a number, not {type(value).__name__}")
        if not 0 <= value < float("inf"):
            raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    if workdir is None:
        return None
    folder = checked_folder(workdir, "workdir", "a folder", "a temporary one")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"workdir {folder!r:.200} is a folder this process cannot write to")
    return folder


def _static_once(text: str, path: str | None, params: dict[str, Any] | None,
                 inputs: dict[str, tuple[int, ...]] | None, timeout: float | None,
                 search_path: list[str] | None) -> tuple[str, str, list[Finding]]:
    from vibench.api import compile_spec
    from vibench.compiler.diagnostics import SpecError

    try:
        with time_limit(timeout):
            try:
                result = compile_spec(path, text=text, params=params, inputs=inputs, search_path=search_path)
            except SpecError as err:
                diagnostics = err.diagnostics
                rendered = json.dumps([d.to_json() for d in diagnostics], sort_keys=True, default=str) + err.render()
                findings = [Finding("no-position", f"{d.code}: {d.message[:160]}", f"no-position:{d.code}")
                            for d in diagnostics if d.pos is None]
                return "error", rendered, findings
    except Timeout as err:
        return "crash", "", [Finding("hang", f"no answer within {timeout} s of CPU time (at {_where(err)})",
                                     f"hang:{_where(err)}")]
    except Exception as err:  # noqa: BLE001 - the point: anything but SpecError (MemoryError, RecursionError...)
        return "crash", "", [_crash("uncaught-exception", err)]
    return "ok", result.source, _source_findings(result.source)


def _source_findings(source: str) -> list[Finding]:
    """An accepted spec's model.py must be valid Python in which the fuzz marker never is code."""
    try:
        tree = ast.parse(source)
        compile(tree, "<model.py>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as err:
        return [Finding("bad-source", f"the emitted file does not compile: {_one_line(err)}",
                        f"bad-source:{type(err).__name__}:{getattr(err, 'msg', '')}")]
    for node in ast.walk(tree):
        name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None
        if name == MARKER:
            line = getattr(node, "lineno", "?")
            return [Finding("code-injection", f"`{MARKER}` from spec data is code at line {line}", "code-injection")]
    return []
