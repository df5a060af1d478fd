"""What a plug-in block must be to be registered: the block contract (vibench/compiler/blocks/contract.py),
a block name like the built-ins', parameter names a node can hold, native classes whose names and
module-level reads model.py can carry. Anything else is refused at registration with a warning (W121)
naming the entry point, instead of an internal error later or a wrong model.py; the built-in blocks
meet the same rules.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_plugins_loading import BLOCK, install, run_python, spec_text
from vibench.compiler import emit, registry
from vibench.compiler.blocks import base, contract

HEADER = '''
from typing import TYPE_CHECKING

from pydantic import Field

from vibench.compiler.blocks.base import Block
from vibench.compiler.codegen import code as c
from vibench.compiler.registry import register
from vibench.schemas.blocks import BlockParams

if TYPE_CHECKING:
    import torch
    from torch import nn
else:
    from vibench.compiler.blocks.torchless import F, nn, torch


class KParams(BlockParams):
    k: int = Field(1, ge=1, description="k.")


def native_block(name, native, imports=(), extra=()):
    """A block whose module is `native` (with `extra` natives), built in model.py's constructor."""

    class B(Block):
        """doc."""

        Params = KParams
        natives = (native, *extra)

        def infer(self, p, ins, ctx):
            return [ins[0]]

        def init_code(self, p):
            return c.call(native.__name__)

    B.name, B.imports = name, imports
    B.__name__ = B.__qualname__ = "Block_" + name
    register(B)
'''

CONTRACT = '''
class NoParams(Block):
    """No Params."""

    name = "no_params"

    def infer(self, p, ins, ctx):
        return [ins[0]]


class NoInfer(Block):
    """No shape rule."""

    name = "no_infer"
    Params = KParams


class NodeKeyParams(BlockParams):
    repeat: int = Field(1, ge=1, description="Shadowed by the node's own repeat.")
    doc: str = Field("d", description="Shadowed by the node's doc.")


class SelfParams(BlockParams):
    self: int = Field(1, description="self.")


def named(block_name, params=KParams):
    class Named(Block):
        """A block."""

        name = block_name
        Params = params

        def infer(self, p, ins, ctx):
            return [ins[0]]

    return Named


for cls in (NoParams, NoInfer, named("node_keys", NodeKeyParams), named("self_param", SelfParams),
            *(named(n) for n in ["", "a b", "evil\\nimport os", "Upper", "x.y", "not-an-id", "class", "réseau"])):
    register(cls)

register(named("good_block"))
'''


def test_blocks_that_break_the_contract_are_refused_with_a_warning(tmp_path: Path) -> None:
    """No `Params`, no shape rule, a name the spec language cannot hold as a catalogue block, a parameter
    that a node key or `self` would shadow: each is refused (W121, naming the entry point); the listing,
    the schema and the plug-in's good block are unaffected."""
    site = tmp_path / "site"
    install(site, "p_contract", {"p_contract/__init__.py": HEADER + CONTRACT}, ["contract = p_contract"])
    (tmp_path / "spec.yaml").write_text(spec_text("no_params", shape="[B, 4, L]"))
    (tmp_path / "good.yaml").write_text(spec_text("good_block", shape="[B, 4, L]"))
    run = run_python("""
        from vibench.compiler.cli import main
        assert main(["--blocks"]) == 0
        assert main(["schema", "-o", "schema.json"]) == 0
        assert main(["spec.yaml", "--check"]) == 1
        assert main(["good.yaml", "--check"]) == 0
        print("done")
    """, [site], tmp_path)
    assert run.returncode == 0 and run.stdout.rstrip().endswith("done"), run.stdout[-2000:] + run.stderr[-3000:]
    assert "Traceback" not in run.stderr and "this is a bug" not in run.stderr, run.stderr[-3000:]
    assert "good_block" in run.stdout and "no_params" not in run.stdout and "node_keys" not in run.stdout
    assert "error[E110]: unknown block `no_params`" in run.stderr
    lead = "warning[W121]: plug-in block {} of `contract = p_contract` (distribution p_contract 0.1) is refused: "
    for name, reason in [
        ("`no_params`", "it defines no `Params`"),
        ("`no_infer`", "it defines no shape rule (`infer`)"),
        ("`node_keys`", "parameter `repeat` has the name of a node key"),
        ("`self_param`", "parameter `self` "),
        ("`class`", "`class` is a Python keyword"),
        *((name, f"{name} is not a block name: lowercase ASCII letters, digits and `_`, starting with a letter")
          for name in ["''", "'a b'", "'evil\\nimport os'", "'Upper'", "'x.y'", "'not-an-id'", "'réseau'"]),
    ]:
        assert lead.format(name) + reason in run.stderr, (name, run.stderr[-4000:])
    assert "= note: parameter `doc` has the name of a node key" in run.stderr


NATIVES = '''
class MovingAverage(nn.Module):
    """The name of a built-in native class."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 100.0


class _require(nn.Module):
    """The name of a helper model.py defines."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


SCALE = 3.0


class Scaled(nn.Module):
    """Reads a module-level name that model.py would not define."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * SCALE


class Gelu(nn.Module):
    """Uses F without asking for it in `imports`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(x)


def _double(x: torch.Tensor) -> torch.Tensor:
    return 2 * x


class Doubled(nn.Module):
    """Uses a native of its own block, F (imported), math and a class attribute: all in model.py."""

    SCALE = 0.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _double(F.relu(x)) * self.SCALE + math.pi * 0


import math  # noqa: E402

native_block("times100", MovingAverage)
native_block("req", _require)
native_block("scaled", Scaled)
native_block("gelu_native", Gelu)
native_block("doubled", Doubled, imports=("F", "math"), extra=(_double,))
'''

TWIN = '''
class Twin(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + {value}


native_block("twin_{value}", Twin)
'''


def test_native_classes_model_py_cannot_carry_are_refused(tmp_path: Path) -> None:
    """A native named like a built-in native, a helper of model.py or another plug-in's native, or one
    reading a module-level name that model.py does not define, is refused at registration (W121); a
    native using what model.py imports and its own block's natives compiles to a file that runs."""
    site = tmp_path / "site"
    install(site, "p_natives", {"p_natives/__init__.py": HEADER + NATIVES}, ["natives = p_natives"])
    install(site, "p_twin_a", {"p_twin_a/__init__.py": HEADER + TWIN.format(value=1)}, ["twin_a = p_twin_a"])
    install(site, "p_twin_b", {"p_twin_b/__init__.py": HEADER + TWIN.format(value=2)}, ["twin_b = p_twin_b"])
    (tmp_path / "clash.yaml").write_text(spec_text("times100", "moving_average", shape="[B, 4, L]")
                                         .replace("block: moving_average", "block: moving_average, kernel_size: 3"))
    (tmp_path / "good.yaml").write_text(spec_text("doubled", shape="[B, 4, L]"))
    run = run_python("""
        import torch
        from vibench.compiler.cli import main
        assert main(["--blocks"]) == 0
        assert main(["clash.yaml", "-o", "clash.py"]) == 1
        assert main(["good.yaml", "-o", "model.py"]) == 0
        import model
        x = torch.randn(2, 4, 8)
        assert torch.allclose(model.M()(x), x.relu())
        print("done")
    """, [site], tmp_path)
    assert run.returncode == 0 and run.stdout.rstrip().endswith("done"), run.stdout[-2000:] + run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "clash.py").exists()
    lead = "warning[W121]: plug-in block `{}` of `{}` (distribution {} 0.1) is refused: "
    natives = ("natives = p_natives", "p_natives")
    assert lead.format("times100", *natives) + "its native `MovingAverage` has the name of a built-in native " \
        "(vibench.compiler.blocks.decomposition)" in run.stderr, run.stderr[-4000:]
    assert lead.format("req", *natives) + "its native `_require` has the name of a helper model.py defines" \
        in run.stderr
    assert lead.format("scaled", *natives) + "its native `Scaled` reads the module-level name `SCALE`, which " \
        "model.py does not define" in run.stderr
    assert "= hint: define it inside the class, or as a class attribute" in run.stderr
    assert lead.format("gelu_native", *natives) + "its native `Gelu` reads the module-level name `F`" in run.stderr
    for name, entry, dist in [("twin_1", "twin_a = p_twin_a", "p_twin_a"), ("twin_2", "twin_b = p_twin_b", "p_twin_b")]:
        assert lead.format(name, entry, dist) + "its native `Twin` has the name of another plug-in's native" \
            in run.stderr
    assert "doubled" in run.stdout and "times100" not in run.stdout


def test_a_plugin_may_reuse_a_builtin_native_object(tmp_path: Path) -> None:
    """The same object as a built-in native (imported from vibench) is no clash: model.py holds it once."""
    site = tmp_path / "site"
    source = HEADER + '''
from vibench.compiler.codegen.support import _bare, _linear_over  # noqa: E402


class Proj(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _linear_over(self.proj, x, 1)


native_block("proj", Proj, extra=(_linear_over, _bare))
'''
    install(site, "p_reuse", {"p_reuse/__init__.py": source}, ["reuse = p_reuse"])
    (tmp_path / "spec.yaml").write_text(spec_text("proj", "linear", shape="[B, 4, L]").replace(
        "block: linear", "block: linear, dim: 1, out_features: 4"))
    run = run_python("""
        from vibench.compiler.cli import main
        assert main(["spec.yaml", "-o", "model.py"]) == 0
    """, [site], tmp_path)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    assert "W121" not in run.stderr
    assert (tmp_path / "model.py").read_text().count("def _linear_over(") == 1


@pytest.mark.parametrize("name", sorted(registry.builtin_names()))
def test_builtin_blocks_meet_the_plugin_contract(name: str) -> None:
    """The rules plug-ins are held to describe the built-ins too (they are not checked on import)."""
    block = registry.get(name)
    assert block is not None
    assert contract.contract_problems(type(block)) == []
    assert contract.native_problems(type(block)) == []


def test_free_global_names_of_a_native() -> None:
    source = '''
@decorate
class Net(Base):
    LIMIT = WIDTH

    def forward(self, x: Tensor, n: int = DEFAULT) -> Out:
        local = helper(x)
        total = sum(v for v in local if v > THRESHOLD)
        return [total for _ in range(n)], self.LIMIT, Net
'''
    assert contract.free_names(source) == {"decorate", "Base", "WIDTH", "Tensor", "int", "DEFAULT", "Out", "helper",
                                       "sum", "THRESHOLD", "range"}


def test_emit_refuses_two_top_level_definitions_of_one_name() -> None:
    """The safety net behind the registration checks: model.py never defines a name twice."""
    emit.check_top_level_names(["torch", "nn", "MovingAverage", "_require", "M"])
    with pytest.raises(RuntimeError, match="`MovingAverage` twice.*this is a bug"):
        emit.check_top_level_names(["torch", "nn", "MovingAverage", "MovingAverage", "M"])


def test_block_names() -> None:
    assert all(contract.is_block_name(n) for n in ["relu", "conv1d", "haar_dwt", "a" * 64])
    assert not any(contract.is_block_name(n) for n in ["", "a b", "Relu", "x.y", "cnn/ResNet1D", "a" * 65, "class",
                                                   "evil\nimport os", "_private", "1d", "réseau"])


def test_block_template_is_a_valid_block() -> None:
    namespace: dict = {}
    exec(compile(BLOCK.format(cls="B", name="tmp_block", fn="torch.relu"), "<block>", "exec"), namespace)
    assert contract.contract_problems(namespace["B"]) == []


def test_a_block_registered_from_python_is_checked_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside a plug-in's loading (a block defined in a script), a block that cannot be admitted is a
    ValueError when it registers, not a crash when a spec uses it."""
    from vibench.schemas.blocks import NoParams

    monkeypatch.setattr(registry, "_BLOCKS", dict(registry._BLOCKS))

    def block(block_name: str, **body: object) -> type[base.Block]:
        return type("Script", (base.Block,), {"name": block_name, "__module__": __name__, **body})

    infer = {"Params": NoParams, "infer": lambda self, p, ins, ctx: ins}
    with pytest.raises(ValueError, match="defines no `Params`"):
        registry.register(block("script_no_params", infer=infer["infer"]))
    with pytest.raises(ValueError, match="a built-in block has that name"):
        registry.register(block("relu", **infer))
    good = block("script_block", **infer)
    registry.register(good)
    assert type(registry.get("script_block")) is good


# -- what a spec can give, and what vibench.testing reads -----------------------------------------


def _block(block_name: str = "probe", params: type | None = None, **body: object) -> type[base.Block]:
    """A Block subclass defined here (its `Params`: one int `k`, unless given)."""
    from pydantic import Field

    from vibench.schemas.blocks import BlockParams

    if params is None:
        params = type("KParams", (BlockParams,), {"__annotations__": {"k": int}, "k": Field(1, ge=1)})
    return type("Probe", (base.Block,), {"name": block_name, "Params": params, "__module__": __name__,
                                         "infer": lambda self, p, ins, ctx: ins, **body})


def _texts(cls: type[base.Block]) -> list[str]:
    return [p.text for p in contract.contract_problems(cls)]


def test_a_parameter_name_must_be_an_ascii_identifier() -> None:
    """model.py passes a parameter as a keyword argument, which codegen writes only for an ASCII
    identifier: `größe` was admitted, passed --check and crashed -o with `ValueError: not a keyword`."""
    from pydantic import Field

    from vibench.schemas.blocks import BlockParams

    params = type("UParams", (BlockParams,), {"__annotations__": {"größe": int}, "größe": Field(1, ge=1)})
    assert _texts(_block(params=params)) == [
        "parameter 'größe' is not a Python identifier of ASCII letters, digits and `_`"]


def test_parameter_types_a_spec_cannot_give_are_refused() -> None:
    """An Enum (the strict models take only its members, which no spec holds: E112 on every value), a set,
    a class of the plug-in's own: each names the parameter; what a spec gives is admitted."""
    import enum
    from typing import Annotated, Any, Literal, NewType

    from pydantic import BaseModel, Field

    from vibench.schemas.blocks import BlockParams

    class Mode(str, enum.Enum):
        fast = "fast"
        slow = "slow"

    class Inner(BaseModel):
        k: int = 1

    def params(annotation: Any, default: Any) -> type:
        return type("TParams", (BlockParams,), {"__annotations__": {"value": annotation}, "value": Field(default)})

    assert _texts(_block(params=params(Mode, Mode.fast))) == [
        "parameter `value` has the type Mode, which no spec value is (a spec gives None, bool, int, float, str, "
        "and lists and mappings of them)"]
    (problem,) = contract.contract_problems(_block(params=params(Mode | None, None)))
    assert problem.hint == ("declare a choice as a Literal of its values (Literal['fast', 'slow']), as the built-in "
                            "blocks do")
    for refused in (set[int], dict[str, Mode], list[Inner], tuple[int, Mode], Literal[Mode.fast], bytes):
        assert len(_texts(_block(params=params(refused, None)))) == 1, refused
    width = NewType("width", int)
    for given in (int, float | None, Literal["a", 3, None], tuple[int, ...], tuple[int, str], list[float],
                  dict[str, Annotated[int, Field(ge=1)]], Any, width, int | dict[str, int]):
        assert _texts(_block(params=params(given, None))) == [], given


@pytest.mark.parametrize(("body", "text"), [
    ({"test_ranks": 3}, "its `test_ranks` 3 is not a non-empty tuple of ranks from 1 to 8, as (2, 3)"),
    ({"test_ranks": ()}, "its `test_ranks` () is not"),
    ({"test_ranks": (0, 3)}, "its `test_ranks` (0, 3) is not"),
    ({"test_ranks": (True,)}, "its `test_ranks` (True,) is not"),
    ({"test_dtypes": "float32"}, "its `test_dtypes` 'float32' is not a non-empty tuple of dtype names"),
    ({"test_dtypes": ("float99",)}, "its `test_dtypes` ('float99',) is not"),
    ({"test_layouts": ("B C L",)}, "its `test_layouts` ('B C L',) is not a tuple of alternatives"),
    ({"test_layouts": (("B C-L",),)}, "its `test_layouts` (('B C-L',),) is not"),
    ({"test_layouts": (("B C L", "B C L"),)}, "its `test_layouts` alternative ('B C L', 'B C L') has 2 layouts "
                                              "for 1 input ports"),
    ({"test_hints": [("k", (1,))]}, "its `test_hints` [('k', (1,))] is not a dict of parameter -> choices"),
    ({"test_hints": {"kk": (1, 2)}}, "its `test_hints` name 'kk', which is not a parameter of its `Params`"),
    ({"test_hints": {"k": 3}}, "its `test_hints` for 'k' is 3, not a non-empty tuple of choices"),
    ({"test_hints": {"k": ()}}, "its `test_hints` for 'k' is (), not"),
    ({"test_hints": {("k",): (1, 2)}}, "its `test_hints` for ('k',) has a choice that is not a tuple of 1 values"),
    ({"test_hints": {3: (1,)}}, "its `test_hints` key 3 is not a parameter name"),
    ({"category": "evil\nimport os"}, "its `category` 'evil\\nimport os' is not a name of 1 to 40 printable"),
    ({"category": "spectral\u202e"}, "its `category` 'spectral\\u202e' is not"),
    ({"category": ""}, "its `category` '' is not"),
])
def test_test_attributes_and_category_of_the_wrong_kind_are_refused(body: dict, text: str) -> None:
    """What vibench.testing's strategies read (a bare 3 for `test_ranks` was hypothesis's "Cannot sample
    from 3" in every strategy over the catalogue), and the category `--blocks` prints as a heading."""
    texts = _texts(_block(**body))
    assert len(texts) == 1 and texts[0].startswith(text), texts


def test_test_attributes_of_the_right_kind_are_admitted() -> None:
    cls = _block(test_ranks=(2, 3), test_dtypes=("float32", "float64"), test_hints={"k": (1, 2), ("k",): ((3,),)},
                 test_layouts=(("B C L",), ("B 4 8",)), inputs=("x", "w"), optional_inputs=("w",),
                 category="Spektral-Analyse")
    assert _texts(cls) == []


def test_a_docstring_prints_its_controls_as_escapes() -> None:
    """`--blocks`, the schema and hover show a plug-in's docstring: a bidirectional override or a terminal
    escape in it is shown, not acted on; line breaks stay."""
    cls = _block(__doc__="Evil\u202e doc\x1b[2J.\n\n    More\u2028text.")
    assert cls().description == "Evil\\u202e doc\\x1b[2J."
    assert cls().long_description == "Evil\\u202e doc\\x1b[2J.\n\n    More\\u2028text."
    assert all(registry.get(n).long_description == (type(registry.get(n)).__doc__ or "").strip()  # type: ignore
               for n in registry.builtin_names())


def test_plugins_that_break_these_rules_are_refused_end_to_end(tmp_path: Path) -> None:
    """Installed: a non-ASCII parameter, an Enum parameter and a bare `test_ranks` are refused (W121) and
    a spec naming them is E110, exit 1, not an internal error at -o (exit 3)."""
    site = tmp_path / "site"
    source = HEADER + '''
import enum


class Mode(str, enum.Enum):
    fast = "fast"


class UParams(BlockParams):
    größe: int = Field(1, ge=1, description="size.")


class EParams(BlockParams):
    mode: Mode = Field(Mode.fast, description="How.")


def simple(block_name, params, **body):
    class S(Block):
        """A block."""

        Params = params

        def infer(self, p, ins, ctx):
            return [ins[0]]

    S.name = block_name
    for key, value in body.items():
        setattr(S, key, value)
    register(S)


simple("nonascii_param", UParams)
simple("enum_param", EParams)
simple("bare_ranks", KParams, test_ranks=3)
simple("fine_block", KParams)
'''
    install(site, "p_rules", {"p_rules/__init__.py": source}, ["rules = p_rules"])
    (tmp_path / "spec.yaml").write_text(spec_text("fine_block", "nonascii_param", shape="[B, 4, L]"))
    run = run_python("""
        from vibench.compiler.cli import main
        assert main(["spec.yaml", "-o", "model.py"]) == 1
        assert main(["--blocks", "fine_block"]) == 0
        print("done")
    """, [site], tmp_path)
    assert run.returncode == 0 and run.stdout.rstrip().endswith("done"), run.stdout[-2000:] + run.stderr[-3000:]
    assert "Traceback" not in run.stderr and not (tmp_path / "model.py").exists()
    lead = "plug-in block `{}` of `rules = p_rules` (distribution p_rules 0.1) was refused: "
    assert "error[E110]: unknown block `nonascii_param`" in run.stderr
    assert lead.format("nonascii_param") + "parameter 'größe' is not a Python identifier" in run.stderr
    for name, reason in [("enum_param", "parameter `mode` has the type Mode, which no spec value is"),
                         ("bare_ranks", "its `test_ranks` 3 is not a non-empty tuple")]:
        assert f"warning[W121]: plug-in block `{name}` of `rules = p_rules` (distribution p_rules 0.1) is refused: " \
               f"{reason}" in run.stderr, run.stderr[-3000:]
