"""One namespace per scope of the emitted file, in the spirit of torch.fx's ``_Namespace``.

Every identifier the emitter writes — class names, ``__init__`` arguments, locals of ``forward``,
attribute names — is taken from a :class:`Namespace`, which never hands out a Python keyword, a
builtin (``sum``, ``input``, ``len``...), a name the file imports (``torch``, ``nn``, ``F``,
``math``), ``self``, or a name already taken in the scope; a wanted name that is not an ASCII
identifier is normalised (NFKC) and cleaned first. Clashes get a numeric suffix (``sum_1``).

>>> ns = Namespace()
>>> ns.take("sum"), ns.take("conv"), ns.take("conv"), ns.take("ﬁeld")
('sum_1', 'conv', 'conv_1', 'field')
"""

from __future__ import annotations

import builtins
import keyword
import re
import unicodedata

# Names of the emitted file's module scope: imports and the helpers it may define (``OrderedDict``: the class
# a chain of layers written inline at its use is built with, ``nn.Sequential(OrderedDict(...))``).
MODULE_NAMES = frozenset({"torch", "nn", "F", "math", "checkpoint", "OrderedDict"})
# Names nn.Module itself uses: an attribute with one of these names would break the module.
MODULE_ATTRIBUTES = frozenset(
    name
    for name in (
        "training",
        "forward",
        "parameters",
        "buffers",
        "children",
        "modules",
        "state_dict",
        "load_state_dict",
        "train",
        "eval",
        "to",
        "cuda",
        "cpu",
        "double",
        "float",
        "half",
        "type",
        "apply",
        "register_buffer",
        "register_parameter",
        "add_module",
        "named_modules",
        "named_children",
        "named_parameters",
        "named_buffers",
        "zero_grad",
        "requires_grad_",
        "extra_repr",
        "dump_patches",
        "call_super_init",
        "get_submodule",
        "get_parameter",
        "get_buffer",
        # torch.fx.GraphModule's, which torch.export's program.module() rebuilds the model as
        "graph",
        "code",
        "meta",
        "recompile",
        "print_readable",
        "to_folder",
        "add_submodule",
        "delete_submodule",
        "delete_all_unused_submodules",
    )
)
RESERVED = (
    frozenset(keyword.kwlist)
    | frozenset(keyword.softkwlist)
    | frozenset(dir(builtins))
    | MODULE_NAMES
    | {"self", "super", "cls"}
)


def normalise(name: str) -> str:
    """NFKC-normalised ASCII identifier text for ``name`` (characters outside [A-Za-z0-9_] become ``_``)."""
    text = unicodedata.normalize("NFKC", name)
    text = re.sub(r"[^0-9A-Za-z_]", "_", text)
    if not text or text[0].isdigit():
        text = "_" + text
    return text


class Namespace:
    """Hands out unique, safe identifiers for one scope."""

    def __init__(self, taken: frozenset[str] | set[str] = frozenset(), reserved: frozenset[str] = RESERVED) -> None:
        self._used: set[str] = set(taken)
        self._reserved = reserved

    def take(self, wanted: str) -> str:
        base = normalise(wanted)
        if base in self._reserved:
            base = f"{base}_1" if f"{base}_1" not in self._used else base
        name = base
        k = 1
        while name in self._used or name in self._reserved or keyword.iskeyword(name):
            name = f"{base}_{k}"
            k += 1
        self._used.add(name)
        return name

    def reserve(self, name: str) -> None:
        self._used.add(name)

    def __contains__(self, name: str) -> bool:
        return name in self._used
