"""A plug-in's natives in model.py, as the QA pass of 1206 found them (docs/extending.md, "What a plug-in block
must be"): model.py writes them in the order they read each other while Python defines them (a base class, a
class attribute), whatever order `natives` lists them in; a native that reads its own name then (`-> Tag`
inside class Tag: model.py has no `from __future__ import annotations`) or two that read each other are
refused (W121), and a `native_classes` that leaves out a native another one reads then is E114. A model named
like a native its blocks bring is E106 at its `name:`, under `--check` too, not only when model.py is written.

The plug-ins are installed as pip does and vibench runs in a fresh process (see tests/test_plugins_loading.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import vibench
from tests.test_plugins_loading import install, run_python, spec_text

PLUGIN = '''
from __future__ import annotations

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
    from vibench.compiler.blocks.torchless import nn, torch


class KParams(BlockParams):
    k: int = Field(1, ge=1, description="k.")


class Inner(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2


class Outer(nn.Module):
    kind = Inner  # read while Outer is defined

    def __init__(self) -> None:
        super().__init__()
        self.inner = self.kind()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x) + 1


class BaseAct(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x)


class ScaledAct(BaseAct):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 2 * super().forward(x)


class Tag(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def copy_of(self) -> Tag:  # fine in this module (its annotations are strings), a NameError in model.py
        return Tag()


class Ping(nn.Module):
    partner = None

    def forward(self, x: torch.Tensor, other: Pong | None = None) -> torch.Tensor:
        return x


class Pong(nn.Module):
    partner = Ping

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class Base(Block):
    Params = KParams

    def infer(self, p, ins, ctx):
        return [ins[0]]


@register
class OuterFirst(Base):
    name, natives = "outer_first", (Outer, Inner)

    def init_code(self, p):
        return c.call("Outer")


@register
class ScaledFirst(Base):
    name, natives = "scaled_first", (ScaledAct, BaseAct)

    def init_code(self, p):
        return c.call("ScaledAct")


@register
class ScaledAlone(Base):
    name, natives = "scaled_alone", (BaseAct, ScaledAct)

    def native_classes(self, p):
        return (ScaledAct,)

    def init_code(self, p):
        return c.call("ScaledAct")


@register
class Tagged(Base):
    name, natives = "tagged", (Tag,)

    def init_code(self, p):
        return c.call("Tag")


@register
class PingPong(Base):
    name, natives = "ping_pong", (Ping, Pong)

    def init_code(self, p):
        return c.call("Pong")
'''


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """For each block: the diagnostics of vibench.check, and, when it compiles, the classes model.py defines (in
    order) and what its model returns on ones; the warnings of the plug-ins' loading; the E106 of a model
    named like a plug-in's native."""
    tmp = tmp_path_factory.mktemp("natives")
    install(tmp / "site", "p_natives", {"p_natives/__init__.py": PLUGIN}, ["natives = p_natives"])
    specs = {name: spec_text(name, shape="[B, 2, L]") for name in
             ("outer_first", "scaled_first", "scaled_alone", "tagged", "ping_pong")}
    specs["named_inner"] = spec_text("outer_first", shape="[B, 2, L]").replace("name: M", "name: Inner")
    run = run_python(f"""
        import ast, json
        import torch
        import vibench
        from vibench.compiler import registry

        out = {{}}
        for name, text in {specs!r}.items():
            got = {{}}
            try:
                source = vibench.compile_spec(text=text).source
            except vibench.SpecError as err:
                got["diagnostics"] = [d.to_json() for d in err.diagnostics]
            else:
                got["top"] = [n.name for n in ast.parse(source).body if isinstance(n, ast.ClassDef)]
                namespace = {{}}
                exec(compile(source, "model.py", "exec"), namespace)
                got["y"] = namespace["M"]()(torch.ones(1, 2, 3)).flatten().tolist()
            out[name] = got
        out["warnings"] = [d.to_json() for d in registry.plugin_warnings()]
        print(json.dumps(out))
    """, [tmp / "site"], tmp)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    return json.loads(run.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def test_natives_are_written_in_the_order_they_read_each_other(results: dict) -> None:
    """`natives = (Outer, Inner)` with `kind = Inner` in Outer, and `(ScaledAct, BaseAct)` with ScaledAct a
    subclass: model.py defined them as listed and stopped at its import with a NameError."""
    outer, scaled = results["outer_first"], results["scaled_first"]
    assert outer["top"][:2] == ["Inner", "Outer"] and outer["y"] == [3.0] * 6, outer
    assert scaled["top"][:2] == ["BaseAct", "ScaledAct"], scaled
    assert scaled["y"] == pytest.approx([2 * 0.7615941559557649] * 6), scaled


def test_native_classes_must_bring_what_its_natives_read_as_they_are_defined(results: dict) -> None:
    """`native_classes` returning ScaledAct without its base BaseAct: E114 at the node, not a model.py that
    fails at import."""
    (d,) = results["scaled_alone"]["diagnostics"]
    assert (d["code"], d["node"], d["line"]) == ("E114", "n0", 5), d
    assert "its native `ScaledAct` reads the native `BaseAct` when model.py defines it" in d["message"], d
    assert "`native_classes` leaves `BaseAct` out" in d["message"], d


def test_a_native_reading_itself_or_a_partner_as_it_is_defined_is_refused(results: dict) -> None:
    """`-> Tag` in a method of class Tag, and two natives reading each other as they are defined: no order of
    model.py works, so the blocks are refused (W121), and a node using one is E110 naming why."""
    refused = {w["message"].split("`")[1]: w for w in results["warnings"] if w["code"] == "W121"}
    assert set(refused) == {"tagged", "ping_pong"}, results["warnings"]
    assert "its native `Tag` reads its own name while model.py defines it" in refused["tagged"]["message"]
    assert refused["tagged"]["hint"].startswith('quote the annotation (`-> "Tag"`)')
    assert "its natives `Ping` and `Pong` read each other" in refused["ping_pong"]["message"], refused["ping_pong"]
    (d,) = results["tagged"]["diagnostics"]
    assert d["code"] == "E110" and any("reads its own name" in note for note in d["notes"]), d


def test_a_model_named_like_a_plugin_native_is_e106_at_its_name(results: dict) -> None:
    (d,) = results["named_inner"]["diagnostics"]
    assert (d["code"], d["line"], d["column"]) == ("E106", 2, 7), d
    assert d["message"] == "model name `Inner` is taken in model.py", d
    assert d["found"] == "block `outer_first` (node `n0`) brings the native `Inner` into model.py", d


def test_a_model_named_like_a_builtin_native_is_e106_under_check_too(tmp_path: Path) -> None:
    """`name: MovingAverage` beside a `series_decomposition` node passed `--check` and was E106 at 1:1, with no
    excerpt, only when model.py was written: now both say it at the name."""
    text = ("vibench: 1\nname: MovingAverage\ninputs: {x: {shape: [B, L, 3]}}\nnodes:\n"
            "  d: {block: series_decomposition, in: x, kernel_size: 5}\noutputs: {y: d.trend}\n")
    for run in (vibench.check, vibench.compile_spec):
        with pytest.raises(vibench.SpecError) as caught:
            run(text=text)
        (d,) = caught.value.diagnostics
        assert (d.code, d.pos.line, d.pos.col) == ("E106", 2, 7), d
        assert "2 | name: MovingAverage\n  |       ^^^^^^^^^^^^^\n" in caught.value.render(), caught.value.render()
    vibench.check(text=text.replace("name: MovingAverage", "name: Decomposed"))
