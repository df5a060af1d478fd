"""build(): a spec -> a live nn.Module, through the emitted source and a cache of compiled models.

The module is the very model.py that ``vibench-compile -o`` writes, so a built model and an
emitted file agree by construction: same classes, same ``state_dict`` keys and shapes, same outputs
for the same weights (torch.fx builds GraphModules the same way). Compiled sources are cached by
content (:mod:`vibench.runtime.cache`): building the same spec again costs an import and the
constructor. The modules are importable as ``vibench.models.m_<hash>`` (tracebacks, ``inspect``,
``torch.jit.script`` and pickling see real source).
"""

from __future__ import annotations

import os
from typing import Any

import torch

from vibench.compiler.ir import Program
from vibench.runtime import cache


def build_program(program: Program) -> torch.nn.Module:
    """Instantiate the model class of a compiled program (compiled here, not looked up)."""
    from vibench.compiler.pipeline import compile_source

    source = compile_source(program)
    k = "p" + cache.key(source, None, None, [])
    entry = cache.cached(k, lambda: (source, program.root.name, set()))
    return getattr(entry.module, entry.class_name)()


def build_spec(spec: str | None, text: str | None, params: dict[str, Any], inputs: dict[str, tuple[int, ...]] | None,
               search_path: list[str] | None, max_nodes: int | None = None,
               max_params: int | None = None, max_activation: int | None = None,
               metadata: Any = None) -> torch.nn.Module:
    """The model of a spec path, template name, PHM-Vibench config or text, from the cache when it
    was compiled before (see :func:`vibench.build`); ``metadata`` is a read metadata table (its
    ``num_classes`` is part of the cache key)."""
    from vibench.compiler.diagnostics import Diagnostic, SpecError
    from vibench.compiler.pipeline import compile_program, compile_source, find_spec

    path = find_spec(spec, search_path) if spec is not None else None
    if text is None:
        assert path is not None
        try:
            with open(path, "rb") as fh:
                spec_text = fh.read(64 * 1024 * 1024 + 1).decode("utf-8", "replace")
        except OSError as err:
            raise SpecError([Diagnostic("E004", f"cannot read spec file: {err.strerror or err}", None,
                                        found=path)]) from None
    else:
        spec_text = text
    where = os.path.realpath(path) if path is not None else ""
    limits = {"max_nodes": max_nodes, "max_params": max_params, "max_activation": max_activation}
    keyed: dict[str, Any] = {**params, "__limits__": limits}
    if metadata is not None:  # the table's class counts make the model, not its file (read before this)
        keyed["__metadata__"] = {"path": str(metadata.path), "num_classes": dict(metadata.num_classes)}
    k = cache.key(where + "\0" + spec_text, keyed, inputs, list(search_path or []))

    def make() -> tuple[str, str, set[str]]:
        read: set[str] = set()
        program = compile_program(path, text=text, params=params or None, inputs=inputs, search_path=search_path,
                                  max_nodes=max_nodes, max_params=max_params, max_activation=max_activation,
                                  files_read=read, metadata=metadata)
        return compile_source(program), program.root.name, read

    entry = cache.cached(k, make)
    return getattr(entry.module, entry.class_name)()
