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
import sys
from typing import TYPE_CHECKING, Any

import torch

from vibench.compiler.ir import Program
from vibench.runtime import cache, cache_deps

if TYPE_CHECKING:
    from vibench.compiler.blocks.base import Block


def build_program(program: Program) -> torch.nn.Module:
    """Instantiate the model class of a compiled program (compiled here, not looked up)."""
    from vibench.compiler.pipeline import compile_source

    source = compile_source(program)
    k = "p" + cache.key(source, None, None, [])
    entry = cache.cached(k, lambda: cache_deps.Compiled(source, program.root.name))
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

    def make() -> cache_deps.Compiled:
        from vibench.compiler.resolve_recording import recording_absent, recording_links

        read: set[str] = set()
        with recording_absent() as absent, recording_links() as links:
            program = compile_program(path, text=text, params=params or None, inputs=inputs,
                                      search_path=search_path, max_nodes=max_nodes, max_params=max_params,
                                      max_activation=max_activation, files_read=read, metadata=metadata)
        source = compile_source(program, inplace=inplace)
        used = plugin_blocks(program)
        blocks = tuple((name, cache_deps.admitted(name) or "") for name in used)
        code = frozenset(plugin_files(program))
        return cache_deps.Compiled(source, program.root.name, frozenset(read) | code, frozenset(absent), blocks,
                                   code, links=tuple(sorted(links.items())),
                                   classes=tuple((name, type(block)) for name, block in used.items()),
                                   memory_only=any(cache_deps.defined_without_file(b) for b in used.values()))

    entry = cache.cached(k, make)
    return getattr(entry.module, entry.class_name)()


def plugin_blocks(program: Program) -> dict[str, Block]:
    """The blocks from outside vibench (a plug-in's, or a script's) that ``program`` uses, by name.

    >>> from vibench.api import _TINY, check
    >>> plugin_blocks(check(text=_TINY))
    {}
    """
    from vibench.compiler import registry

    names: set[str] = set()
    for unit in (program.root, *program.units):
        for node in unit.nodes:
            if node.kind == "primitive":
                names.add(node.block)
                names.update(copy.block for copy in node.copies if copy.block)
    blocks: dict[str, Block] = {}
    for name in sorted(names):
        block = registry.get(name)
        if block is not None and not _is_vibench(type(block)):
            blocks[name] = block
    return blocks


def plugin_files(program: Program) -> set[str]:
    """The real paths of the source files of the blocks from outside vibench that ``program`` uses (a
    plug-in's): every module imported so far (by the compilation, at least) of the packages that define
    each block's class, its ``Params``, its natives (classes and functions) and their base classes up to
    vibench's — the block's module, the natives' and every module of the package they import (a shape
    rule's helper), whatever the distribution's metadata lists (an editable install lists none) — and
    the files defining those objects outside such a package. The cache checks them like the spec's
    files, so a plug-in edited anywhere it could change the model is compiled again (vibench's own
    blocks are part of the key, :func:`cache._installation`); a plug-in package's modules that no one
    imported cannot have changed the model.

    >>> from vibench.api import _TINY, check
    >>> plugin_files(check(text=_TINY))
    set()
    """
    import inspect

    roots: set[str] = set()
    files: set[str] = set()
    for block in plugin_blocks(program).values():
        natives = (n for n in block.natives if not isinstance(n, str))
        for obj in (type(block), getattr(block, "Params", object), *natives):
            for part in obj.__mro__ if isinstance(obj, type) else (obj,):
                if _is_vibench(part) or part is object:
                    break
                root = _package_root(str(getattr(part, "__module__", "")))
                if root is not None:
                    roots.add(root)
                with contextlib.suppress(TypeError, OSError):  # an object without a file (built in, typed at a prompt)
                    file = inspect.getsourcefile(part)
                    if file is not None:
                        files.add(os.path.realpath(file))
    if roots:
        for name, module in list(sys.modules.items()):
            file = getattr(module, "__file__", None)
            if isinstance(file, str) and (name in roots or _under(name, roots)):
                files.add(os.path.realpath(file))
    return files


def _package_root(module: str) -> str | None:
    """The outermost package of ``module`` that has a file (a namespace package has none: the package
    one level in is the plug-in's), or None (``module`` is not imported or has no file)."""
    parts = module.split(".")
    for end in range(1, len(parts) + 1):
        name = ".".join(parts[:end])
        if getattr(sys.modules.get(name), "__file__", None):
            return name
    return None


def _under(name: str, roots: set[str]) -> bool:
    return any(name.startswith(root + ".") for root in roots)


def _is_vibench(obj: Any) -> bool:
    return str(getattr(obj, "__module__", "")).split(".")[0] == "vibench"
