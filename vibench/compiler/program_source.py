"""Where a compiled program came from (the :class:`~vibench.compiler.ir.Program`'s ``source`` and ``request``).

:class:`SourceInfo` is what model.py's header says of the spec (its path, hash, ``--set`` and ``--input``
values); :class:`CompileRequest` is what was compiled, so that the emitter and the free-parameter probes can
compile the same spec again with other values. Plain frozen records beside the IR of :mod:`vibench.compiler.ir`,
which re-exports both, where their callers import them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vibench.compiler.ir import SpecValue


@dataclass(frozen=True)
class SourceInfo:
    """Where a program came from, for the header of model.py."""

    display_path: str  # the spec path as the user gave it (or "<string>")
    sha256: str
    overrides: tuple[tuple[str, str], ...]  # --set key=value, in the order given
    input_bindings: tuple[tuple[str, str], ...]  # --input name=dims


@dataclass(frozen=True)
class CompileRequest:
    """What was compiled, so the emitter can compile the same spec with other parameter values."""

    path: str | None
    text: str | None
    params: tuple[tuple[str, SpecValue], ...]
    inputs: tuple[tuple[str, tuple[int, ...]], ...]
    search_path: tuple[str, ...]
    display: str | None
    limits: tuple[int, int, int] | None = None  # max_nodes, max_params, max_activation it was compiled under
