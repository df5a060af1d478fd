"""Stand-ins for ``torch``, ``nn`` and ``F`` so that a block file can hold its torch implementation.

A native block (logic that is not a graph of torch layers) defines its ``nn.Module`` classes in its
own file, next to its parameters, shape rule and code generation. The compiler never imports torch,
so such a file imports these stand-ins instead::

    from vibench.compiler.blocks.torchless import F, nn, torch

Defining a class on them builds an inert placeholder (it is never instantiated); the emitter copies
the class's *source text* into model.py (:func:`vibench.compiler.blocks.base.native_source`), where
the real torch is imported. Type checkers see the real torch (``TYPE_CHECKING`` branch in the block
files), and every native runs in the tests through the emitted code.
"""

from __future__ import annotations

from typing import Any


class _Anything:
    """Any attribute, call, index or operation gives another stand-in (decorators, defaults, ...)."""

    def __getattr__(self, name: str) -> _Anything:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and callable(args[0]) and not kwargs:
            return args[0]  # used as a decorator: keep the function
        return self

    def __getitem__(self, key: Any) -> _Anything:
        return self

    def __or__(self, other: Any) -> _Anything:
        return self

    __ror__ = __or__


class Module:
    """The base class native blocks subclass (``nn.Module`` in model.py)."""


class _NN(_Anything):
    Module = Module


torch: Any = _Anything()
nn: Any = _NN()
F: Any = _Anything()
