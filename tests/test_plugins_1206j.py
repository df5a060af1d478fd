"""Plug-in blocks, as the QA pass of 1206j found them (docs/extending.md, "What a plug-in block must be"):

* a `SystemExit` raised by the code of a value a plug-in gave vibench (the `__repr__` of what `infer` returned,
  the `__str__` of the exception it raised or its constructor raised, the `__iter__`, `__index__` or `__eq__`
  of a shape, a dim, a name, a list of natives) ended vibench silently with the plug-in's exit code: `--check`
  printed nothing with rc 0, `-o` wrote nothing, `--blocks` listed nothing, an unknown block's E110 never came
  and `vibench.check` let it escape. It is E114 at the node (or W121 for the constructor), the value named by
  its type; a Ctrl-C there still stops the run;
* an output size that some sizes of the node make negative (`L - 100` from a block that requires nothing) was
  taken, and `--input x=2,2,8` printed `output y: [2, 2, -92]`: it is a constraint of the node (`L >= 100`),
  listed by `--check`, checked by `--input` and by model.py; negative for every size the spec allows, E114;
* `flops` naming a symbol no input holds (`3 * Z`) or negative for some size of its symbol the node takes
  (`L - 100`, printed `FLOPs -92`) is E114.

The plug-ins are installed as pip does and vibench runs in a fresh process (see tests/test_plugins_loading.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_plugins_loading import install, run_python, spec_text

PLUGIN = '''
from vibench.compiler.blocks.base import Block
from vibench.compiler.codegen import code as c
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Expr
from vibench.schemas.blocks import NoParams


class Exits:
    """A value whose every reading raises SystemExit(0) (but its hash)."""

    def __repr__(self):
        raise SystemExit(0)

    __str__ = __index__ = __iter__ = __bool__ = __repr__

    def __eq__(self, other):
        raise SystemExit(0)

    def __hash__(self):
        return 1


class ExitTuple(tuple):
    def __iter__(self):
        raise SystemExit(0)

    def __repr__(self):
        raise SystemExit(0)


class ExitStr(str):
    def __eq__(self, other):
        raise SystemExit(0)

    def __hash__(self):
        raise SystemExit(0)


class WeirdErr(Exception):
    def __str__(self):
        raise SystemExit(0)


class Interrupts:
    def __repr__(self):
        raise KeyboardInterrupt


class Native:
    pass


def block(name, **methods):
    namespace = {"__doc__": "A plug-in block.", "name": name, "Params": NoParams, "__module__": __name__,
                 "infer": lambda self, p, ins, ctx: [ins[0]],
                 "call_code": lambda self, p, args, mod: c.call("torch.tanh", args[0])}
    register(type(f"B_{name}", (Block,), namespace | methods))


def _raises(self, p, ins, ctx):
    raise WeirdErr()


def _sets(self, p, ins, ctx):
    ctx.set(Exits(), 1)
    return [ins[0]]


def _capped(self, p, ins, ctx):
    b, ch, length = ins[0].shape
    ctx.require(length, "<=", 50, "the series is short")
    return [TensorType((b, ch, length - 100), ins[0].dtype)]


def _required(self, p, ins, ctx):
    b, ch, length = ins[0].shape
    ctx.require(length, ">=", 100, "the series has at least 100 samples")
    return [TensorType((b, ch, length - 100), ins[0].dtype)]


def _reason(reason):
    def infer(self, p, ins, ctx):
        ctx.require(ins[0].shape[2], ">=", 5, reason)
        return [ins[0]]

    return infer


block("reason_exit", infer=_reason(Exits()))
block("reason_int", infer=_reason(12345))
block("repr_exit", infer=lambda self, p, ins, ctx: Exits())
block("str_exit", infer=_raises)
block("dim_exit", infer=lambda self, p, ins, ctx: [TensorType((ins[0].shape[0], Exits()), ins[0].dtype)])
block("shape_exit", infer=lambda self, p, ins, ctx: [TensorType(ExitTuple(ins[0].shape), ins[0].dtype)])
block("list_exit", infer=lambda self, p, ins, ctx: ExitTuple([ins[0]]))
block("dtype_exit", infer=lambda self, p, ins, ctx: [TensorType(ins[0].shape, ExitStr(ins[0].dtype))])
block("count_exit", param_count=lambda self, p, ins: Exits())
block("set_exit", infer=_sets)
block("natives_exit", natives=(Native,), native_classes=lambda self, p: [Exits()])
block("code_exit", call_code=lambda self, p, args, mod: Exits())
block("repr_interrupt", infer=lambda self, p, ins, ctx: Interrupts())

block("shrink", infer=lambda self, p, ins, ctx: [TensorType((*ins[0].shape[:2], ins[0].shape[2] - 100),
                                                            ins[0].dtype)])
block("capped_shrink", infer=_capped)
block("required_shrink", infer=_required, flops=lambda self, p, ins, outs: ins[0].shape[2] - 100)
block("flops_z", flops=lambda self, p, ins, outs: 3 * Expr.symbol("Z"))
block("flops_negative", flops=lambda self, p, ins, outs: ins[0].shape[2] - 100)
block("flops_several", flops=lambda self, p, ins, outs: 2 * ins[0].shape[0] * ins[0].shape[2] - ins[0].shape[0] + 1)
'''

CONSTRUCTOR = '''
from vibench.compiler.blocks.base import Block
from vibench.compiler.codegen import code as c
from vibench.compiler.registry import register
from vibench.schemas.blocks import NoParams


class WeirdErr(Exception):
    def __str__(self):
        raise SystemExit(0)


@register
class CtorExit(Block):
    """A block whose constructor raises an exception that exits as it is shown."""

    name, Params = "ctor_exit", NoParams

    def __init__(self):
        raise WeirdErr()

    def infer(self, p, ins, ctx):
        return [ins[0]]

    def call_code(self, p, args, mod):
        return c.call("torch.tanh", args[0])
'''

EXITS = ("repr_exit", "str_exit", "dim_exit", "shape_exit", "list_exit", "count_exit", "set_exit", "natives_exit",
         "code_exit", "reason_exit", "reason_int")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("p1206j")
    install(tmp / "site", "p_j", {"p_j/__init__.py": PLUGIN}, ["j = p_j"])
    install(tmp / "ctor_site", "p_c", {"p_c/__init__.py": CONSTRUCTOR}, ["c = p_c"])  # (at its own site: it ended
    # every process that loaded it)
    for block in (*EXITS, "ctor_exit", "dtype_exit", "repr_interrupt", "shrink", "capped_shrink",
                  "required_shrink", "flops_z", "flops_negative", "flops_several"):
        (tmp / f"{block}.yaml").write_text(spec_text(block, shape="[B, 2, L]"))
    (tmp / "unknown.yaml").write_text(spec_text("relu_x"))
    return tmp


def _cli(site: Path, *args: str, at: str = "site") -> dict:
    """``vibench-compile ARGS`` in a fresh process: its exit code (or the SystemExit that ended it) and output."""
    run = run_python(f"""
        import contextlib, io, json, sys
        from vibench.compiler.cli import main

        out, err = io.StringIO(), io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                rc = main({list(args)!r})
        except SystemExit as exit:
            rc = f"SystemExit({{exit.code}})"
        print(json.dumps({{"rc": rc, "out": out.getvalue(), "err": err.getvalue()}}))
    """, [site / at], site)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stdout[-2000:] + run.stderr[-3000:]
    return json.loads(run.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def _check(site: Path, *names: str, inputs: dict | None = None, at: str = "site") -> dict:
    """``vibench.check`` of each spec in one fresh process: its diagnostics as JSON, "ok", or what escaped."""
    run = run_python(f"""
        import json
        import vibench

        found = {{}}
        for name in {list(names)!r}:
            try:
                vibench.check(name + ".yaml", inputs={inputs!r})
                found[name] = "ok"
            except vibench.SpecError as err:
                found[name] = [d.to_json() for d in err.diagnostics]
            except BaseException as err:
                found[name] = type(err).__name__
        print(json.dumps(found))
    """, [site / at], site)
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stdout[-2000:] + run.stderr[-3000:]
    return json.loads(run.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def _only(found: object) -> dict:
    assert isinstance(found, list) and len(found) == 1, found
    return found[0]  # type: ignore[no-any-return]


# --------------------------------------------------------------------------------------------
# a SystemExit of a plug-in's value
# --------------------------------------------------------------------------------------------


def test_the_cli_reports_a_value_whose_repr_exits(site: Path) -> None:
    """`--check` printed nothing and returned 0; `-o` wrote nothing and returned 0."""
    for args in (["repr_exit.yaml", "--check"], ["repr_exit.yaml", "-o", "model.py"]):
        run = _cli(site, *args)
        assert run["rc"] == 1, run
        assert "error[E114]: plug-in block `repr_exit` failed at node `n0`: `infer` returned a wrong value" \
            in run["err"], run["err"]
        assert "found: a Exits" in run["err"], run["err"]
    assert not (site / "model.py").exists()


def test_each_value_that_exits_as_it_is_read_is_the_plugins_failure(site: Path) -> None:
    found = _check(site, *EXITS)
    for name in EXITS:
        diagnostic = _only(found[name])
        assert (diagnostic["code"], diagnostic["node"]) == ("E114", "n0"), (name, diagnostic)
        assert diagnostic["message"].startswith(f"plug-in block `{name}` failed at node `n0`: "), diagnostic
    assert _only(found["str_exit"])["found"] == "WeirdErr: (its message cannot be shown)"
    assert "does not read: reading it raised SystemExit" in _only(found["shape_exit"])["message"]
    assert "does not read: reading it raised SystemExit" in _only(found["list_exit"])["message"]
    assert "its `infer` set a Exits with `ctx.set`" in _only(found["set_exit"])["message"]
    assert "`call_code` returned a Exits, not an expression" in _only(found["code_exit"])["message"]
    # a constraint's reason goes into messages and model.py: formatted later, its __str__ ended vibench silently
    assert _only(found["reason_exit"])["found"] == "TypeError: ctx.require's reason must be a str; found Exits"
    assert _only(found["reason_int"])["found"] == "TypeError: ctx.require's reason must be a str; found int"


def test_a_dtype_of_the_plugins_own_str_class_is_read_as_plain_text(site: Path) -> None:
    """Its `__eq__` and `__hash__` exit: the dtype is taken as the text it holds, and no code of its runs later."""
    assert _check(site, "dtype_exit") == {"dtype_exit": "ok"}


def test_a_constructor_whose_exception_exits_as_it_is_shown_refuses_its_block(site: Path) -> None:
    """`--blocks` listed nothing with rc 0, and a spec with an unknown block compiled with rc 0 and no E110."""
    listing = _cli(site, "--blocks", at="ctor_site")
    assert listing["rc"] == 0 and "conv1d" in listing["out"], listing
    assert "plug-in block `ctor_exit` of `c = p_c` (distribution p_c 0.1) is refused: it cannot be created " \
        "(WeirdErr)" in listing["err"], listing["err"]
    unknown = _cli(site, "unknown.yaml", "--check", at="ctor_site")
    assert unknown["rc"] == 1 and "error[E110]: unknown block `relu_x`" in unknown["err"], unknown
    used = _only(_check(site, "ctor_exit", at="ctor_site")["ctor_exit"])
    assert used["code"] == "E110" and any("it cannot be created (WeirdErr)" in n for n in used["notes"]), used


def test_a_ctrl_c_in_a_plugins_repr_still_stops_the_run(site: Path) -> None:
    assert _check(site, "repr_interrupt") == {"repr_interrupt": "KeyboardInterrupt"}


def test_the_guard_names_a_failure_and_lets_an_interrupt_through() -> None:
    import sys

    from vibench.compiler.registry_plugins import guarded

    assert guarded(lambda: sys.exit(0), lambda err: f"failed: {type(err).__name__}") == "failed: SystemExit"
    assert guarded(lambda: "read", lambda err: "failed") == "read"
    with pytest.raises(KeyboardInterrupt):
        guarded(lambda: (_ for _ in ()).throw(KeyboardInterrupt), lambda err: "failed")


# --------------------------------------------------------------------------------------------
# output sizes and FLOP counts that go negative
# --------------------------------------------------------------------------------------------


def test_an_output_size_that_may_go_negative_is_a_constraint_of_the_node(site: Path) -> None:
    check = _cli(site, "shrink.yaml", "--check")
    assert check["rc"] == 0, check
    assert "output y: [B, 2, L - 100] float32" in check["out"]
    assert "L >= 100 (n0): plug-in block `shrink` gives dimension 2 of its output 0 the size `L - 100`" in check["out"]
    fits = _cli(site, "shrink.yaml", "--check", "--input", "x=2,2,120")
    assert fits["rc"] == 0 and "output y: [2, 2, 20] float32" in fits["out"], fits
    written = _cli(site, "shrink.yaml", "-o", "shrink.py")
    assert written["rc"] == 0, written
    model = (site / "shrink.py").read_text()
    assert "x.shape[2] >= 100" in model and "(plug-in block `shrink` gives dimension 2" in model  # checked as it runs


def test_input_sizes_that_make_an_output_size_negative_are_refused(site: Path) -> None:
    """`--input x=2,2,8` printed `output y: [2, 2, -92]` with rc 0."""
    run = _cli(site, "shrink.yaml", "--check", "--input", "x=2,2,8")
    assert run["rc"] == 1 and "[2, 2, -92]" not in run["out"], run
    diagnostic = _only(_check(site, "shrink", inputs={"x": (2, 2, 8)})["shrink"])
    assert diagnostic["message"] == "the input shapes violate a constraint: L >= 100", diagnostic
    assert (diagnostic["node"], diagnostic["found"]) == ("n0", "L = 8"), diagnostic
    assert diagnostic["notes"][0].startswith("needed because plug-in block `shrink` gives dimension 2 of its output "
                                             "0 the size `L - 100`, which may not be negative"), diagnostic


def test_input_sizes_that_make_an_output_size_negative_are_the_plugins_failure(site: Path) -> None:
    diagnostic = _only(_check(site, "shrink", inputs={"x": (2, 2, 8)})["shrink"])
    assert diagnostic["code"] == "E114", diagnostic


def test_the_rule_records_the_constraint_as_the_plugins() -> None:
    """What the shapes pass gets from the rule: `L - 100 >= 0`, E114 when `--input` breaks it."""
    from vibench.compiler.blocks.base import Block
    from vibench.compiler.constraints import NodeContext
    from vibench.compiler.ir import TensorType
    from vibench.compiler.plugin_rule import rule
    from vibench.compiler.space import SymbolSpace
    from vibench.compiler.symbolic import Expr
    from vibench.schemas.blocks import NoParams

    class Shrink(Block):  # (defined outside the vibench package: a plug-in's block)
        name, Params = "shrink", NoParams

        def infer(self, p: NoParams, ins: list[TensorType], ctx: NodeContext) -> list[TensorType]:
            b, ch, length = ins[0].shape
            return [TensorType((b, ch, length - 100), ins[0].dtype)]

    B, L = Expr.symbol("B"), Expr.symbol("L")
    ctx = NodeContext(SymbolSpace(), "s", "shrink", None, {}, {})
    instance = rule(Shrink(), NoParams(), [TensorType((B, 2, L))], ctx)
    assert instance.outputs[0][1].shape == (B, 2, L - 100)
    (constraint,) = ctx.space.constraints
    assert (constraint.lhs, constraint.op, constraint.text, constraint.code) == (L - 100, ">=", "L >= 100", "E114")


def test_an_output_size_negative_for_every_size_the_spec_allows_is_the_plugins_failure(site: Path) -> None:
    diagnostic = _only(_check(site, "capped_shrink")["capped_shrink"])
    assert diagnostic["code"] == "E114", diagnostic
    assert diagnostic["message"].endswith("dimension 2 is negative for every size the spec allows"), diagnostic
    assert diagnostic["found"] == "dimension 2 is `L - 100` (in (Expr('B'), 2, Expr('L - 100')))", diagnostic


def test_sizes_a_block_requires_need_no_constraint_of_vibenchs(site: Path) -> None:
    """A block that requires L >= 100 itself gets no second constraint; its FLOP count `L - 100` is then fine."""
    run = _cli(site, "required_shrink.yaml", "--check", "--summary")
    assert run["rc"] == 0, run
    assert "L >= 100 (n0): the series has at least 100 samples" in run["out"]
    assert "plug-in block `required_shrink` gives" not in run["out"]
    assert "total FLOPs: L - 100 (symbolic; bind with --input)" in run["out"]


def test_a_flop_count_of_a_symbol_no_input_holds_is_the_plugins_failure(site: Path) -> None:
    """It printed `total FLOPs: 3 * Z (symbolic; bind with --input)`."""
    diagnostic = _only(_check(site, "flops_z")["flops_z"])
    assert (diagnostic["code"], diagnostic["node"]) == ("E114", "n0"), diagnostic
    assert diagnostic["message"].endswith("`flops` returned a count that names the symbol 'Z', which no input "
                                          "shape of the node holds"), diagnostic
    assert diagnostic["expected"] == "a count of numbers and the symbols of the node's input sizes (`B`, `L`)"
    assert diagnostic["found"] == "`3 * Z`", diagnostic


def test_a_flop_count_negative_for_sizes_the_node_takes_is_the_plugins_failure(site: Path) -> None:
    """`--summary --input x=2,2,8` printed `FLOPs -92`."""
    run = _cli(site, "flops_negative.yaml", "--check", "--summary", "--input", "x=2,2,8")
    assert run["rc"] == 1 and "-92" not in run["out"], run
    for inputs in (None, {"x": (2, 2, 8)}):
        diagnostic = _only(_check(site, "flops_negative", inputs=inputs)["flops_negative"])
        assert diagnostic["code"] == "E114", diagnostic
        assert diagnostic["message"].endswith("`flops` returned a count that is negative for some sizes the node "
                                              "takes (it is not negative only where L >= 100, which the block does "
                                              "not require)"), diagnostic


def test_a_flop_count_of_several_symbols_the_bounds_cannot_decide_is_taken(site: Path) -> None:
    """`2 * B * L - B + 1` is never negative; only a count of one symbol is searched for a negative size."""
    assert _check(site, "flops_several") == {"flops_several": "ok"}
