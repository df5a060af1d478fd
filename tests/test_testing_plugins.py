"""vibench.testing beside blocks it cannot handle: a parameter it cannot draw is an error naming the
block and the parameter when the strategy is made (not hypothesis's "Cannot sample from 3" or a bare
"no strategy for parameter type" inside a draw); a plug-in refused for its test attributes is an
unknown block that says why; a spec that makes the compiler crash is kept in a chain's `crashes` as
graph_specs keeps it, never raised out of the strategy; and the oracles' caller mistakes are errors.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from pydantic import Field

from tests.test_plugins_loading import install, run_python
from vibench import testing
from vibench.compiler import registry
from vibench.compiler.blocks import base
from vibench.schemas.blocks import BlockParams

QUICK = settings(max_examples=5, deadline=None, derandomize=True, database=None)


class Mode(str, enum.Enum):
    fast = "fast"
    slow = "slow"


class ModeParams(BlockParams):
    mode: Mode = Field(Mode.fast, description="How.")


class ModeBlock(base.Block):
    """A block the contract would refuse (an Enum parameter), put in the catalogue as a broken built-in."""

    name = "mode_block"
    Params = ModeParams

    def infer(self, p: Any, ins: list, ctx: Any) -> list:
        return [ins[0]]


@pytest.fixture
def mode_block(monkeypatch: pytest.MonkeyPatch) -> None:
    registry.all_blocks()
    monkeypatch.setattr(registry, "_BLOCKS", {**registry._BLOCKS, "mode_block": ModeBlock()})


@pytest.mark.usefixtures("mode_block")
@pytest.mark.parametrize("strategy", [
    lambda: testing.block_params("mode_block"),
    lambda: testing.block_cases("mode_block"),
    lambda: testing.chain_specs(max_nodes=2, blocks=["relu", "mode_block"]),
    lambda: testing.graph_specs(max_nodes=2, blocks=["mode_block"]),
    lambda: testing.chain_specs(max_nodes=2),  # the whole catalogue
])
def test_a_parameter_no_strategy_draws_is_an_error_naming_it_when_the_strategy_is_made(strategy: Any) -> None:
    with pytest.raises(TypeError, match=r"^block `mode_block`: parameter `mode` cannot be drawn \(no strategy for "
                                        r"parameter type <enum 'Mode'>\); give the block `test_hints` for it$"):
        strategy()


@pytest.mark.usefixtures("mode_block")
def test_hinted_choices_a_spec_cannot_hold_are_an_error_naming_the_block(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ModeBlock, "test_hints", {"mode": ("fast", {"slow"})})
    with pytest.raises(TypeError, match=r"^block `mode_block`: test_hints\['mode'\] offers \{'slow'\}, which a spec "
                                        r"cannot hold \(cannot write set into a spec\)$"):
        testing.block_params("mode_block")
    monkeypatch.setattr(ModeBlock, "test_hints", {"mode": ("fast", "slow")})

    @QUICK
    @given(testing.block_params("mode_block"))
    def draw(params: dict[str, Any]) -> None:
        assert params in ({"mode": "fast"}, {"mode": "slow"})

    draw()


def test_a_chain_keeps_a_compiler_crash_and_drops_its_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """As graph_specs does: a spec that made the compiler raise something other than a SpecError is in the
    case's `crashes`; the strategy goes on (it raised the exception out of the draw)."""
    import vibench.api

    real = vibench.api.check

    def check(*args: Any, **kwargs: Any) -> Any:
        if "block: tanh" in kwargs.get("text", ""):
            raise RuntimeError("simulated compiler bug")
        return real(*args, **kwargs)

    monkeypatch.setattr(vibench.api, "check", check)
    crashes: list[tuple[str, str]] = []

    @settings(max_examples=15, deadline=None, derandomize=True, database=None)
    @given(testing.chain_specs(max_nodes=3, blocks=["relu", "tanh"]))
    def draw(chain: testing.ChainCase) -> None:
        assert all(block == "relu" for _, block in chain.nodes)
        crashes.extend(chain.crashes)

    draw()
    assert crashes and all(message == "RuntimeError: simulated compiler bug" and "block: tanh" in text
                           for text, message in crashes)


def test_compile_case_lets_a_crash_fail_the_test_naming_the_block(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    import vibench.api

    def check(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("simulated compiler bug")

    monkeypatch.setattr(vibench.api, "check", check)
    case = testing.BlockCase("relu", {}, (testing.TensorCase("x", ("B", 4), (2, 4)),))
    with pytest.raises(RuntimeError, match="simulated compiler bug") as caught:
        testing.compile_case(case)
    if sys.version_info >= (3, 11):
        (note,) = caught.value.__notes__
        assert note.startswith("while compiling a case of block `relu` (not a SpecError") and case.text in note


def test_strategies_over_the_catalogue_with_plugins_installed(tmp_path: Path) -> None:
    """Installed beside a good plug-in, one with a bare `test_ranks` and one with an Enum parameter are
    refused (the contract checks what the strategies read), so the strategies over the whole catalogue
    work, and naming a refused block is a KeyError that says why it was refused."""
    site = tmp_path / "site"
    source = '''
import enum

from pydantic import Field

from vibench.compiler.blocks.base import Block
from vibench.compiler.codegen import code as c
from vibench.compiler.registry import register
from vibench.schemas.blocks import BlockParams


class Mode(str, enum.Enum):
    fast = "fast"


class KParams(BlockParams):
    k: int = Field(1, ge=1, le=4, description="k.")


class EParams(BlockParams):
    mode: Mode = Field(Mode.fast, description="How.")


def simple(block_name, params, **body):
    class S(Block):
        """A block."""

        Params = params

        def infer(self, p, ins, ctx):
            return [ins[0]]

        def call_code(self, p, args, mod):
            return c.call("torch.tanh", args[0])

    S.name = block_name
    for key, value in body.items():
        setattr(S, key, value)
    register(S)


simple("bare_ranks", KParams, test_ranks=3, test_dtypes="float32")
simple("enum_param", EParams)
simple("good_tanh", KParams, test_ranks=(2, 3))
'''
    install(site, "p_strats", {"p_strats/__init__.py": source}, ["strats = p_strats"])
    run = run_python("""
        from hypothesis import given, settings
        from vibench import testing

        QUICK = settings(max_examples=5, deadline=None, derandomize=True, database=None)
        for strategy in (testing.chain_specs(max_nodes=2), testing.graph_specs(max_nodes=2),
                         testing.block_cases("good_tanh")):
            @QUICK
            @given(strategy)
            def draw(case):
                pass

            draw()
        for name in ("bare_ranks", "enum_param"):
            try:
                testing.chain_specs(blocks=[name])
            except KeyError as err:
                print(err.args[0])
        print("done")
    """, [site], tmp_path)
    assert run.returncode == 0 and run.stdout.rstrip().endswith("done"), run.stdout[-2000:] + run.stderr[-3000:]
    lead = "unknown block `{0}`; plug-in block `{0}` of `strats = p_strats` (distribution p_strats 0.1) was refused: "
    assert lead.format("bare_ranks") + "its `test_ranks` 3 is not a non-empty tuple" in run.stdout, run.stdout
    assert lead.format("enum_param") + "parameter `mode` has the type Mode" in run.stdout


# -- the oracles' arguments ---------------------------------------------------------------------

LINEAR = ("vibench: 1\nname: M\ninputs: {x: {shape: [B, 4]}}\n"
          "nodes: {fc: {block: linear, in: x, out_features: 2}}\noutputs: {y: fc}\n")


def test_check_static_with_a_path_that_names_no_file_is_the_callers_error(tmp_path: Path) -> None:
    """The compiler's answer would be E004 with no position in the text: a "no-position" finding that
    blamed the compiler for a mistyped path."""
    for path in (str(tmp_path / "missing.yaml"), tmp_path / "missing.yaml", "cnn/NoSuchTemplate"):
        with pytest.raises(ValueError, match="names no spec file or library template"):
            testing.check_static(LINEAR, path)  # type: ignore[arg-type]
    (tmp_path / "spec.yaml").write_text(LINEAR)
    assert testing.check_static(LINEAR, str(tmp_path / "spec.yaml")) == ("ok", [])
    assert testing.check_static(LINEAR, "cnn/ResNet1D") == ("ok", [])
