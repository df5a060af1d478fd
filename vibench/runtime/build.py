"""build(): a Program -> a live nn.Module, through the emitted source.

The module is made by executing the same source ``vibench-compile -o`` writes, so a built model
and an emitted file agree by construction: same classes, same ``state_dict`` keys and shapes, same
outputs for the same weights (torch.fx builds GraphModules the same way). The source is registered
with :mod:`linecache` so tracebacks, ``inspect.getsource`` and ``torch.jit.script`` see it.
"""

from __future__ import annotations

import hashlib
import linecache
import sys
import types

import torch

from vibench.compiler.emit import emit
from vibench.compiler.ir import Program


def load_module(source: str, name: str) -> types.ModuleType:
    """Execute model source as a fresh module named ``vibench_generated.<name>_<hash>``."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:12]
    modname = f"vibench_generated_{name}_{digest}"
    if modname in sys.modules:
        return sys.modules[modname]
    filename = f"<vibench:{name}:{digest}>"
    module = types.ModuleType(modname)
    module.__file__ = filename
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    # dont_inherit: this file's `from __future__ import annotations` must not leak into the model's code
    # (it would turn its annotations into strings, unlike the emitted file; TorchScript rejects those).
    code = compile(source, filename, "exec", dont_inherit=True)
    sys.modules[modname] = module
    exec(code, module.__dict__)  # noqa: S102 - our own generated source
    return module


def build_program(program: Program) -> torch.nn.Module:
    """Instantiate the model class of a compiled program."""
    source = emit(program)
    module = load_module(source, program.root.name)
    return getattr(module, program.root.name)()
