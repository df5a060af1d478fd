"""What a plug-in block returns or raises, checked where it crosses into vibench, as the QA pass of 1206 found
it (docs/extending.md, "What a plug-in block must be"): a weighted plug-in gets E304 as built-ins do; a
comprehension that reads an undefined name through its first iterable, a constant model.py cannot write, an
integer Python cannot print, a hand-made Expr, a malformed ShapeError or NeedConcrete, a validator raising a
RuntimeError and a NaN default are E114 at the node; a list or mapping parameter compiles; an invalid default or
a bound of 5,000 digits is W121; a malformed entry point is W120 saying so. Never a traceback.

The plug-ins are installed as pip does and vibench runs in a fresh process (see tests/test_plugins_loading.py).
"""

from __future__ import annotations

import json
import textwrap

import pytest

from tests.test_plugins_loading import install, run_python, spec_text

HEADER = '''
import ast

from pydantic import Field, field_validator

from vibench.compiler.blocks.base import Block, ShapeError
from vibench.compiler.blocks.torchless import nn, torch
from vibench.compiler.codegen import code as c
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Expr, NeedConcrete
from vibench.schemas.blocks import BlockParams


class KParams(BlockParams):
    k: int = Field(1, ge=1, description="k.")


class Lin(nn.Module):
    def __init__(self, n: int) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(n, n))

    def forward(self, x):
        return x @ self.w
'''
SAME = "def infer(self, p, ins, ctx):\n    return [ins[0]]\n"
TANH = "def call_code(self, p, args, mod):\n    return c.call('torch.tanh', args[0])\n"
LENGTH = ("def infer(self, p, ins, ctx):\n    b, ch, l = ins[0].shape\n"
          "    return [TensorType((b, ch, {}), ins[0].dtype)]\n")
RAISES = "def infer(self, p, ins, ctx):\n    raise {}\n"

# name -> (the Params class's body, or "" for KParams; the block's methods)
BLOCKS = {
    "weighted": ("", SAME + "def param_count(self, p, ins):\n    return 16\n"
                 "def init_code(self, p):\n    return c.call('Lin', 4)\n"),
    "comp_bypass": ("", SAME + "def call_code(self, p, args, mod):\n    return c.call('torch.stack', "
                    "c.list_comp(c.ref('Scale'), 'Scale', c.call('Scale', args[0])))\n"),
    "comp_ok": ("", SAME + "def call_code(self, p, args, mod):\n    return c.call('torch.stack', c.list_comp("
                "c.call('torch.tanh', c.ref('row')), 'row', c.call('torch.unbind', args[0])))\n"),
    "complex_inf": ("", SAME + "def call_code(self, p, args, mod):\n"
                    "    return c.call('torch.mul', args[0], c.attr(ast.Constant(complex('inf')), 'real'))\n"),
    "huge_const": ("", SAME + "def call_code(self, p, args, mod):\n"
                   "    return c.call('torch.mul', args[0], c.const(10**5000))\n"),
    "int64_const": ("", SAME + "def call_code(self, p, args, mod):\n"
                    "    return c.call('torch.clamp', args[0], max=c.const(2**63 - 1))\n"),
    "huge_params": ("", SAME + TANH + "def param_count(self, p, ins):\n    return 10**5000\n"),
    "huge_flops": ("", SAME + TANH + "def flops(self, p, ins, outs):\n    return 10**400\n"),
    "huge_dim": ("", LENGTH.format("10**5000") + TANH),
    "list_param": ("    dims: list[int] = [1]\n    table: dict[str, int] | None = None\n", SAME + TANH),
    "validator_raises": ("    k: int = 1\n\n    @field_validator('k')\n    @classmethod\n    def _check(cls, v):\n"
                         "        raise RuntimeError('validator bug')\n", SAME + TANH),
    "code_none": ("", RAISES.format("ShapeError(None, None)") + TANH),
    "code_w999": ("", RAISES.format("ctx.fail('no', code='W999')") + TANH),
    "expected_int": ("", RAISES.format("ShapeError('E301', 'msg', expected=5)") + TANH),
    "port_nope": ("", RAISES.format("ShapeError('E301', 'msg', port='nope')") + TANH),
    "need_text": ("", RAISES.format("NeedConcrete('LB', None)") + TANH),
    "need_unknown": ("", RAISES.format("NeedConcrete(frozenset({'ZZZ'}), 'the kernel')") + TANH),
    "expr_negative": ("", LENGTH.format("Expr({}, -5)") + TANH),
    "expr_constant": ("", LENGTH.format("Expr({}, 7)") + TANH),
    "expr_half": ("", LENGTH.format("Expr(dict(l.terms), 0.5)") + TANH),
    "expr_fraction": ("", LENGTH.format("Expr({m: 1.5 for m, _ in l.terms}, 0)") + TANH),
    "expr_minus": ("", LENGTH.format("0 - l") + TANH),
    "nan_default": ("    f: float = float('nan')\n", SAME + "def call_code(self, p, args, mod):\n"
                    "    return c.call('torch.mul', args[0], p.f)\n"),
    "text_default": ("    k: int = 'abc'\n", SAME + TANH),
    "huge_bound": ("    k: int = Field(1, le=10**5000)\n", SAME + TANH),
}
# name -> the node's own parameters (written in `{block: NAME, in: ..., HERE}`)
SETTINGS = {"list_param": "dims: [2, 3], table: {a: 1}", "validator_raises": "k: 3"}


def _plugin() -> str:
    text = HEADER
    for name, (params, methods) in BLOCKS.items():
        if params:
            text += f"\n\nclass P_{name}(BlockParams):\n{params}"
        text += (f"\n\n@register\nclass B_{name}(Block):\n    name, Params, natives = {name!r}, "
                 f"{f'P_{name}' if params else 'KParams'}, {'(Lin,)' if name == 'weighted' else '()'}\n\n"
                 + textwrap.indent(methods, "    "))
    return text


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """For each block, the diagnostics of compiling a node of it, or (model.py built and run) the static shape
    of its output; the warnings of loading the plug-ins, one of them an entry point that does not parse."""
    tmp = tmp_path_factory.mktemp("values")
    install(tmp / "site", "p_values", {"p_values/__init__.py": _plugin()}, ["values = p_values"])
    install(tmp / "site", "p_malformed", {}, ["broken = ::::"])
    specs = {}
    for name in BLOCKS:
        text = spec_text(name, shape="[B, 2, L]")
        if name in SETTINGS:
            text = text.replace("in: x}", f"in: x, {SETTINGS[name]}}}")
        specs[name] = text
    specs["weighted"] = ("vibench: 1\nname: M\ninputs: {x: {shape: [B, 4]}, z: {shape: [B, 4], dtype: float64}}\n"
                         "nodes:\n  a: {block: weighted, in: x}\n  b: {block: weighted, in: z}\n"
                         "outputs: {y: a, w: b}\n")
    specs["list_twice"] = specs["list_param"].replace("outputs: {y: n0}", "  n1: {block: list_param, in: n0}\n"
                                                      "outputs: {y: n1}")
    run = run_python(f"""
        import json
        import torch
        import vibench
        from vibench.compiler import registry

        out = {{}}
        for name, text in {specs!r}.items():
            try:
                result = vibench.compile_spec(text=text)
                namespace = {{}}
                exec(compile(result.source, "model.py", "exec"), namespace)
                namespace["M"]()(torch.ones(2, 2, 5))
                out[name] = [str(d) for d in result.program.root.outputs[0][2].shape]
            except vibench.SpecError as err:
                out[name] = [d.to_json() for d in err.diagnostics]
            except Exception as err:  # (what the fixes removed: one case each, not the whole run)
                out[name] = "crash: " + type(err).__name__
        out["warnings"] = [d.to_json() for d in registry.plugin_warnings()]
        print(json.dumps(out))
    """, [tmp / "site"], tmp)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    return json.loads(run.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def _e114(results: dict, name: str) -> dict:
    assert isinstance(results[name], list) and len(results[name]) == 1, results[name]
    (d,) = results[name]
    assert (d["code"], d["node"], d["line"]) == ("E114", "n0", 5), d
    assert "is a block of the plug-in `values = p_values` (distribution p_values 0.1)" in d["notes"][0], d
    return d  # type: ignore[no-any-return]


def test_a_plugin_block_with_weights_gets_e304_as_a_builtin_does(results: dict) -> None:
    """x float32 and z float64 into two of its nodes: model.py casts its module to one dtype, so torch refused z."""
    assert isinstance(results["weighted"], list) and len(results["weighted"]) == 1, results["weighted"]
    (d,) = results["weighted"]
    assert (d["code"], d["node"], d["expected"], d["found"]) == ("E304", "b", "float32", "float64"), d


def test_a_comprehension_binds_its_variable_inside_it_only(results: dict) -> None:
    d = _e114(results, "comp_bypass")
    assert "reads the name `Scale`, which model.py does not define" in d["message"], d
    assert results["comp_ok"] == ["B", "2", "L"], results["comp_ok"]  # [torch.tanh(row) for row in torch.unbind(x)]


def test_constants_model_py_cannot_write_are_refused(results: dict) -> None:
    assert "the constant (inf+0j), not a plain value" in _e114(results, "complex_inf")["message"]
    huge = _e114(results, "huge_const")
    assert "the constant <an integer of 5,001 digits>, beyond 2**64 in magnitude" in huge["message"], huge
    assert results["int64_const"] == ["B", "2", "L"]  # (the largest int64 is a constant a plug-in may write)


def test_integers_python_cannot_print_are_refused_at_the_node(results: dict) -> None:
    params = _e114(results, "huge_params")
    assert params["message"].endswith("`param_count` returned a number beyond 2**62, the compiler's bound on integers")
    assert params["found"] == "<an integer of 5,001 digits>", params
    assert "`flops` returned a wrong value: beyond 2**62" in _e114(results, "huge_flops")["message"]
    assert "dimension 2 is beyond 2**62" in _e114(results, "huge_dim")["message"]


def test_list_and_mapping_parameters_compile(results: dict) -> None:
    """`dims: list[int]` and `dict[str, int] | None`: TypeError: unhashable type in the shapes pass's memo."""
    assert results["list_param"] == ["B", "2", "L"] and results["list_twice"] == ["B", "2", "L"]


def test_a_validator_that_raises_is_the_plugins_failure(results: dict) -> None:
    d = _e114(results, "validator_raises")
    assert d["message"].endswith("its parameter model `P_validator_raises` raised RuntimeError"), d
    assert d["found"] == "RuntimeError: validator bug", d


def test_a_malformed_shape_error_or_need_concrete_is_the_plugins_failure(results: dict) -> None:
    expected = {
        "code_none": "its code None is not one a shape rule reports",
        "code_w999": "its code 'W999' is not one a shape rule reports",
        "expected_int": "its `expected` 5 is neither text nor None",
        "port_nope": "its `port` 'nope' names no input port of the block",
        "need_text": "its symbols 'LB' are not a set of the input sizes' symbols",
        "need_unknown": "it names the symbol 'ZZZ', which no input shape of the node holds",
    }
    for name, problem in expected.items():
        d = _e114(results, name)  # (was a traceback, `error[None]: None`, or `error[W999]`)
        assert f"its `infer` raised a malformed {'NeedConcrete' if 'need' in name else 'ShapeError'}: {problem}" \
            in d["message"], d


def test_an_expr_is_rebuilt_canonically(results: dict) -> None:
    """Expressions built by hand: a negative or fractional one is refused, a constant one is its int."""
    assert "dimension 2 is negative" in _e114(results, "expr_negative")["message"]
    assert "the coefficient 0.5, not a whole number" in _e114(results, "expr_half")["message"]
    assert "the coefficient 1.5, not a whole number" in _e114(results, "expr_fraction")["message"]
    assert "negative for every size of its symbols" in _e114(results, "expr_minus")["message"]
    assert results["expr_constant"] == ["B", "2", "7"], results["expr_constant"]


def test_defaults_and_bounds_of_a_plugin_are_its_own(results: dict) -> None:
    """A NaN default is the plug-in's failure at a node that never set it (was E104 blamed on the node); a
    default its type refuses or a bound of 5,000 digits refuses the block (W121), once."""
    d = _e114(results, "nan_default")
    assert "its parameter `f` is nan although node `n0` does not set it" in d["message"], d
    refused = {w["message"].split("`")[1]: w["message"] for w in results["warnings"] if w["code"] == "W121"}
    assert set(refused) == {"text_default", "huge_bound"}, refused
    assert "parameter `k` has the default 'abc', which its own type refuses" in refused["text_default"]
    assert "parameter `k` has the bound `le` <an integer of 5,001 digits>, beyond 2**62" in refused["huge_bound"]


def test_a_malformed_entry_point_says_so(results: dict) -> None:
    (w,) = [w for w in results["warnings"] if w["code"] == "W120"]
    assert w["message"] == ("block plug-in `broken = ::::` (distribution p_malformed 0.1) failed to load: the entry "
                            "point is malformed: its value is not `module` or `module:attr`"), w
    assert "entry point names no module" in w["hint"] and "a bug in the plug-in's own code" not in w["hint"], w

