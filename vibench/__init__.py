"""vibench: a compiler for neural-network models of industrial signals.

Specs (YAML/JSON) describe a model as a DAG of typed blocks; vibench validates them, checks every
tensor shape symbolically, and emits a standalone ``model.py`` or builds the ``nn.Module``.

>>> import vibench
>>> text = '''
... vibench: 1
... name: Tiny
... inputs: {x: {shape: [B, 1, L]}}
... nodes:
...   conv: {block: conv1d, in: x, out_channels: 8, kernel_size: 3, padding: 1}
...   pool: {block: adaptive_avg_pool1d, in: conv, output_size: 1}
...   flat: {block: flatten, in: pool}
...   fc:   {block: linear, in: flat, out_features: 4}
... outputs: {logits: fc}
... '''
>>> program = vibench.check(text=text)
>>> program.root.outputs[0][2].shape
(Expr('B'), 4)
>>> program.root.param_count
68

Importing vibench is cheap and never imports torch; only :func:`build` does.
"""

from __future__ import annotations

import time as _time
from typing import TYPE_CHECKING, Any

# When this process loaded vibench, before any of its modules: vibench.runtime.cache writes no model to
# the cache folder once a vibench file changed since (its key would name code that did not run).
_LOADED_NS = _time.time_ns()

from vibench._version import __version__  # noqa: E402

if TYPE_CHECKING:
    from vibench.api import SpecWarning, build, check, clear_cache, compile_spec, load_spec
    from vibench.compiler.diagnostics import SpecError

__all__ = ["__version__", "load_spec", "check", "compile_spec", "build", "clear_cache", "SpecError", "SpecWarning"]


def __getattr__(name: str) -> Any:
    if name in ("load_spec", "check", "compile_spec", "build", "clear_cache", "CompileResult", "SpecWarning"):
        from vibench import api

        return getattr(api, name)
    if name == "SpecError":
        from vibench.compiler.diagnostics import SpecError

        return SpecError
    raise AttributeError(f"module 'vibench' has no attribute {name!r}")
