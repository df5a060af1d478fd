"""Plug-in blocks, as the second QA pass of 1206 found them (docs/extending.md, "What a plug-in block must be"):

* model.py defines a native after what its definition runs reads: a generator expression of its class body,
  a native function it calls (``w = make()``), a class it calls a method of (``Helper.build()``), a function
  of its own class body it calls; one that runs code reading itself is W121; a base class whose methods read
  its subclass is no cycle; a chain of 1,100 subclasses is ordered without recursion, and a block of more than
  256 natives is refused;
* an upper bound past every spec integer (``le=2**63 - 1``) and an int64 default are taken; a lower bound
  beyond 2**62 or a bound beyond 2**64 is not;
* a pass-through plug-in after 65 nested floor divisions keeps its input's size (it was E114);
* ExpressionTooLarge from vibench's own arithmetic in a plug-in's ``flops`` is E303, as for a built-in block;
  a NeedConcrete the plug-in raises itself stays E114.

The plug-ins are installed as pip does and vibench runs in a fresh process (see tests/test_plugins_loading.py).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import Field

from tests.test_plugins_loading import install, run_python, spec_text
from vibench.compiler.blocks.contract import contract_problems
from vibench.compiler.blocks.contract_params import param_problems
from vibench.compiler.emit_names import in_definition_order
from vibench.compiler.plugin_checks import checked_dim
from vibench.compiler.symbolic import Expr
from vibench.schemas.blocks import BlockParams

PLUGIN = """
from __future__ import annotations

from pydantic import Field

from vibench.compiler.blocks.base import Block, numel
from vibench.compiler.blocks.torchless import nn, torch
from vibench.compiler.codegen import code as c
from vibench.compiler.registry import register
from vibench.compiler.symbolic import NeedConcrete
from vibench.schemas.blocks import BlockParams


class KParams(BlockParams):
    k: int = Field(1, ge=1, description="k.")


class Two(nn.Module):
    size = 2

    def forward(self, x):
        return x


class GenSized(nn.Module):
    sizes = tuple(Two.size * k for k in range(3))  # a generator the class body consumes

    def forward(self, x):
        return x * self.sizes[1]


def make():
    return Two.size


class Made(nn.Module):
    w = make()  # runs make, which reads Two

    def forward(self, x):
        return x * self.w


class Helper:
    @classmethod
    def build(cls):
        return Two.size + 1


class Built(nn.Module):
    w = Helper.build()

    def forward(self, x):
        return x * self.w


class Local(nn.Module):
    def _n():
        return Two.size * 2

    n = _n()

    def forward(self, x):
        return x * self.n


class Act(nn.Module):
    def forward(self, x):
        return x if isinstance(self, Doubled) else x * 3  # read when it runs, not as it is defined


class Doubled(Act):
    def forward(self, x):
        return x * 2


def make_scale():
    def scaled(x: Looped) -> Looped:  # (a string here; evaluated as make_scale runs in model.py)
        return x

    return 2


class Looped(nn.Module):
    w = make_scale()

    def forward(self, x):
        return x * self.w


class Base(Block):
    Params = KParams

    def infer(self, p, ins, ctx):
        return [ins[0]]


@register
class GenSizedBlock(Base):
    name, natives = "gen_sized", (GenSized, Two)

    def init_code(self, p):
        return c.call("GenSized")


@register
class MadeBlock(Base):
    name, natives = "made", (Made, make, Two)

    def init_code(self, p):
        return c.call("Made")


@register
class BuiltBlock(Base):
    name, natives = "built", (Built, Helper, Two)

    def init_code(self, p):
        return c.call("Built")


@register
class LocalBlock(Base):
    name, natives = "local", (Local, Two)

    def init_code(self, p):
        return c.call("Local")


@register
class DoubledBlock(Base):
    name, natives = "doubled", (Doubled, Act)

    def init_code(self, p):
        return c.call("Doubled")


@register
class LoopedBlock(Base):
    name, natives = "looped", (Looped, make_scale)

    def init_code(self, p):
        return c.call("Looped")


@register
class LeftOut(Base):
    name, natives = "left_out", (Made, make, Two)

    def native_classes(self, p):
        return (Made, make)

    def init_code(self, p):
        return c.call("Made")


class SeedParams(BlockParams):
    seed: int = Field(2**63 - 1, ge=0, le=2**63 - 1, description="a torch seed.")


@register
class Seeded(Base):
    name, Params = "seeded", SeedParams

    def call_code(self, p, args, mod):
        return c.call("torch.add", args[0], c.const(p.seed % 7))


@register
class Same(Base):
    name = "same"

    def call_code(self, p, args, mod):
        return args[0]


@register
class Quadratic(Same):
    name = "quadratic"

    def flops(self, p, ins, outs):
        return 2 * numel(ins[0]) * ins[0].shape[-1]


@register
class OwnNeed(Same):
    name = "own_need"

    def flops(self, p, ins, outs):
        raise NeedConcrete(frozenset(ins[0].shape[-1].symbols()), "my flops")
"""

NATIVE_BLOCKS = ("gen_sized", "made", "built", "local", "doubled", "looped", "left_out")


def _deep_spec(block: str, stages: int = 65) -> str:
    """Pooling re-concatenated with its input, ``stages`` times: floor divisions nested ``stages`` deep."""
    lines = [
        "vibench: 1",
        "name: M",
        "inputs: {x: {shape: [B, 2, L]}}",
        "nodes:",
        "  p0: {block: avg_pool1d, in: x, kernel_size: 3, stride: 3}",
    ]
    for k in range(1, stages + 1):
        lines += [
            f"  c{k}: {{block: concat, in: [p{k - 1}, p{k - 1}, x], dim: -1}}",
            f"  p{k}: {{block: avg_pool1d, in: c{k}, kernel_size: 5, stride: 5}}",
        ]
    lines += [f"  n0: {{block: {block}, in: p{stages}}}", "outputs: {y: n0}"]
    return "\n".join(lines) + "\n"


def _wide_spec(block: str, inputs: int = 40) -> str:
    """40 lengths joined: ``numel * L`` multiplies two sums of 40 terms (past MAX_TERMS)."""
    shapes = ", ".join(f"x{k}: {{shape: [B, 2, L{k}]}}" for k in range(inputs))
    names = ", ".join(f"x{k}" for k in range(inputs))
    return (
        f"vibench: 1\nname: M\ninputs: {{{shapes}}}\nnodes:\n  c: {{block: concat, in: [{names}], dim: -1}}\n"
        f"  n0: {{block: {block}, in: c}}\noutputs: {{y: n0}}\n"
    )


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Per spec: the diagnostics of vibench.check, and, when it compiles, the classes and functions model.py
    defines (in order) and what its model returns on ones; the warnings of the plug-ins' loading."""
    tmp = tmp_path_factory.mktemp("plugin2")
    install(tmp / "site", "p_plugin2", {"p_plugin2/__init__.py": PLUGIN}, ["plugin2 = p_plugin2"])
    specs = {name: spec_text(name, shape="[B, 2, L]") for name in NATIVE_BLOCKS}
    specs["seeded"] = spec_text("seeded", shape="[B, 2, L]")
    specs["seeded_set"] = specs["seeded"].replace("{block: seeded, in: x}", f"{{block: seeded, in: x, seed: {2**62}}}")
    specs["deep_same"] = _deep_spec("same")
    specs["wide_quadratic"] = _wide_spec("quadratic")
    specs["wide_own_need"] = _wide_spec("own_need")
    run = run_python(
        f"""
        import ast, json
        import torch
        import vibench
        from vibench.compiler import registry

        out = {{}}
        for name, text in {specs!r}.items():
            got = {{}}
            try:
                check = vibench.check(text=text)
                source = vibench.compile_spec(text=text).source if not name.startswith(("deep", "wide")) else None
            except vibench.SpecError as err:
                got["diagnostics"] = [d.to_json() for d in err.diagnostics]
            else:
                if source is not None:
                    body = ast.parse(source).body
                    got["top"] = [n.name for n in body if isinstance(n, ast.ClassDef | ast.FunctionDef)]
                    namespace = {{}}
                    try:
                        exec(compile(source, "model.py", "exec"), namespace)
                        got["y"] = namespace["M"]()(torch.ones(1, 2, 3)).flatten().tolist()[:2]
                    except Exception as err:  # (a NameError at model.py's import: the defect)
                        got["error"] = repr(err)
            out[name] = got
        out["warnings"] = [d.to_json() for d in registry.plugin_warnings()]
        print(json.dumps(out))
    """,
        [tmp / "site"],
        tmp,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    return json.loads(run.stdout.splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("block", "first", "y"),
    [
        ("gen_sized", ["Two", "GenSized"], 2.0),  # tuple(Two.size * k for k in ...) in the class body
        ("made", ["make", "Two", "Made"], 2.0),  # w = make(), make reads Two
        ("built", ["Helper", "Two", "Built"], 3.0),  # w = Helper.build(), build reads Two
        ("local", ["Two", "Local"], 4.0),  # n = _n(), a function of its own class body reading Two
        ("doubled", ["Act", "Doubled"], 2.0),  # Act's method reads Doubled when it runs: no cycle
    ],
)
def test_natives_come_after_what_their_definition_runs_reads(results: dict, block: str, first: list, y: float) -> None:
    """Each was written before what it needs, and model.py stopped at its import with a NameError."""
    got = results[block]
    assert got.get("top", [])[: len(first)] == first and got["y"] == [y, y], got


def test_a_native_whose_definition_runs_code_reading_it_is_refused(results: dict) -> None:
    """`w = make_scale()` in class Looped, and make_scale defines a function annotated `-> Looped`: model.py
    evaluates the annotation while Looped is not yet defined, in whatever order."""
    refused = {w["message"].split("`")[1]: w for w in results["warnings"] if w["code"] == "W121"}
    assert set(refused) == {"looped"}, results["warnings"]
    assert (
        "its native `Looped` runs `make_scale` while model.py defines it, and `make_scale` reads `Looped`"
        in refused["looped"]["message"]
    ), refused["looped"]
    (d,) = results["looped"]["diagnostics"]
    assert d["code"] == "E110", d


def test_native_classes_must_bring_what_a_function_its_natives_call_reads(results: dict) -> None:
    (d,) = results["left_out"]["diagnostics"]
    assert d["code"] == "E114", d
    assert "its native `Made` reads the native `Two` when model.py defines it" in d["message"], d


def test_a_chain_of_1100_natives_listed_last_first_is_ordered_without_recursion(tmp_path: Path) -> None:
    """1,100 classes each subclassing the one before, listed in reverse: a RecursionError at -o."""
    module = tmp_path / "chain_1206f.py"
    module.write_text(
        "class C0:\n    pass\n" + "".join(f"\n\nclass C{k}(C{k - 1}):\n    pass\n" for k in range(1, 1100))
    )
    spec = importlib.util.spec_from_file_location("chain_1206f", module)
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    sys.modules["chain_1206f"] = loaded
    try:
        spec.loader.exec_module(loaded)
        natives = [getattr(loaded, f"C{k}") for k in reversed(range(1100))]
        assert [n.__name__ for n in in_definition_order(natives)] == [f"C{k}" for k in range(1100)]
    finally:
        del sys.modules["chain_1206f"]


def test_a_block_of_more_than_256_natives_is_refused() -> None:
    from vibench.compiler.blocks.base import Block

    class Many(Block):
        name, Params, natives = "many", BlockParams, tuple(f"N{k}" for k in range(257))

        def infer(self, p: Any, ins: Any, ctx: Any) -> Any:
            return [ins[0]]

    texts = [p.text for p in contract_problems(Many)]
    assert "it brings 257 natives, more than the 256 a block may bring" in texts, texts


def test_an_int64_bound_and_default_are_taken(results: dict) -> None:
    """`Field(2**63 - 1, ge=0, le=2**63 - 1)`, a torch seed: refused as "beyond 2**62" (W121), though no spec
    integer passes that bound."""
    assert results["seeded"]["y"] == [1.0 + (2**63 - 1) % 7] * 2, results["seeded"]
    assert results["seeded_set"]["y"] == [1.0 + 2**62 % 7] * 2, results["seeded_set"]


class _Int64(BlockParams):
    seed: int = Field(0, ge=-(2**63), le=2**63 - 1)
    count: int = Field(2**64, le=2**64)
    items: list[int] = Field([], max_length=2**63)


class _Unmeetable(BlockParams):
    low: int = Field(2**63, ge=2**63)


class _TooHigh(BlockParams):
    high: int = Field(1, le=2**64 + 1)


class _HugeDefault(BlockParams):
    big: int = 2**64 + 1


@pytest.mark.parametrize(
    ("params", "text"),
    [
        (_Int64, None),
        (
            _Unmeetable,
            "parameter `low` has the bound `ge` 9223372036854775808, beyond 2**62, the compiler's bound on "
            "integers: no spec integer meets it",
        ),
        (
            _TooHigh,
            "parameter `high` has the bound `le` 18446744073709551617, beyond 2**62, the compiler's bound on "
            "integers, and beyond 2**64, the largest bound of that side vibench takes",
        ),
        (
            _HugeDefault,
            "parameter `big` has the default 18446744073709551617, an integer beyond 2**64, more than any "
            "integer tensor holds or model.py writes",
        ),
    ],
)
def test_integer_bounds_past_every_spec_value_are_taken_up_to_2_64(params: type, text: str | None) -> None:
    assert [p.text for p in param_problems(params)] == ([text] if text else []), param_problems(params)


def test_a_pass_through_after_65_nested_floor_divisions_keeps_its_size(results: dict) -> None:
    """The size is legitimately 65 floor divisions deep: the rebuild refused past 64 and blamed the plug-in."""
    assert "diagnostics" not in results["deep_same"], results["deep_same"]


def test_a_deep_size_rebuilds_and_one_holding_itself_does_not() -> None:
    length = Expr.symbol("L")
    deep: Any = length
    for _ in range(100):  # (symbolic compares sizes nested some 200 deep at most: the C stack)
        deep = (length + 2 * deep) // 5
    assert checked_dim(deep) == (deep, None)
    looped = (length + 2 * (length // 5)) // 3
    (term,) = [t for t in looped.terms]
    (division,) = [a for a in term[0] if not isinstance(a, str)]
    division.num = looped  # (a hand-made cycle: FloorDiv's slots are writable)
    assert checked_dim(looped) == (None, "an expression that holds itself")


def test_a_size_too_large_for_a_plugins_flops_is_e303_as_for_a_builtin(results: dict) -> None:
    """`2 * numel(x) * x.shape[-1]` over 40 joined lengths multiplies two sums of 40 terms: ExpressionTooLarge,
    raised by vibench's arithmetic, was E114 blaming the plug-in; a NeedConcrete it raises itself still is."""
    (d,) = results["wide_quadratic"]["diagnostics"]
    assert (d["code"], d["node"]) == ("E303", "n0"), d
    assert "multiplies formulas of 40 and 40 terms" in d["message"] and d["hint"].startswith("give `B`, `L0`"), d
    (own,) = results["wide_own_need"]["diagnostics"]
    assert own["code"] == "E114" and "its `flops` raised NeedConcrete" in own["message"], own
