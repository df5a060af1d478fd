"""A plug-in block's `infer` naming an output size after a symbol none of the node's inputs holds (QA pass of
1206i, /tmp/qa_ext/p/newsymL and newsym_kw).

`infer` returning ``(B, C, Expr.symbol('Z'))`` was taken: `--check --input x=2,2,3` said ok with `output y: [2,
4, Z - 4]` and a constraint `Z >= 5` from the conv after it, model.py's forward checked nothing and torch failed
when it ran; a symbol `class` reaching a linear was the spec's E303 ("give `class` a number in `inputs:`"). It is
E114 at the node, the plug-in's failure, as a NeedConcrete naming such a symbol already was. Sizes made of the
inputs' symbols (and a tuple for the list of outputs, which docs/extending.md now says is taken) still compile.
"""

from __future__ import annotations

import json

import pytest

from tests.test_plugins_loading import install, run_python
from vibench.compiler.blocks.base import Block
from vibench.compiler.ir import TensorType
from vibench.compiler.plugin_calls import PluginFailure
from vibench.compiler.plugin_rule import outputs
from vibench.compiler.symbolic import Expr, floordiv
from vibench.schemas.blocks import NoParams

B, L = Expr.symbol("B"), Expr.symbol("L")
X = TensorType((B, 2, L), "float32")


class _Plugin(Block):  # (defined outside the vibench package: a plug-in's block, as is_plugin tells)
    name, Params = "p_sizes", NoParams


def _failure(shape: tuple, ins: list[TensorType]) -> PluginFailure:
    with pytest.raises(PluginFailure) as info:
        outputs(_Plugin(), [TensorType(shape, "float32")], NoParams(), ins)
    return info.value


@pytest.mark.parametrize(("dim", "symbol"), [(Expr.symbol("Z"), "Z"), (Expr.symbol("class"), "class"),
                                             (L - 4 + Expr.symbol("Z"), "Z"), (floordiv(Expr.symbol("Q"), 2), "Q")])
def test_an_output_size_of_a_symbol_no_input_holds_is_the_plugins_failure(dim: Expr, symbol: str) -> None:
    failure = _failure((B, 2, dim), [X])
    assert failure.problem == (f"`infer` returned a wrong shape for output 0: dimension 2 names the symbol "
                               f"'{symbol}', which no input shape of the node holds"), failure.problem
    assert failure.expected is not None and "input sizes (`B`, `L`)" in failure.expected, failure.expected
    assert failure.found is not None and failure.found.startswith(f"dimension 2 is `{dim}`"), failure.found


def test_inputs_of_fixed_sizes_give_no_symbol_to_name() -> None:
    failure = _failure((4, Expr.symbol("L")), [TensorType((4, 8), "float32")])
    assert "names the symbol 'L'" in failure.problem
    assert failure.expected is not None and "input sizes (none: they are fixed)" in failure.expected


def test_sizes_of_the_inputs_symbols_and_a_tuple_of_outputs_are_taken() -> None:
    y = TensorType((4, Expr.symbol("M")), "float32")  # a second input's symbol is the node's too
    shape = (B, 2 * L + 1, floordiv(L, 2), Expr.symbol("M"), 7)
    (out,) = outputs(_Plugin(), (TensorType(shape, "float32"),), NoParams(), [X, y])
    assert out == TensorType(shape, "float32")


# --------------------------------------------------------------------------------------------
# the QA's repros, compiled as a user does (the plug-in installed as pip does, in a fresh process)
# --------------------------------------------------------------------------------------------

PLUGIN = '''
from vibench.compiler.blocks.base import Block
from vibench.compiler.codegen import code as c
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Expr
from vibench.schemas.blocks import NoParams


def block(name, shape):
    def infer(self, p, ins, ctx):
        b, ch, length = ins[0].shape
        return (TensorType(eval(shape), ins[0].dtype),)  # (a tuple: taken, as docs/extending.md says)

    def call_code(self, p, args, mod):
        return c.call("torch.tanh", args[0])

    register(type(f"B_{name}", (Block,), {"__doc__": "A plug-in block.", "name": name, "Params": NoParams,
                                          "infer": infer, "call_code": call_code, "__module__": __name__}))


block("new_z", "(b, ch, Expr.symbol('Z'))")
block("new_class", "(b, Expr.symbol('class'), length)")
block("same", "(b, ch, length)")
'''
SPECS = {
    # /tmp/qa_ext/spec_nsL.yaml: ok with `output y: [2, 4, Z - 4]` under --input x=2,2,3
    "new_z": "  s: {block: new_z, in: x}\n  conv: {block: conv1d, in: s, out_channels: 4, kernel_size: 5}\n"
             "outputs: {y: conv}\n",
    # /tmp/qa_ext/spec_ns.yaml: E303 at `lin`, blaming the spec
    "new_class": "  s: {block: new_class, in: x}\n  t: {block: transpose, in: s, dim0: 1, dim1: 2}\n"
                 "  lin: {block: linear, in: t, out_features: 4}\noutputs: {y: lin}\n",
    "same": "  s: {block: same, in: x}\n  conv: {block: conv1d, in: s, out_channels: 4, kernel_size: 5}\n"
            "outputs: {y: conv}\n",
}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("sizes")
    install(tmp / "site", "p_sizes", {"p_sizes/__init__.py": PLUGIN}, ["sizes = p_sizes"])
    specs = {name: "vibench: 1\nname: S\ninputs: {x: {shape: [B, 2, L]}}\nnodes:\n" + nodes
             for name, nodes in SPECS.items()}
    run = run_python(f"""
        import json
        import vibench

        out = {{}}
        for name, text in {specs!r}.items():
            try:
                result = vibench.compile_spec(text=text, inputs={{"x": (2, 2, 8)}})
                out[name] = [str(d) for d in result.program.root.outputs[0][2].shape]
            except vibench.SpecError as err:
                out[name] = [d.to_json() for d in err.diagnostics]
        print(json.dumps(out))
    """, [tmp / "site"], tmp)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    return json.loads(run.stdout.splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize(("name", "symbol", "dim"), [("new_z", "Z", 2), ("new_class", "class", 1)])
def test_the_qa_repros_are_e114_at_the_plugins_node(compiled: dict, name: str, symbol: str, dim: int) -> None:
    assert isinstance(compiled[name], list) and len(compiled[name]) == 1, compiled[name]
    (d,) = compiled[name]
    assert (d["code"], d["node"], d["line"]) == ("E114", "s", 5), d
    assert d["message"].endswith(f"dimension {dim} names the symbol '{symbol}', which no input shape of the node "
                                 "holds"), d
    assert "is a block of the plug-in `sizes = p_sizes`" in d["notes"][0], d


def test_a_plugin_of_the_inputs_sizes_compiles(compiled: dict) -> None:
    assert compiled["same"] == ["B", "4", "L - 4"], compiled["same"]
