"""The sizes ``--input`` (``inputs=`` in Python) gives the root's inputs, checked against their declarations.

:func:`bind_inputs` binds each dimension symbol of the root's inputs to the size given for it, before the shapes pass
specialises the root, and says E305 (at the input, naming the ``--input``) where a size contradicts the declaration:
an unknown or switched-off input, a rank, a fixed size, a symbol given two sizes. A dimension whose value follows
from the other sizes is compared once they are all bound: a name of a `let` that reads them (``half: "${L // 2}"``
with ``y: [B, half]``) or a ``${...}`` that does (``[B, "${L // 2}"]``). Such a name is never a symbol of its own
(``--input y=2,5`` bound `half` to 5, whatever `L` was); nor is a parameter's name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vibench.compiler.diagnostics import Diagnostic, one_of, suggest
from vibench.compiler.elaborated import declared_dims
from vibench.compiler.expr import ExprError, evaluate_value, template_names
from vibench.compiler.ir import InputDecl, Template, UnitDef
from vibench.compiler.lets import let_env
from vibench.compiler.symbolic_errors import NeedConcrete
from vibench.compiler.typecheck import decl_text

if TYPE_CHECKING:
    from vibench.compiler.shapes import _Specializer

# A dimension compared once every symbol is bound: the input, its declared dims, the sizes given, and its index.
_Later = tuple[InputDecl, list[Any], tuple[int, ...], int]


def bind_inputs(spec: _Specializer, root: UnitDef, input_dims: dict[str, tuple[int, ...]]) -> dict[str, int]:
    """The symbols ``input_dims`` binds (see the module docstring); the E305s are raised together (SpecError)."""
    bindings: dict[str, int] = {}
    names = {i.name: i for i in root.inputs}
    env = let_env(root, dict(root.param_values or {}), partial=True)  # (the shapes pass reports a value that fails)
    values = {d.name for d in root.params} | {let.name for let in root.lets}  # names of values, never symbols
    given = "`inputs`" if spec.library.in_python else "--input"
    later: list[_Later] = []
    for name, dims in input_dims.items():
        decl, label = names.get(name), spec.library.input_named(name)
        if decl is None:
            first = root.inputs[0].pos if root.inputs else root.pos
            spec.diags.add(Diagnostic("E305", f"{given} names unknown input `{name}`", first,
                                      expected="one of " + one_of(names),
                                      hint=suggest(name, names) or "bind the inputs the spec declares"))
            continue
        try:  # an input switched off by its `when` is not the model's: binding it is E305, as an unknown name
            on = evaluate_value(decl.when, env) if decl.when is not None else True
        except (ExprError, NeedConcrete):
            on = True  # elaboration reports the `when` itself
        if on is False:
            spec.diags.add(Diagnostic("E305", f"{given} binds input `{name}`, which is switched off (its `when` "
                                      "is false)", decl.pos, hint="leave it out, or set the parameters that "
                                      "switch it on"))
            spec.switched_off.add(name)
            continue
        try:
            shape = declared_dims(decl, env)
        except (ExprError, ValueError, NeedConcrete):
            continue  # the shapes pass reports the declaration itself
        if len(dims) != len(shape):
            spec.diags.add(Diagnostic("E305", f"{label} has {len(dims)} dimensions, the input has "
                                      f"{len(shape)}", decl.pos, expected=decl_text(shape),
                                      found=",".join(map(str, dims)) or "() (no sizes)"))
            continue
        for k, want in enumerate(shape):
            if isinstance(want, Template):
                try:
                    want = evaluate_value(want, env)
                except (ExprError, NeedConcrete):  # (one that reads the sizes: once they are bound)
                    later.append((decl, shape, dims, k))
                    continue
            elif isinstance(want, str) and want in values:  # a value that is no size (E212), or a `let` of the sizes
                if want not in env:
                    later.append((decl, shape, dims, k))
                continue
            _compare(spec, bindings, decl, shape, dims, k, want)
    if later:
        bound = let_env(root, {**dict(root.param_values or {}), **bindings}, partial=True)
        for decl, shape, dims, k in later:
            written = shape[k]
            try:
                want = evaluate_value(written, bound) if isinstance(written, Template) else bound.get(written)
            except (ExprError, NeedConcrete):
                continue  # (a size left free: E303, at the dimension, from the shapes pass)
            _compare(spec, bindings, decl, shape, dims, k, want, (root, written, bound))
    spec.diags.raise_if_any()
    return bindings


def _compare(spec: _Specializer, bindings: dict[str, int], decl: InputDecl, shape: list[Any], dims: tuple[int, ...],
             k: int, want: Any, follows: tuple[UnitDef, Any, dict[str, Any]] | None = None) -> None:
    """Bind or compare dimension ``k`` of ``decl``, declared ``want`` (a size, or a symbol's name), with the size
    ``dims[k]`` given; ``follows``: the root, the dimension as written and the values with every size bound, when
    ``want`` follows from the other sizes."""
    got = dims[k]
    label, given = spec.library.input_named(decl.name), "`inputs`" if spec.library.in_python else "--input"
    found = ",".join(map(str, dims)) or "() (no sizes)"
    if isinstance(want, bool) or not isinstance(want, int | str) or (isinstance(want, int) and want < 1):
        return  # not a size (`${n - 4}` at n = 4, a `let` of [2, 3]): the shapes pass's E212, at the dimension
    if isinstance(want, int) and want != got and follows is not None:
        root, written, bound = follows
        text = f"`{written.text}`" if isinstance(written, Template) else f"`{written}` (`let.{written}`)"
        sizes = ", ".join(f"{s} = {bindings[s]}" for s in sorted(_reads(root, written)) if s in bindings)
        spec.diags.add(Diagnostic("E305", f"{label}: dimension {k} is {text}, which is {want}", decl.pos,
                                  expected=decl_text(shape, bound), found=found,
                                  hint=f"give it the size {want}" + (f" (with {sizes})" if sizes else "")
                                  + f", or leave `{decl.name}` out of {given}: it takes that size"))
    elif isinstance(want, int) and want != got:
        spec.diags.add(Diagnostic("E305", f"{label}: dimension {k} is fixed to {want}", decl.pos,
                                  expected=decl_text(shape), found=found))
    elif isinstance(want, str):
        if want in bindings and bindings[want] != got:
            both = "the inputs bind" if spec.library.in_python else "--input binds"
            spec.diags.add(Diagnostic("E305", f"{both} `{want}` to both {bindings[want]} and {got}", decl.pos))
        bindings[want] = got


def _reads(root: UnitDef, written: Any) -> set[str]:
    """The names a dimension as written reads, through the `let` values it names (the symbols among them)."""
    lets = {let.name: let.value for let in root.lets}
    todo = list(template_names(written)) if isinstance(written, Template) else [written]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += template_names(lets[name]) if name in lets else ()
    return seen
