"""The active inputs' types in elaboration (:class:`InputTypes`, a part of
:class:`~vibench.compiler.elaborate.Elaborator`): each input's declared dimensions (its layout and a `${...}` shape
evaluated, at most :data:`~vibench.compiler.limits.MAX_RANK` of them, a symbol a `${...}` gives checked as a written
one), then its type, a free dimension a symbol and a parameter's or `let`'s name its value."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vibench.compiler.diagnostics import Diagnostic, clip
from vibench.compiler.elaborated import Failed, LayoutError, declared_dims, expr_diag
from vibench.compiler.expr import ExprError, Unknown, evaluate_value
from vibench.compiler.ir import InputDecl, LetDef, Pos, Template, TensorType, UnitDef
from vibench.compiler.limits import MAX_RANK, too_many_input_dims
from vibench.compiler.resolve_decls import name_problem
from vibench.compiler.symbolic import Dim, Expr

if TYPE_CHECKING:
    from vibench.compiler.shapes import _Specializer


class InputTypes:
    """The input methods of :class:`~vibench.compiler.elaborate.Elaborator`, which sets the state below."""

    owner: _Specializer
    udef: UnitDef
    params: dict[str, Any]
    env: dict[str, Any]
    concrete: dict[str, int]
    waiting: dict[str, LetDef]

    if TYPE_CHECKING:  # the driver's and its other parts'
        def error(self, diag: Diagnostic) -> Failed: ...
        def evaluate(self, value: Any, env: Any, pos: Pos | None, where: str, node: str | None, *,
                     nested: bool = False) -> Any: ...
        def refuse_waiting(self, value: Any, pos: Pos | None, where: str) -> None: ...
        def let_dimension(self, name: str, decl: InputDecl) -> Any: ...
        def setting_pos(self, names: Any, value: Any = None, env: Any = None, each: Any = None) -> Pos | None: ...

    def input_types(self, active: list[InputDecl]) -> list[tuple[str, TensorType]]:
        """The active inputs' types, from their declarations; a free dimension becomes a symbol (and an
        ``Unknown`` in the environment, so that an expression reading it asks for it, NeedConcrete). A name of a
        parameter or `let` is its value (a `let` that reads the sizes: computed once they are bound)."""
        declared = {d.name: self.declared(d) for d in active}
        lets = {let.name for let in self.udef.lets}
        for dims in declared.values():
            for s in dims:
                if not isinstance(s, str) or s in self.waiting:  # a `let`'s name, never a symbol: its value, below
                    continue
                if s in self.concrete:
                    self.env[s] = self.concrete[s]
                elif s not in self.env:
                    self.env[s] = Unknown(f"`{s}` is a free dimension of {self.udef.name}'s input", symbol=s)
        inputs = []
        for decl in active:
            out: list[Dim] = []
            for d in declared[decl.name]:
                if isinstance(d, int):
                    out.append(d)
                elif isinstance(d, str) and (d in self.params or d in lets):  # a name reads the value
                    value = self.let_dimension(d, decl) if d in self.waiting else self.env[d]
                    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                        # (where the user set it, in another file; else the dimension, as written in the shape)
                        raise self.error(Diagnostic("E212", f"a dimension of input `{decl.name}` must be a positive "
                                                    "integer", self.setting_pos({d}) or decl.dim_at(d) or decl.pos,
                                                    found=clip(f"{d} = {value!r}", 80)))
                    out.append(value)
                elif isinstance(d, str):
                    out.append(self.concrete.get(d, Expr.symbol(d)))
                else:
                    try:
                        value = evaluate_value(d, self.env)
                    except ExprError as err:
                        raise self.error(expr_diag(err, d.pos, f"the shape of input `{decl.name}`")) from None
                    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                        raise self.error(Diagnostic("E212", f"a dimension of input `{decl.name}` must be a positive "
                                                    "integer", d.pos, found=repr(value)))
                    out.append(value)
            inputs.append((decl.name, TensorType(tuple(out), decl.dtype)))
        return inputs

    def declared(self, decl: InputDecl) -> list[Any]:
        layout, shape = decl.layout, decl.shape
        if isinstance(layout, Template):  # first, alone: an error in it is said of the layout, at the layout
            where = f"the layout of input `{decl.name}`"
            self.refuse_waiting(layout, decl.pos, where)
            self.evaluate(layout, self.env, layout.pos or decl.pos, where, None)
        if isinstance(shape, Template):
            self.refuse_waiting(shape, decl.pos, f"the shape of input `{decl.name}`")
        try:
            dims = declared_dims(decl, self.env)
            if len(dims) > MAX_RANK:  # (a written list is refused as it is resolved; this is a `${...}`'s)
                raise self.error(too_many_input_dims(decl.name, len(dims), getattr(shape, "pos", None) or decl.pos))
            if isinstance(shape, Template):  # a symbol a `${...}` gives meets the rules of a written one (E106)
                problems = [p for d in dims if isinstance(d, str) and (p := name_problem(d, "shape symbol"))]
                for problem in problems:
                    self.owner.diags.add(problem(shape.pos or decl.pos))
                if problems:
                    raise Failed()
            return dims
        except ExprError as err:
            raise self.error(expr_diag(err, getattr(shape, "pos", None) or decl.pos,
                                       f"the shape of input `{decl.name}`")) from None
        except LayoutError as err:
            raise self.error(Diagnostic("E212", f"the layout of input `{decl.name}` must be BLC or BCL",
                                        getattr(layout, "pos", None) or decl.pos, expected="BLC or BCL",
                                        found=str(err))) from None
        except ValueError as err:
            raise self.error(Diagnostic("E212", f"invalid shape for input `{decl.name}`: {err}",
                                        getattr(shape, "pos", None) or decl.pos,
                                        expected="a list of positive integers and symbol names")) from None
