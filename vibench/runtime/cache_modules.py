"""The modules of :mod:`vibench.runtime.cache`'s entries: imported from the cache folder and checked
(:func:`import_cached`, :func:`model_class`, :func:`record_read`), made in memory when the folder is not used
(:func:`load_in_memory`), and the plug-in classes an entry of the folder was compiled with (:func:`registry_classes`).

Cache modules are compiled from their source at each import and never use bytecode (no
``__pycache__``, see :class:`vibench.models._CacheLoader`): Python's timestamp ``.pyc`` is keyed on the
source's whole-second time and size, so a module rewritten within the same second at the same size
ran the old code, and a ``__pycache__`` another user could write in ran theirs. Compiling costs 2 to
3.5 ms per model per process (ResNet1D 1.9 ms, M_01_ISFM 3.5 ms; 0.05 ms from a ``.pyc``), paid by
the first build of a model in a process, never by a hit in memory.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Iterable

from vibench.runtime import cache_folder, cache_memory
from vibench.runtime.cache_deps import defined_without_file


def record_read(module: types.ModuleType) -> bytes | None:
    """The record that the loader of a cache module read and checked it against."""
    return getattr(getattr(module.__spec__, "loader", None), "record", None)


def registry_classes(blocks: Iterable[str]) -> dict[str, type] | None:
    """The class the registry holds now as each of ``blocks`` (names an entry of the folder records), or
    None when one was defined without a file (:func:`defined_without_file`): the entry was compiled from
    another class of that name, one with a file."""
    if not blocks:
        return {}
    from vibench.compiler import registry

    classes = {}
    for name in blocks:
        block = registry.get(name)
        if block is None or defined_without_file(block):
            return None
        classes[name] = type(block)
    return classes


def import_cached(name: str, folder: str) -> types.ModuleType | None:
    """The cache module ``name`` imported from the folder, or None: a damaged entry, one removed meanwhile,
    or one refused (another user's file: warned once)."""
    from vibench.models import Refused

    try:
        module = importlib.import_module(name)
        cache_memory.imported(module)
        return module
    except Refused as err:
        cache_folder.warn(folder, f"{err}; vibench.build compiles it again")
    except Exception:  # noqa: BLE001 - a damaged entry is a miss; compiled again
        pass
    sys.modules.pop(name, None)
    return None


def model_class(module: types.ModuleType, class_name: str) -> bool:
    """Whether ``class_name`` is a ``torch.nn.Module`` subclass that ``module`` defines (a damaged record
    naming ``OrderedDict``, which the module imports, made build return an OrderedDict)."""
    import torch

    cls = getattr(module, class_name, None)
    return isinstance(cls, type) and issubclass(cls, torch.nn.Module) and cls.__module__ == module.__name__


def load_in_memory(name: str, source: str) -> types.ModuleType:
    """The module without a file (the cache folder is off or unwritable): usable in this process."""
    import linecache

    filename = f"<vibench:{name}>"
    module = types.ModuleType(name)
    module.__file__ = filename
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    code = compile(source, filename, "exec", dont_inherit=True)
    sys.modules[name] = module
    cache_memory.imported(module)
    exec(code, module.__dict__)  # noqa: S102 - vibench's own emitted source
    return module

