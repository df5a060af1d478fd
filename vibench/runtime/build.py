"""build(): a spec -> a live nn.Module, through the emitted source and a cache of compiled models.

The module is the very model.py that ``vibench-compile -o`` writes, so a built model and an
emitted file agree by construction: same classes, same ``state_dict`` keys and shapes, same outputs
for the same weights (torch.fx builds GraphModules the same way). Compiled sources are cached by
content (:mod:`vibench.runtime.cache`): building the same spec again costs an import and the
constructor. The modules are importable as ``vibench.models.m_<hash>`` (tracebacks, ``inspect``,
``torch.jit.script`` and pickling see real source).
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import importlib.util
import os
import sys
import time
import types
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import torch

from vibench.compiler.diagnostics import MAX_SHOWN
from vibench.compiler.ir import Program
from vibench.runtime import cache, cache_deps, cache_key
from vibench.runtime.installed import users_code

if TYPE_CHECKING:
    from vibench.compiler.blocks.base import Block


def build_program(program: Program) -> torch.nn.Module:
    """Instantiate the model class of a compiled program (compiled here, not looked up)."""
    from vibench.compiler.pipeline import compile_source

    source = compile_source(program)
    k = "p" + cache.key(source, None, None, [])
    entry = cache.cached(k, lambda: cache_deps.Compiled(source, program.root.name))
    return cache.instantiate(entry)


def build_spec(spec: str | None, text: str | None, params: dict[str, Any], inputs: dict[str, tuple[int, ...]] | None,
               search_path: list[str] | None, max_nodes: int | None = None,
               max_params: int | None = None, max_activation: int | None = None,
               metadata: Any = None, inplace: bool = True) -> tuple[torch.nn.Module, tuple[tuple[str, str], ...]]:
    """The model of a spec path, template name, PHM-Vibench config or text, from the cache when it
    was compiled before (see :func:`vibench.build`), and the compilation's warnings and notes (code, text
    as ``--check`` prints it; kept with the entry, so a hit gives them too); ``metadata`` is a read metadata
    table (its ``num_classes`` and the rows it skipped are part of the cache key); ``inplace=False``: model.py
    without in-place work."""
    from vibench.compiler import limits as bounds
    from vibench.compiler.load import _read_bytes, decode_spec
    from vibench.compiler.pipeline import _display, compile_program, compile_source, find_spec
    from vibench.compiler.spec_files import working_folder

    path = find_spec(spec, search_path, in_python=True) if spec is not None else None
    # Checked before the key is made of them, once the spec is found (as `check` does): a limit no compilation
    # takes is its ValueError alone (the key refused the value first, and the error came chained to that refusal).
    max_nodes, max_params, max_activation = (
        bounds.check_limit(max_nodes, "max_nodes", bounds.MAX_NODES),
        bounds.check_limit(max_params, "max_params", bounds.MAX_PARAMS),
        bounds.check_limit(max_activation, "max_activation", bounds.MAX_ACTIVATION))
    if text is None:
        assert path is not None
        # As the compiler's loader reads it, before the key: a folder, a FIFO or a device is E004 without
        # waiting on it, a file past the loader's 16 MiB E002, both located as `vibench.check` says them.
        spec_text = decode_spec(_read_bytes(path, _display(path), None), _display(path))
    else:
        spec_text = text
    # Where `extends:`, block references and PHM-Vibench base configs are looked up from: the folder of the spec's
    # real path (one file is one model however it is reached: a link, a folder link on the way), which its real
    # path keys, or for text the working folder; and the search path's folders, resolved. The working folder is
    # keyed for a file only when the compilation turns out to depend on it (_by_folder): the entry is then kept
    # under the key of the request from this folder (`here`), else a build from any folder uses it. A removed
    # working folder is a stand-in that holds nothing (find_spec took only an absolute path then).
    cwd = os.path.realpath(working_folder())
    if path is not None:  # and the path as given: the warnings an entry keeps name the file as the caller did
        where = os.path.realpath(path) + "\0" + path
    else:
        where = "<text>\0" + cwd
    folders = [os.path.realpath(os.path.join(cwd, folder)) for folder in search_path or []]
    limits = {"max_nodes": max_nodes, "max_params": max_params, "max_activation": max_activation}
    options: dict[str, Any] = {"limits": limits, "inplace": inplace}  # apart from the parameters: no name is theirs
    if metadata is not None:  # the table's class counts make the model, not its file (read before this)
        options["metadata"] = {"path": str(metadata.path), "num_classes": dict(metadata.num_classes),
                               "skipped": _skipped(metadata)}

    def make() -> cache_deps.Compiled:
        from vibench.compiler.resolve import recording_looked
        from vibench.compiler.resolve_recording import recording_absent, recording_links
        from vibench.compiler.resolve_sources import recording_sources
        from vibench.compiler.spec_reads import recording_reads

        read: set[str] = set()
        started = time.time_ns()  # what changed from now on may have changed after the compilation used it
        with recording_absent() as absent, recording_links() as links, recording_looked() as looked, \
                recording_sources() as sources, recording_reads() as digests:
            program = compile_program(path, text=text, params=params or None, inputs=inputs,
                                      search_path=search_path, max_nodes=max_nodes, max_params=max_params,
                                      max_activation=max_activation, files_read=read, metadata=metadata)
        source = compile_source(program, inplace=inplace)
        # as the CLI renders them (a template's or component's lines too), at most MAX_SHOWN
        warned = [(warning.code, warning.render(sources)) for warning in program.warnings[:MAX_SHOWN]]
        if len(program.warnings) > MAX_SHOWN:
            warned.append(("", f"... and {len(program.warnings) - MAX_SHOWN:,} more warnings (the first "
                               f"{MAX_SHOWN} of {len(program.warnings):,} are shown)"))
        by_folder = path is not None and _by_folder(path, program, read, absent, looked)
        used = plugin_blocks(program)
        blocks = tuple((name, cache_deps.admitted(name) or "") for name in used)
        code = frozenset(plugin_files(program))
        return cache_deps.Compiled(source, program.root.name, frozenset(read) | code, frozenset(absent), blocks,
                                   code, links=tuple(sorted(links.items())),
                                   classes=tuple((name, type(block)) for name, block in used.items()),
                                   memory_only=any(cache_deps.defined_without_file(b) for b in used.values()),
                                   warnings=tuple(warned), looked=tuple(sorted(looked.items())), by_folder=by_folder,
                                   digests=tuple(sorted(digests.items())), started=started)

    try:
        k: str | None = cache.key(where + "\0" + spec_text, params, inputs, folders, options)
    except cache_key.Unkeyable:  # a value no compilation takes: compiled (and refused there), never cached
        k = None
    if k is None:  # outside the handler: the compilation's own error is not chained to the key's refusal
        entry = cache.unkeyed(make())
    else:
        # from this folder: its path as the file system's bytes (a name that is not UTF-8 holds surrogates)
        here = None if path is None else hashlib.sha256(k.encode() + b"\0" + os.fsencode(cwd)).hexdigest()[:32]
        entry = cache.cached(k, make, here)
    return cache.instantiate(entry), entry.warnings


def _by_folder(path: str, program: Program, read: set[str], absent: set[str], looked: dict[str, str]) -> bool:
    """Whether the compilation of the spec file ``path`` (which read ``read``, found ``absent`` missing and looked
    at ``looked``) depends on the working folder, beside what the key holds (the spec's real path, which gives its
    folder, the path as given, the search path's real folders): a warning it keeps is located in a file it included
    from outside the library, which messages name relative to the working folder (``lib/base.yaml`` from the spec's
    folder, ``k/lib/base.yaml`` from the one above); or a PHM-Vibench base-config lookup went past the experiment's
    real folder and its project root, whose next place is the working folder. The paths such a lookup tried are
    recorded, but as the working folder of this compilation made them: from another folder it tries another path.
    A lookup that found its file beside the experiment or in the project root never reaches the working folder,
    from any folder, so a PHM-Vibench experiment run from per-run folders (Hydra's) shares one entry."""
    from vibench.compiler.phm_base import project_root
    from vibench.compiler.resolve import Library
    from vibench.compiler.spec_files import working_folder

    cwd = os.path.abspath(working_folder())  # as the compilation's Library took it
    shown = {Library(None, cwd).display(file) for file in read} - {program.source.display_path}
    shown = {name for name in shown if not name.startswith("vibench/specs")}  # the library's: named so from anywhere
    if any(at is not None and at.file in shown for warning in program.warnings[:MAX_SHOWN]
           for at in (warning.pos, warning.origin)):
        return True
    if not any(os.path.basename(marker) == ".git" for marker in looked):  # no project root sought: no base lookup
        return False
    # As vibench.compiler.phm_base.base_model tries an entry `ref`: joined, never normalised, to the real path of
    # the folder the experiment is named in (as PHM-Vibench opens it: beside a link, not its target), then to its
    # project root, then to the working folder. A path tried in that folder is `start` and the entry as written; by
    # name alone (`relpath`, `normpath`) a link's `..` led elsewhere.
    start = os.path.join(os.path.realpath(os.path.dirname(os.path.join(cwd, path))), "")
    root = project_root(start)
    for tried in absent:  # a base config tried beside the experiment and missing there and at the root
        if not tried.startswith(start):
            continue
        ref = tried[len(start):]
        at_root, at_cwd = (os.path.join(folder, ref) for folder in (root, cwd))
        if (at_root == tried or at_root in absent) and (at_cwd in absent or os.path.lexists(at_cwd)):
            return True
    return False


def _skipped(metadata: Any) -> list[Any] | None:
    """The rows a metadata table skipped, as its W116 says them (the warning an entry keeps)."""
    skipped = metadata.skipped
    if skipped is None:
        return None
    return [skipped.count, skipped.line, skipped.column, skipped.value]


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
    plug-in's), and of the code they import. It starts from every module imported so far (by the
    compilation, at least) of the packages that define each block's class, its ``Params``, its natives
    (classes and functions) and their base classes up to vibench's — the block's module, the natives' and
    every module of the package they import (a shape rule's helper), whatever the distribution's metadata lists
    (an editable install lists none) — and the files defining those objects outside such a package. A base class
    that is neither the user's code (:func:`~vibench.runtime.installed.users_code`) nor in one of those packages
    ends the walk up: a native subclassing the real ``torch.nn.Module`` made all of torch a plug-in package (728
    files recorded, 10 s a build, torch's warnings). Then it adds, transitively, every imported module that one
    of them refers to that is the user's code (:func:`imported_code`): a helper module beside the package
    (``import helper``), another package of a namespace package (``mylab.common`` for ``mylab.blocks``). The
    cache checks them like the spec's files, so a plug-in edited anywhere it could change the model is compiled
    again (vibench's own blocks are part of the key, :func:`cache._installation`); a module that no one imported
    cannot have changed the model.

    >>> from vibench.api import _TINY, check
    >>> plugin_files(check(text=_TINY))
    set()
    """
    import inspect

    defining: list[Any] = []  # each block's class, its Params, its natives
    for block in plugin_blocks(program).values():
        natives = (native for native in block.natives if not isinstance(native, str))
        defining += [type(block), getattr(block, "Params", object), *natives]
    roots: set[str] = set()
    for obj in defining:
        root = None if _is_vibench(obj) or obj is object else _package_root(str(getattr(obj, "__module__", "")))
        if root is not None:
            roots.add(root)
    files: set[str] = set()
    modules: set[str] = set()
    for obj in defining:
        for depth, part in enumerate(obj.__mro__ if isinstance(obj, type) else (obj,)):
            if _is_vibench(part) or part is object:
                break
            module = str(getattr(part, "__module__", ""))
            root = _package_root(module)
            if depth and root not in roots and not users_code(module):  # torch.nn.Module
                break
            modules.add(module)
            if root is not None:
                roots.add(root)
            with contextlib.suppress(TypeError, OSError):  # an object without a file (built in, typed at a prompt)
                file = inspect.getsourcefile(part)
                if file is not None:
                    files |= _as_read(file)
    if roots:
        modules.update(name for name in list(sys.modules) if name in roots or _under(name, roots))
    return files | imported_code(modules)


def imported_code(start: Iterable[str]) -> set[str]:
    """The real paths of the files of the imported modules ``start`` and of every imported module they
    refer to, transitively, that is the user's code (:func:`~vibench.runtime.installed.users_code`): not vibench
    (part of the key), not the standard library, not an installed distribution (under site-packages, or listed
    by the ``RECORD`` of a ``*.dist-info`` beside it: it changes with an install, not with an edit), and not a
    module without a file. A module refers to another by a global that is the module, or a class or function
    defined there, or an object of a class defined there (``import helper``, ``from helper import scale``), and
    by an ``import`` statement anywhere in its source, in a function too (``from helper import SCALE`` leaves an
    int behind; ``from . import rules``): a module such a statement names that was not imported when the
    compilation ended did not run in it. Not seen: a module imported by a name computed at run time
    (``importlib.import_module(name)``) and held nowhere, and files a plug-in opens itself.

    >>> import json  # the module given, none of the standard library's that it imports
    >>> imported_code(["json"]) == {os.path.realpath(json.__file__)}
    True
    """
    files: set[str] = set()
    seen = set(start)
    todo = sorted(seen)
    while todo:
        module = sys.modules.get(todo.pop())
        if module is None:
            continue
        file = getattr(module, "__file__", None)
        if isinstance(file, str):
            files |= _as_read(file)
        for name in sorted(_references(module) - seen):
            seen.add(name)
            if users_code(name):
                todo.append(name)
    return files


def _references(module: types.ModuleType) -> set[str]:
    """The names of the modules ``module`` refers to (see :func:`imported_code`)."""
    names: set[str] = set()
    for value in list(vars(module).values()):
        if isinstance(value, types.ModuleType):
            owner = getattr(value, "__name__", None)
        elif isinstance(value, (type, types.FunctionType)):
            owner = getattr(value, "__module__", None)
        else:
            owner = type(value).__module__
        if isinstance(owner, str):
            names.add(owner)
    package = getattr(module, "__package__", None)
    for level, name, members in _import_statements(getattr(module, "__file__", None)):
        if level:
            try:
                name = importlib.util.resolve_name("." * level + name, package if isinstance(package, str) else "")
            except (ImportError, ValueError):
                continue
        parts = name.split(".")
        names.update(".".join(parts[:end]) for end in range(1, len(parts) + 1))  # `import a.b` runs `a` too
        names.update(f"{name}.{member}" for member in members)  # `from a import b`: `b` may be a module
    return names


# file -> (its stat signature, its import statements): a plug-in's modules are parsed once while unchanged, known as
# the cache knows a file read (size, mtime, ctime, inode; parsed again while changed too recently to tell: an edit
# at the same size with its time kept, `cp -p`, kept the old imports); the IMPORTS_KEPT files parsed last (a
# process that builds with ever new plug-in files does not grow without bound)
_IMPORTS: dict[str, tuple[tuple[int, int, int, int], tuple[tuple[int, str, tuple[str, ...]], ...]]] = {}
IMPORTS_KEPT = 1024
MAX_SOURCE_BYTES = 16 * 1024 * 1024
"""A plug-in module larger than this is not parsed for its imports (:func:`imported_code` then sees only its
globals)."""


def _import_statements(file: object) -> tuple[tuple[int, str, tuple[str, ...]], ...]:
    """(level, module, names imported from it) of every ``import`` in a Python source file."""
    if not isinstance(file, str) or not file.endswith(".py"):
        return ()
    try:
        st = os.stat(file)
        stamp = cache_deps._signature(st)
        hit = _IMPORTS.get(file)
        if hit is not None and hit[0] == stamp and cache_deps._settled(st):
            return hit[1]
        raw = cache_deps.read_regular(file, MAX_SOURCE_BYTES)  # never a FIFO's wait, never /dev/zero's bytes
        if raw is None:
            return ()
        tree = ast.parse(raw)
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):  # the module ran; its source is gone
        return ()
    found: list[tuple[int, str, tuple[str, ...]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(0, alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.level, node.module or "", tuple(a.name for a in node.names if a.name != "*")))
    _IMPORTS.pop(file, None)  # last parsed, last dropped
    _IMPORTS[file] = (stamp, tuple(found))
    for oldest in list(_IMPORTS)[: max(0, len(_IMPORTS) - IMPORTS_KEPT)]:  # a copy: another thread may parse meanwhile
        _IMPORTS.pop(oldest, None)
    return tuple(found)


def _as_read(file: str) -> set[str]:
    """A module file's real path, and the path Python imported it by when a link leads there: re-pointing the
    link (``ln -sfn v2.py helper.py``) changes what that path reads, not the old target."""
    real, given = os.path.realpath(file), os.path.abspath(file)
    return {real, given} if given != real else {real}


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
