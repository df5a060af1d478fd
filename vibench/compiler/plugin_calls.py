"""Calling a plug-in block: a method that raises, or returns what it may not, is error E114 at the node
that uses the block, naming the block, its plug-in and what went wrong; never a traceback of vibench.

vibench calls its own blocks directly (one that fails is a bug in vibench: an internal error). A block
from anywhere else (a ``vibench.blocks`` entry point's, or a class a script registers) is called through
:func:`call`, which turns its exceptions into :class:`PluginFailure` (a ``BaseException`` too; only a Ctrl-C or a
SIGTERM on the main thread stops the run, :func:`interrupts`), and what it returns is checked before the compiler
uses it:

* ``infer``: a list of :class:`~vibench.compiler.ir.TensorType`, one per port of ``outputs`` (one or more
  when the block declares none, as ``split`` does), each dim a whole number in [0, 2**62] or a symbolic
  expression (rebuilt canonically: :func:`~vibench.compiler.plugin_checks.checked_dim`) and each dtype one of
  vibench's (``float32``, ``int64``, ...); a ShapeError or NeedConcrete it raises is the spec's error only
  when its fields are what ``ctx.fail`` and ``ctx.concrete`` make;
* ``param_count``, ``buffer_count``, ``submodule_count``: whole numbers in [0, 2**62]; ``flops``: one as well,
  or a symbolic expression (beyond 2**62 the spec's when its sizes make it); the values ``infer`` sets with
  ``ctx.set``: what the block's parameter model takes, bounded as a spec's values are;
* ``init_code``, ``call_code``, ``inplace_code``, ``unpack``: expressions made of code nodes
  (:mod:`vibench.compiler.codegen.code`), whose names are identifiers and whose constants plain values.
  Text is refused, never parsed: a plug-in that formatted a spec's string into source text would let the
  spec write code into model.py;
* its parameter model (:func:`validated`): a validator that raises anything but a ValueError is its failure.

The shapes pass runs all of them on every node of a plug-in block (:func:`~vibench.compiler.plugin_rule.rule`,
which checks what the shape rule and the counts return), so that ``--check`` and the editor report what writing
model.py would meet; the emitter checks its own calls with :func:`code` and :func:`optional_code`.

>>> PluginFailure("my_block", "`infer` returned a wrong value", found="None").diagnostic(None, "n0").code
'E114'
"""

from __future__ import annotations

import ast
import builtins
import sys
from collections.abc import Callable
from typing import Any

from vibench.compiler.blocks.base import IMPORTS, MODEL_NAMES, Block
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.flat_expressions import LAID_OUT
from vibench.compiler.diagnostics import Diagnostic
from vibench.compiler.ir import Pos, TensorType
from vibench.compiler.plugin_checks import clip_text as _clip
from vibench.compiler.plugin_checks import (
    constant_problem,
    exception_text,
    origin,
    shown,
    unbound_reads,
)
from vibench.compiler.plugin_guard import guarded
from vibench.compiler.plugin_guard import interrupts as interrupts  # where callers import it from
from vibench.compiler.registry_plugins import _raised_at

CODE = "E114"
CODE_NODES = "code nodes built with vibench.compiler.codegen.code (`c.call`, `c.ref`, `c.const`, ...)"


class PluginFailure(Exception):
    """A plug-in block's method raised, or returned what it may not: ``problem`` says which and how."""

    def __init__(self, block: str, problem: str, *, expected: str | None = None, found: str | None = None,
                 origin: str = "", notes: tuple[str, ...] = ()) -> None:
        super().__init__(problem)
        self.block = block
        self.problem = problem
        self.expected = expected
        self.found = found
        self.origin = origin
        self.notes = notes

    def diagnostic(self, pos: Pos | None, node: str | None) -> Diagnostic:
        """E114 at the node that uses the block."""
        origin = (f"`{self.block}` is a block of {self.origin}",) if self.origin else ()
        where = f" at node `{node}`" if node else ""
        return Diagnostic(CODE, f"plug-in block `{self.block}` failed{where}: {self.problem}", pos, node=node,
                          expected=self.expected, found=self.found, notes=origin + self.notes,
                          hint="the plug-in is at fault, not the spec: report it to the plug-in's authors, or "
                          "uninstall its distribution")


def is_plugin(block: Block) -> bool:
    """Whether ``block`` is not one of vibench's own (its class is defined outside the vibench package)."""
    return str(getattr(type(block), "__module__", "")).split(".")[0] != "vibench"


def failure(block: Block, problem: str, **details: Any) -> PluginFailure:
    """A :class:`PluginFailure` of ``block``, naming its plug-in."""
    return PluginFailure(block.name, problem, origin=origin(block), **details)


def call(block: Block, method: str, *args: Any, passing: tuple[type[BaseException], ...] = (),
         passes: Callable[[BaseException], bool] | None = None) -> Any:
    """``block.<method>(*args)``; an exception (but those of ``passing``, those ``passes`` says pass, and an
    interrupt: :func:`interrupts`) is a :class:`PluginFailure`, whatever its class: ``SystemExit``,
    ``GeneratorExit``, ``asyncio.CancelledError`` or a ``BaseException`` of the plug-in's own too; its note says
    where in the plug-in's own files it was raised (file, line and source line: none of vibench's frames)."""
    return _guarded(block, f"`{method}`", lambda: getattr(block, method)(*args), passing, passes)


def validated(block: Block, values: dict[str, Any]) -> Any:
    """``block.Params.model_validate(values)``, guarded as :func:`call` guards a method: pydantic's
    ValidationError (the node's values refused: E104, E111-E113) passes; whatever else a validator of the
    plug-in raises (a RuntimeError, a KeyError: pydantic turns only a ValueError into a refusal) is its failure."""
    from pydantic import ValidationError

    model = _clip(str(getattr(block.Params, "__name__", "Params")))
    return _guarded(block, f"parameter model `{model}`", lambda: block.Params.model_validate(values),
                    (ValidationError,))


def _guarded(block: Block, what: str, run: Callable[[], Any], passing: tuple[type[BaseException], ...],
             passes: Callable[[BaseException], bool] | None = None) -> Any:
    stdout = sys.stdout  # (a plug-in that replaces it takes nothing from the calls after it)
    try:
        return run()
    except passing:
        raise
    except BaseException as err:  # noqa: BLE001 - the plug-in's own failure, whatever it is (interrupts go on)
        if interrupts(err) or (passes is not None and passes(err)):
            raise
        notes = _raised_at(err, str(getattr(type(block), "__module__", "")))
        raise failure(block, f"its {what} raised {_clip(type(err).__name__)}", found=exception_text(err),
                      notes=notes) from None
    finally:
        sys.stdout = stdout


# --------------------------------------------------------------------------------------------
# code
# --------------------------------------------------------------------------------------------


def code(block: Block, method: str, *args: Any, targets: frozenset[str] | None = None) -> ast.expr:
    """``block.<method>(*args)`` (``call_code``, or ``unpack`` with ``targets``), checked to be an expression of
    code nodes (with ``targets``: an assignment target made of those names)."""
    made = _made(block, method, args, None, targets)
    assert made is not None  # (None is refused unless optional)
    return made


def optional_code(block: Block, method: str, *args: Any) -> ast.expr | None:
    """``init_code`` or ``inplace_code``: None, or an expression of code nodes."""
    return _made(block, method, args, CODE_NODES + ", or None", None)


def _made(block: Block, method: str, args: tuple[Any, ...], optional: str | None, targets: frozenset[str] | None
          ) -> ast.expr | None:
    made = call(block, method, *args)
    if made is None and optional is not None:
        return None
    if isinstance(made, str):
        raise failure(block, f"`{method}` returned text, not code nodes", expected=CODE_NODES, found=shown(made),
                      notes=("model.py is built from code nodes, never from pasted text, so that a parameter "
                             "value enters it only as a literal (`c.const`): see docs/extending.md",))
    problem = code_problem(made, targets)
    if problem is not None:
        expected = optional or CODE_NODES
        if targets is not None:
            expected = "an assignment target of the names it is given (a tuple of them, as `c.tuple_of(*outs)`)"
        found = _source_of(made) if isinstance(made, ast.expr) else shown(made)  # (not `<ast.Call object at ...>`)
        raise failure(block, f"`{method}` returned {problem}", expected=expected, found=found)
    return made  # type: ignore[no-any-return]


_NAMES = {ast.Name: "id", ast.Attribute: "attr", ast.keyword: "arg", ast.arg: "arg"}
_TARGETS = (ast.Name, ast.Tuple, ast.List, ast.Starred, ast.expr_context)


def code_problem(tree: Any, targets: frozenset[str] | None = None) -> str | None:
    """What keeps ``tree`` from being an expression of model.py (None: nothing): not an ``ast.expr``, a
    node of no expression, a name that is not an identifier, a constant that is no plain value; with
    ``targets``, anything but those names in a tuple."""
    if not isinstance(tree, ast.expr):
        return f"{shown(tree)}, not an expression"
    # (walked and compiled, a tree of the plug-in's own node classes runs its code: what that raises says so)
    return guarded(lambda: _tree_problem(tree, targets),
                   lambda err: f"a tree that is not an expression ({exception_text(err)})")


def _tree_problem(tree: ast.expr, targets: frozenset[str] | None) -> str | None:
    for node in c.walk(tree):
        if targets is not None and not isinstance(node, _TARGETS):
            return f"a {type(node).__name__} node where only names may stand"
        field = _NAMES.get(type(node))
        name = getattr(node, field, None) if field is not None else None
        unnamed = name is None and isinstance(node, ast.keyword)  # `**kwargs`: a keyword without a name
        if field is not None and not unnamed and not (isinstance(name, str) and c.is_identifier(name)):
            return f"the name {shown(name)}, not an identifier"
        if targets is not None and isinstance(node, ast.Name) and node.id not in targets:
            return f"the name `{node.id}`, not one of the outputs it is given"
        if isinstance(node, ast.Constant) and (problem := constant_problem(node.value)) is not None:
            return f"the constant {shown(node.value)}, {problem}"
        if isinstance(node, ast.expr) and not isinstance(node, LAID_OUT):  # (was an internal error at -o)
            return (f"a {type(node).__name__} node, which model.py's code does not use (write the computation "
                    "in a native, the block's own torch class or function)")
    expression = ast.Expression(body=c.clone(tree))
    compile(ast.fix_missing_locations(expression), "<plug-in code>", "eval")  # every node where it may be
    return None


def _code_of_node(block: Block, p: Any, n_inputs: int, outs: list[TensorType]) -> None:
    """Run what the emitter will run for a node of ``block`` (its code, natives and in-place facts), so that
    the shapes pass reports a failure writing model.py would meet."""
    args = [c.ref(f"_vb_in{k}") for k in range(n_inputs)]
    mod = c.ref("_vb_mod")
    made = {"init_code": optional_code(block, "init_code", p)}
    call(block, "has_module", p)
    made["call_code"] = code(block, "call_code", p, args, mod)
    made["inplace_code"] = optional_code(block, "inplace_code", p, args, mod)
    if len(outs) > 1:
        names = [f"_vb_out{k}" for k in range(len(outs))]
        code(block, "unpack", [c.ref(n) for n in names], targets=frozenset(names))
    call(block, "output_is_fresh", outs[0])
    given = call(block, "native_classes", p)
    # Read once, compared by identity: a list of the plug-in's own making runs its code as it is iterated, and
    # an object of its own as it is compared (natives are classes and functions, equal only to themselves).
    natives = guarded(lambda: tuple(given) if isinstance(given, tuple | list) else None, lambda _: None)
    if natives is None or not all(any(n is native for native in block.natives) for n in natives):
        raise failure(block, "`native_classes` returned a wrong value", expected="some of the block's `natives`",
                      found=shown(given))
    _check_native_order(block, natives)
    arguments = {f"_vb_in{k}" for k in range(n_inputs)} | {"_vb_mod"}
    for method, tree in made.items():
        if tree is not None:
            _check_names(block, method, tree, arguments, natives)
    operator = block.augmented  # (a str of the plug-in's own class would run its code as it is compared)
    if not (operator is None or (type(operator) is str and operator in ("+", "-", "*"))):
        raise failure(block, "its `augmented` is not an operator model.py writes", expected='None, "+", "-" or "*"',
                      found=shown(block.augmented))


_BUILTINS = frozenset(dir(builtins))


def _check_names(block: Block, method: str, tree: ast.expr, given: set[str], natives: Any) -> None:
    """The names ``tree`` (what ``method`` returned) reads must be defined in model.py where it stands: the
    arguments it was given, ``self``, torch and nn, the block's ``imports``, its natives for these parameters
    (``natives``: what ``native_classes`` returned, copied into model.py) and Python's builtins. Another name
    (a native left out of ``natives``, a helper of the plug-in's module) would be a NameError when model.py
    runs: E114 now, with a "did you mean" over the block's natives."""
    from vibench.compiler.diagnostics import suggest

    own = {n if isinstance(n, str) else str(getattr(n, "__name__", "")) for n in natives}
    defined = given | own | MODEL_NAMES | {"self"} | {IMPORTS[i] for i in block.imports if i in IMPORTS}
    for node in unbound_reads(tree):  # (a comprehension's own variable is bound inside it, not in its iterable)
        if node.id in defined or node.id in _BUILTINS:
            continue
        name = node.id
        all_natives = [n if isinstance(n, str) else str(getattr(n, "__name__", "")) for n in block.natives]
        notes: list[str] = []
        if name in all_natives:
            notes.append(f"`{name}` is one of its `natives`, but `native_classes` does not return it for these "
                         "parameters, so model.py does not define it")
        elif name in IMPORTS:
            notes.append(f'model.py imports `{name}` for a block that lists "{name}" in its `imports`')
        else:
            module = sys.modules.get(str(getattr(type(block), "__module__", "")))
            if isinstance(getattr(module, name, None), type) or callable(getattr(module, name, None)):
                notes.append(f"`{name}` is defined in the plug-in's module {getattr(module, '__name__', '?')}: list "
                             "it in the block's `natives` so that model.py holds its source")
        hint = suggest(name, all_natives)
        raise failure(block, f"its `{method}` reads the name `{name}`, which model.py does not define "
                      "(model.py would fail with a NameError)", expected="names model.py defines: the block's "
                      "natives, torch, nn, its `imports`, Python's builtins and the arguments it is given",
                      found=f"`{name}` in {_source_of(tree)}",
                      notes=((hint,) if hint else ()) + tuple(notes))


def _check_native_order(block: Block, natives: Any) -> None:
    """E114 for a native that needs another of the block's natives while model.py defines it (its base class,
    a decorator, a class attribute, a default value, an annotation, or what a function it calls then reads:
    :func:`~vibench.compiler.blocks.native_order.definition_needs`) when ``native_classes`` leaves that one out
    for these parameters: model.py would stop at its import with a NameError. (The emitter writes the natives it
    holds in the order they need each other: :func:`~vibench.compiler.emit_names.in_definition_order`.)"""
    from vibench.compiler.blocks.native_order import native_name, needs_of

    brought = {native_name(n) for n in natives}
    left_out = {native_name(n) for n in block.natives} - brought
    needs = needs_of(tuple(block.natives)) if left_out else {}
    for native in natives if left_out else ():
        read = sorted(needs[native_name(native)] & left_out)
        if read:
            raise failure(block, f"its native `{native_name(native)}` reads the native `{read[0]}` when model.py "
                          f"defines it, and `native_classes` leaves `{read[0]}` out for these parameters (model.py "
                          "would fail at its import with a NameError)", expected="`native_classes` returning every "
                          "native its natives read as they are defined (a base class, a class attribute, a "
                          "default value, an annotation, what a function they call then reads)",
                          found=f"`native_classes` returned {shown(natives)}")


def _source_of(tree: ast.expr) -> str:
    """A code tree as model.py would write it, for a message (bounded)."""
    text = guarded(lambda: ast.unparse(ast.fix_missing_locations(c.clone(tree))), lambda _: None)
    return _clip(f"`{text}`") if text is not None else f"a {type(tree).__name__} node"  # (one unparse does not take)
