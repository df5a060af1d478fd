"""build(): a spec -> a live nn.Module, through the emitted source and a cache of compiled models.

The module is the very model.py that ``vibench-compile -o`` writes, so a built model and an
emitted file agree by construction: same classes, same ``state_dict`` keys and shapes, same outputs
for the same weights (torch.fx builds GraphModules the same way). Compiled sources are cached by
content (:mod:`vibench.runtime.cache`): building the same spec again costs an import and the
constructor. The modules are importable as ``vibench.models.m_<hash>`` (tracebacks, ``inspect``,
``torch.jit.script`` and pickling see real source).
"""

from __future__ import annotations

import contextlib
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
    entry = cache.cached(k, lambda: cache.Compiled(source, program.root.name))
    return getattr(entry.module, entry.class_name)()


def build_spec(spec: str | None, text: str | None, params: dict[str, Any], inputs: dict[str, tuple[int, ...]] | None,
               search_path: list[str] | None, max_nodes: int | None = None,
               max_params: int | None = None, max_activation: int | None = None,
               metadata: Any = None, inplace: bool = True) -> torch.nn.Module:
    """The model of a spec path, template name, PHM-Vibench config or text, from the cache when it
    was compiled before (see :func:`vibench.build`); ``metadata`` is a read metadata table (its
    ``num_classes`` is part of the cache key); ``inplace=False``: model.py without in-place work."""
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
    # Where `extends:` and block references are looked up from: the spec's folder as given (a symlink's,
    # not its target's), or for text the working folder; and the search path's folders, resolved.
    if path is not None:
        where = os.path.realpath(path) + "\0" + os.path.realpath(os.path.dirname(os.path.abspath(path)))
    else:
        where = "<text>\0" + os.path.realpath(os.getcwd())
    folders = [os.path.realpath(folder) for folder in search_path or []]
    limits = {"max_nodes": max_nodes, "max_params": max_params, "max_activation": max_activation}
    keyed: dict[str, Any] = {**params, "__limits__": limits, "__inplace__": inplace}
    if metadata is not None:  # the table's class counts make the model, not its file (read before this)
        keyed["__metadata__"] = {"path": str(metadata.path), "num_classes": dict(metadata.num_classes)}
    k = cache.key(where + "\0" + spec_text, keyed, inputs, folders)

    def make() -> cache.Compiled:
        from vibench.compiler.resolve import recording_absent

        read: set[str] = set()
        with recording_absent() as absent:
            program = compile_program(path, text=text, params=params or None, inputs=inputs,
                                      search_path=search_path, max_nodes=max_nodes, max_params=max_params,
                                      max_activation=max_activation, files_read=read, metadata=metadata)
        source = compile_source(program, inplace=inplace)
        return cache.Compiled(source, program.root.name, frozenset(read | plugin_files(program)), frozenset(absent))

    entry = cache.cached(k, make)
    return getattr(entry.module, entry.class_name)()


def plugin_files(program: Program) -> set[str]:
    """The real paths of the source files of the blocks from outside vibench that ``program`` uses (a
    plug-in's): the modules defining each block's class, its ``Params`` and its natives, with their
    base classes up to vibench's. The cache checks them like the spec's files, so an edited plug-in
    is compiled again (vibench's own blocks are part of the key, :func:`cache._installation`).

    >>> from vibench.api import _TINY, check
    >>> plugin_files(check(text=_TINY))
    set()
    """
    import inspect

    from vibench.compiler import registry

    names: set[str] = set()
    for unit in (program.root, *program.units):
        for node in unit.nodes:
            if node.kind == "primitive":
                names.add(node.block)
                names.update(copy.block for copy in node.copies if copy.block)
    files: set[str] = set()
    for name in sorted(names):
        block = registry.get(name)
        if block is None or _is_vibench(type(block)):
            continue
        for cls in (type(block), getattr(block, "Params", object), *(n for n in block.natives if isinstance(n, type))):
            for base in cls.__mro__:
                if _is_vibench(base) or base is object:
                    break
                with contextlib.suppress(TypeError, OSError):  # a class without a file (built in, typed at a prompt)
                    file = inspect.getsourcefile(base)
                    if file is not None:
                        files.add(os.path.realpath(file))
    return files


def _is_vibench(cls: type) -> bool:
    return str(getattr(cls, "__module__", "")).split(".")[0] == "vibench"
