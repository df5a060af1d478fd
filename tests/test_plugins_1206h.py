"""Plug-in blocks, as the QA pass of 1206h found them (docs/extending.md, "What a plug-in block must be"):

* a `Params` that loosens BlockParams (`extra="allow"`, `strict=False`, `frozen=False`, `Field(strict=False)`)
  is refused (W121): misspelt keys passed with `ok` and `'3'` became 3;
* a value the shape rule sets with `ctx.set` is validated by the block's `Params` and bounded as a spec's (E114
  naming `ctx.set`): `nn.Linear("abc", 3)` and `nn.Linear(2**63, 3)` reached model.py;
* `vibench-compile schema` writes a plug-in's infinite default as `.inf` (it stopped with exit 3), and a block
  whose schema holds NaN or infinity, or cannot be made, is refused (W121), as is one whose `description` raises
  (it broke `--blocks` and `schema` for every block);
* a count or size beyond 2**62 that the spec's sizes make is the spec's E307 or E309, not the plug-in's E114;
* the hypothesis recipe of the page passes on the shipped `haar_dwt` (it compiles each drawn case first).

The plug-ins are installed as pip does and vibench runs in a fresh process (see tests/test_plugins_loading.py).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT
from tests.test_plugins_loading import install, install_haar, run_python

PLUGIN = '''
from pydantic import ConfigDict, Field

from vibench.compiler.blocks.base import Block
from vibench.compiler.codegen import code as c
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.schemas.blocks import BlockParams, NoParams


class _Tanh(Block):
    """A plug-in block calling torch.tanh."""

    Params = NoParams

    def infer(self, p, ins, ctx):
        return [ins[0]]

    def call_code(self, p, args, mod):
        return c.call("torch.tanh", args[0])


class LaxParams(BlockParams):
    model_config = ConfigDict(extra="allow", strict=False)
    gain: float = Field(1.0, description="Gain.")


class LooseFieldParams(BlockParams):
    steps: int = Field(1, strict=False, description="Steps.")


class ThawedParams(BlockParams):
    model_config = ConfigDict(frozen=False)
    gain: float = Field(1.0, description="Gain.")


class ExtraParams(BlockParams):
    model_config = ConfigDict(json_schema_extra={"examples": [{"gain": 2.0}]})
    gain: float = Field(1.0, description="Gain.")


@register
class Lax(_Tanh):
    name, Params = "lax_gain", LaxParams


@register
class LooseField(_Tanh):
    name, Params = "loose_field", LooseFieldParams


@register
class Thawed(_Tanh):
    name, Params = "thawed", ThawedParams


@register
class ExtraOk(_Tanh):
    name, Params = "extra_ok", ExtraParams


class WidthParams(BlockParams):
    width: int | None = Field(None, ge=1, description="Input width (inferred).")


class _Sets(Block):
    Params = WidthParams
    value = None

    def infer(self, p, ins, ctx):
        (t,) = ins
        ctx.set(*self.value(t))
        return [TensorType((*t.shape[:-1], 3), t.dtype)]

    def init_code(self, p):
        return c.call("nn.Linear", p.width, 3)


@register
class SetText(_Sets):
    name, value = "set_text", lambda self, t: ("width", "abc")


@register
class SetHuge(_Sets):
    name, value = "set_huge", lambda self, t: ("width", 2**63)


@register
class SetUnknown(_Sets):
    name, value = "set_unknown", lambda self, t: ("widht", 5)


@register
class SetWidth(_Sets):
    name, value = "set_width", lambda self, t: ("width", t.shape[-1])


class ClipParams(BlockParams):
    low: float = Field(float("-inf"), description="Lower bound.")
    high: float = Field(float("inf"), description="Upper bound.")


@register
class SoftClip(Block):
    """Clamp with bounds that may be infinite, as clamp's."""

    name, Params, infinite_ok = "soft_clip", ClipParams, frozenset({"low", "high"})

    def infer(self, p, ins, ctx):
        return [ins[0]]

    def call_code(self, p, args, mod):
        return c.call("torch.clamp", args[0], min=p.low, max=p.high)


class NanExtraParams(BlockParams):
    v: int = Field(1, json_schema_extra={"weird": float("nan")}, description="v.")


class InfExamplesParams(BlockParams):
    v: float = Field(1.0, examples=[float("inf")], description="v.")


def _boom(schema):
    raise RuntimeError("boom in json_schema_extra")


class RaiseExtraParams(BlockParams):
    v: int = Field(1, json_schema_extra=_boom, description="v.")


@register
class NanExtra(_Tanh):
    name, Params = "nan_extra", NanExtraParams


@register
class InfExamples(_Tanh):
    name, Params = "inf_examples", InfExamplesParams


@register
class RaiseExtra(_Tanh):
    name, Params = "raise_extra", RaiseExtraParams


@register
class DescRaises(_Tanh):
    name = "desc_raises"

    @property
    def description(self):
        raise RuntimeError("desc boom")


@register
class LongDescRaises(_Tanh):
    name = "longdesc_raises"

    @property
    def long_description(self):
        raise RuntimeError("long desc boom")


class TileParams(BlockParams):
    times: int = Field(2, ge=1, description="Copies along the last axis.")


@register
class Tile(Block):
    """Repeat the last axis `times` times (no `flops`: vibench's default, the output's size)."""

    name, Params = "tile_last", TileParams

    def infer(self, p, ins, ctx):
        (t,) = ins
        return [TensorType((*t.shape[:-1], t.shape[-1] * p.times), t.dtype)]

    def call_code(self, p, args, mod):
        return c.method(args[0], "repeat", 1, 1, p.times)


class WideParams(BlockParams):
    out_features: int = Field(ge=1, description="Output width.")
    in_features: int | None = Field(None, ge=1, description="Input width (inferred).")


@register
class WideLinear(Block):
    """nn.Linear over the last axis, as the built-in linear."""

    name, Params = "wide_linear", WideParams

    def infer(self, p, ins, ctx):
        (t,) = ins
        ctx.set("in_features", ctx.concrete(t.shape[-1], "the input width", port="x"))
        return [TensorType((*t.shape[:-1], p.out_features), t.dtype)]

    def param_count(self, p, ins):
        return p.in_features * p.out_features + p.out_features

    def init_code(self, p):
        return c.call("nn.Linear", p.in_features, p.out_features)


@register
class HugeCount(_Tanh):
    name = "huge_count"

    def param_count(self, p, ins):
        return 2**63
'''

REFUSED = ("lax_gain", "loose_field", "thawed", "nan_extra", "inf_examples", "raise_extra", "desc_raises",
           "longdesc_raises")


def _spec(node: str, shape: str = "[B, 4, 8]") -> str:
    return f"vibench: 1\nname: M\ninputs: {{x: {{shape: {shape}}}}}\nnodes:\n  a: {node}\noutputs: {{y: a}}\n"


SPECS = {
    "lax_typo": _spec("{block: lax_gain, in: x, gian: 5.0}"),
    "set_text": _spec("{block: set_text, in: x}"),
    "set_huge": _spec("{block: set_huge, in: x}"),
    "set_unknown": _spec("{block: set_unknown, in: x}"),
    "set_width": _spec("{block: set_width, in: x}"),
    "set_width_given": _spec("{block: set_width, in: x, width: 8}"),
    "tile": _spec("{block: tile_last, in: x, times: 100000000000000000}", "[B, 64, L]"),
    "tile_small": _spec("{block: tile_last, in: x, times: 3}"),
    "wide": _spec("{block: wide_linear, in: x, out_features: 1000000000000000000}"),
    "huge_count": _spec("{block: huge_count, in: x}"),
    "soft_clip": _spec("{block: soft_clip, in: x, high: 0.5}"),
}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The plug-in warnings; for each spec its diagnostics, or model.py's source; the exit codes of `--blocks`,
    `--blocks NAME` and `schema`, and the schema written."""
    tmp = tmp_path_factory.mktemp("h1206h")
    install(tmp / "site", "p_h", {"p_h/__init__.py": PLUGIN}, ["h = p_h"])
    run = run_python(f"""
        import json
        import vibench
        from vibench.compiler import registry
        from vibench.compiler.cli import main

        out = {{"specs": {{}}}}
        for name, text in {SPECS!r}.items():
            try:
                out["specs"][name] = vibench.compile_spec(text=text).source
            except vibench.SpecError as err:
                out["specs"][name] = [d.to_json() for d in err.diagnostics]
        out["warnings"] = {{d.message.split("`")[1]: d.to_json() for d in registry.plugin_warnings()}}
        out["admitted"] = sorted(n for n in registry.all_blocks() if n not in registry.builtin_names())
        out["exits"] = [main(["--blocks"]), main(["--blocks", "soft_clip"]), main(["schema", "-o", "schema.json"])]
        print(json.dumps(out))
    """, [tmp / "site"], tmp)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    out = json.loads(run.stdout.splitlines()[-1])
    out["schema"] = json.loads((tmp / "schema.json").read_text(encoding="utf-8"))
    return out  # type: ignore[no-any-return]


def _only(results: dict, spec: str) -> dict:
    found = results["specs"][spec]
    assert isinstance(found, list) and len(found) == 1, found
    return found[0]  # type: ignore[no-any-return]


def _refusal(results: dict, block: str) -> str:
    warning = results["warnings"][block]
    assert warning["code"] == "W121" and "is refused: " in warning["message"], warning
    return warning["message"].split("is refused: ", 1)[1]  # type: ignore[no-any-return]


def test_a_params_model_that_loosens_blockparams_is_refused(results: dict) -> None:
    """`extra="allow"` let `gian: 5.0` pass as `ok` (a built-in gives E111); strict and frozen likewise."""
    assert _refusal(results, "lax_gain").startswith("its `Params` sets `extra='allow'` in its `model_config`")
    assert "`strict=False`" in " ".join(results["warnings"]["lax_gain"]["notes"])
    assert _refusal(results, "loose_field").startswith("parameter `steps` is declared `strict=False`")
    assert _refusal(results, "thawed").startswith("its `Params` sets `frozen=False`")
    assert "extra_ok" in results["admitted"]  # (another model_config key is the plug-in's to set)
    typo = _only(results, "lax_typo")
    assert typo["code"] == "E110" and "was refused: its `Params` sets `extra='allow'`" in typo["notes"][0], typo


def test_values_set_with_ctx_set_are_validated(results: dict) -> None:
    text = _only(results, "set_text")
    assert (text["code"], text["node"], text["found"]) == ("E114", "a", "ctx.set('width', 'abc')"), text
    assert "its `infer` set `width` with `ctx.set` to 'abc', which its parameter model refuses" in text["message"]
    assert "the plug-in is at fault" in text["hint"]
    huge = _only(results, "set_huge")
    assert huge["code"] == "E114" and "an integer beyond 2**62" in huge["message"], huge
    unknown = _only(results, "set_unknown")
    assert unknown["code"] == "E114" and "set `widht` with `ctx.set` to 5, which is not a parameter" in \
        unknown["message"], unknown
    assert "self.a = nn.Linear(8, 3)" in results["specs"]["set_width"]
    assert "self.a = nn.Linear(8, 3)" in results["specs"]["set_width_given"]  # (the node's own value kept)


def test_an_infinite_default_is_written_as_yaml_writes_it(results: dict) -> None:
    """`schema` stopped with exit 3 ("Out of range float values are not JSON compliant: -inf")."""
    assert results["exits"] == [0, 0, 0]
    node = next(alt for alt in results["schema"]["$defs"]["Node"]["oneOf"] if alt["title"] == "soft_clip")
    low = node["properties"]["low"]
    assert "default" not in low and "`float`; default `-.inf`." in low["markdownDescription"], low
    assert "; default `.inf`." in node["properties"]["high"]["markdownDescription"]
    assert "self.a" not in results["specs"]["soft_clip"] and "max=0.5" in results["specs"]["soft_clip"]


def test_a_block_whose_schema_cannot_be_written_is_left_out(results: dict) -> None:
    assert _refusal(results, "nan_extra") == ("the JSON Schema of its parameter `v` cannot be written as JSON: "
                                              "anyOf/0/weird is nan")
    assert _refusal(results, "inf_examples").endswith("examples/0 is inf")
    assert _refusal(results, "raise_extra") == ("making its parameters' JSON Schema raised RuntimeError: boom in "
                                                "json_schema_extra")
    titles = {alt["title"] for alt in results["schema"]["$defs"]["Node"]["oneOf"]}
    assert "soft_clip" in titles and not titles & set(REFUSED), titles & set(REFUSED)


def test_a_description_that_raises_costs_only_its_block(results: dict) -> None:
    assert _refusal(results, "desc_raises") == "its `description` raised RuntimeError: desc boom"
    assert _refusal(results, "longdesc_raises") == "its `long_description` raised RuntimeError: long desc boom"
    assert not set(REFUSED) & set(results["admitted"])
    assert results["exits"][0] == 0  # `--blocks` lists every other block


def test_a_size_the_spec_gives_is_the_specs_error(results: dict) -> None:
    """`times: 10**17` with vibench's default `flops`, and a plug-in linear's `in * out`, were E114."""
    tile = _only(results, "tile")
    assert (tile["code"], tile["message"]) == ("E309", "the output of node `a` is too large to compute"), tile
    wide = _only(results, "wide")
    assert (wide["code"], wide["found"]) == ("E307", "9,000,000,000,000,000,000 in this node"), wide
    assert ".repeat(1, 1, 3)" in results["specs"]["tile_small"]
    huge = _only(results, "huge_count")  # (2**63 on a node of small sizes: the plug-in's wrong value)
    assert huge["code"] == "E114" and "`param_count` returned a number beyond 2**62" in huge["message"], huge


def _page_snippet(marker: str) -> str:
    page = (Path(ROOT) / "docs" / "extending.md").read_text(encoding="utf-8")
    found = re.search(rf"<!-- {marker}:start -->\n```python\n(.*?)```\n<!-- {marker}:end -->", page, re.S)
    assert found is not None, f"docs/extending.md has no {marker} block"
    return found.group(1)


def test_the_pages_hypothesis_recipe_passes_on_the_shipped_block(tmp_path: Path) -> None:
    """Drawn cases are plausible, not all valid: checked without `compile_case`, `haar_dwt` on a series
    shorter than 2**levels was the finding "a valid spec is refused: ['E305']"."""
    site = tmp_path / "site"
    install_haar(site)
    test = _page_snippet("hypothesis-test").replace('"halver"', '"haar_dwt"')
    assert 'block_cases("haar_dwt")' in test and "compile_case(case)" in test
    (tmp_path / "test_haar_cases.py").write_text(test, encoding="utf-8")
    (tmp_path / "conftest.py").write_text("from hypothesis import settings\n"
                                          "settings.register_profile('few', max_examples=20)\n"
                                          "settings.load_profile('few')\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), ROOT]), "VIBENCH_CACHE": "0"}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                          "test_haar_cases.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0 and "1 passed" in run.stdout, run.stdout[-3000:] + run.stderr[-2000:]
