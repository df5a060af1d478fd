"""Free parameters are output sizes (QA 12-06d): a parameter model.py's class takes other values of is one
that every read of is a block parameter whose shape rule only places it whole at output axes
(vibench.compiler.free_sizes.output_axes), and another value moves only those axes. A head's `stride`,
`kernel_size` or a group norm's `num_groups` was free (one probe value showed no threshold of the
block's own rules, and the head's own shapes were not compared); now each is fixed. A spec's own
parameter that `extends:` binds to the template's free one (`with: {num_classes: classes}`) is the
keyword the class takes."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest
import torch
from pydantic import Field, field_validator, model_validator

import vibench
from vibench.compiler import pipeline
from vibench.compiler.blocks.base import Block
from vibench.compiler.codegen import code as c
from vibench.compiler.ir import TensorType
from vibench.schemas.blocks import BlockParams


def _free(text: str | None = None, path: str | None = None) -> list[str]:
    program = vibench.check(path, text=text) if path else vibench.check(text=text)
    return sorted(pipeline.free_parameters(program))


def _model_class(text: str) -> Any:
    return type(vibench.build(text=text))


F8 = """\
vibench: 1
name: F8
params:
  stride: {type: int, default: 1, ge: 1}
inputs: {x: {shape: [B, 4, L]}}
nodes:
  head: {block: conv1d, in: x, out_channels: 8, kernel_size: 1, stride: stride}
outputs: {y: head}
"""

F3 = """\
vibench: 1
name: F3
params:
  k: {type: int, default: 3, ge: 1}
inputs: {x: {shape: [B, 2, L]}}
nodes:
  pool: {block: adaptive_avg_pool1d, in: x, output_size: 8}
  head: {block: conv1d, in: pool, out_channels: 4, kernel_size: k}
outputs:
  y: head
"""

F6 = """\
vibench: 1
name: F6
params:
  stride: {type: int, default: 1, ge: 1}
inputs: {x: {shape: [B, 2, L]}}
blocks:
  Blk:
    params: {stride: 1}
    inputs: {x: {shape: [B, C, L]}}
    nodes:
      c: {block: conv1d, in: x, out_channels: 4, kernel_size: 3, stride: stride}
    outputs: {y: c}
nodes:
  pool: {block: adaptive_avg_pool1d, in: x, output_size: 16}
  b: {block: Blk, in: pool, stride: stride, repeat: 2}
outputs: {y: b}
"""

F4 = """\
vibench: 1
name: F4
params:
  num_classes: 4
  groups: 1
inputs: {x: {shape: [B, 8]}}
nodes:
  fc: {block: linear, in: x, out_features: num_classes}
  gn: {block: group_norm, in: x, num_groups: groups}
outputs:
  logits: fc
  feat: gn
"""

F1 = """\
vibench: 1
name: F1
params: {g: 1, k: 1, d: 1}
inputs: {x: {shape: [B, 4, L]}}
nodes:
  gn: {block: group_norm, in: x, num_groups: g}
  cv: {block: conv1d, in: x, out_channels: 4, kernel_size: k}
  dl: {block: conv1d, in: x, out_channels: 4, kernel_size: 2, dilation: d}
outputs: {a: gn, b: cv, c: dl}
"""

REPEATED = """\
vibench: 1
name: Rep
params: {n: 4}
inputs: {x: {shape: [B, 8]}}
nodes:
  fc: {block: linear, in: x, out_features: n, repeat: 2}
outputs: {y: fc}
"""


@pytest.mark.parametrize(("text", "name", "value"), [(F8, "stride", 4), (F3, "k", 9), (F6, "stride", 2),
                                                      (F4, "groups", 3), (F4, "groups", 0), (F1, "k", 9)],
                         ids=["stride", "kernel_size", "composite-repeat", "num_groups", "num_groups-0", "hidden"])
def test_a_parameter_that_is_no_output_size_is_fixed(text: str, name: str, value: int) -> None:
    """F8(stride=4) returned [2, 8, 3] where the docstring says [B, 8, L]; F3(k=9) and F6(stride=2)
    built a model torch refuses in forward (E302 from the compiler); F4(groups=3) raised torch's
    ValueError, groups=0 a ZeroDivisionError; F1's k: another node's `L >= 2` hid the new constraint of
    one probe. Now the class refuses each with the message that says to regenerate."""
    assert name not in _free(text)
    cls = _model_class(text)
    assert name not in inspect.signature(cls).parameters
    with pytest.raises(ValueError, match=f"{name}={value} differs from the value this file was compiled"):
        cls(**{name: value})


def test_an_output_size_beside_a_fixed_parameter_stays_free() -> None:
    """F4's `num_classes` (a linear head's out_features) is still free next to the fixed `groups`."""
    assert _free(F4) == ["num_classes"]
    out = _model_class(F4)(num_classes=7)(torch.randn(2, 8))
    assert tuple(out["logits"].shape) == (2, 7) and tuple(out["feat"].shape) == (2, 8)


def test_a_repeated_head_is_no_output_size() -> None:
    """`repeat: 2` of `linear` with out_features n: the second copy's in_features is n too."""
    assert _free(REPEATED) == []


_BLOCKS = """\
vibench: 1
name: Blocks
inputs: {x: {shape: [B, 4, L]}, y: {shape: [B, 8]}, ids: {shape: [B, 5], dtype: int64}}
nodes:
  gn: {block: group_norm, in: x, num_groups: 2}
  cv: {block: conv1d, in: x, out_channels: 6, kernel_size: 3, stride: 2}
  cg: {block: conv1d, in: x, out_channels: 4, kernel_size: 3, groups: 2}
  fc: {block: linear, in: y, out_features: 5}
  em: {block: embedding, in: ids, num_embeddings: 10, embedding_dim: 6}
outputs: {a: gn, b: cv, c: cg, d: fc, e: em}
"""


@pytest.mark.parametrize(("node", "key", "axes"), [
    ("fc", "out_features", {("out", 1)}), ("cv", "out_channels", {("out", 1)}),
    ("em", "embedding_dim", {("out", 2)}), ("cg", "out_channels", None), ("cv", "kernel_size", None),
    ("cv", "stride", None), ("gn", "num_groups", None), ("fc", "in_features", None),
    ("em", "num_embeddings", None)])
def test_output_sizes_come_from_the_shape_rule(node: str, key: str, axes: set[tuple[str, int]] | None) -> None:
    """The shape rule run with an opaque size: placed whole at output axes, or not an output size (a
    conv's out_channels with groups 2 must divide into them)."""
    from vibench.compiler.free_sizes import output_axes

    unit = vibench.check(text=_BLOCKS).root
    found = output_axes(unit, unit.node(node), key, "float32")
    assert (set(found) if found is not None else None) == axes


CLS = """\
vibench: 1
name: Cls
params:
  num_classes: {type: int, default: 4, ge: 1}
  width: {type: int, default: 16, ge: 1}
inputs: {x: {shape: [B, 8]}}
nodes:
  hidden: {block: linear, in: x, out_features: width}
  fc: {block: linear, in: hidden, out_features: num_classes}
outputs: {logits: fc}
"""


def _extends(tmp_path: Path, given: str = "num_classes: classes") -> str:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "Cls.yaml").write_text(CLS)
    (tmp_path / "mine.yaml").write_text(
        f"vibench: 1\nname: Mine\nparams: {{classes: 7}}\nextends: ./lib/Cls\nwith: {{{given}}}\n")
    return str(tmp_path / "mine.yaml")


def test_the_spec_own_parameter_is_the_free_keyword(tmp_path: Path) -> None:
    """mine.yaml: `with: {num_classes: classes}`. Mine(classes=3) raised "classes=3 differs ...
    regenerate" while Mine(num_classes=3) worked; now `classes` is the class's keyword."""
    path = _extends(tmp_path)
    assert _free(path=path) == ["classes"]
    cls = type(vibench.build(path))
    assert list(inspect.signature(cls).parameters) == ["classes", "fixed"]
    assert tuple(cls(classes=3)(torch.randn(2, 8)).shape) == (2, 3)
    assert "logits [B, classes]" in (cls.__doc__ or "")
    with pytest.raises(TypeError, match="argument 'num_classes' \\(takes: \\['classes', 'width'\\]"):
        cls(num_classes=3)
    with pytest.raises(ValueError, match="classes=0 must be an int >= 1"):  # num_classes' ge: 1
        cls(classes=0)


def test_a_spec_parameter_read_elsewhere_is_not_the_keyword(tmp_path: Path) -> None:
    """`classes` also sets the template's hidden `width`: it stays fixed."""
    path = _extends(tmp_path, "num_classes: classes, width: classes")
    assert "classes" not in _free(path=path)
    with pytest.raises(ValueError, match="classes=3 differs"):
        type(vibench.build(path))(classes=3)


@pytest.mark.parametrize(("spec", "free"), [("mlp/ResNetMLP", ["output_dim"]), ("rnn/AttentionGRU", ["output_dim"])])
def test_library_output_sizes_stay_free(spec: str, free: list[str]) -> None:
    """A library model's head width stays free (the goldens' signatures)."""
    assert _free(path=spec) == free


# -- settings no shape rule reads (12-06d, widened): free when the class checks every constraint of the field --

_SETTING = """\
vibench: 1
name: Setting
params:
  rate: {type: float, default: 0.1%s}
inputs: {x: {shape: [B, 8]}}
nodes:
  fc: {block: linear, in: x, out_features: 4}
  head: {block: %s, in: fc, %s: rate%s}
outputs: {y: head}
"""


@pytest.mark.parametrize("declared", ["", ", ge: -5.0"], ids=["no-bounds", "looser-bounds"])
def test_a_free_dropout_is_refused_outside_0_1_by_the_class(declared: str) -> None:
    """`isfm_mlp`'s dropout field (`float | None`) says ge=0, le=1 and its shape rule never reads it (H_05's
    head): `rate` is free, and the class checks the field's bounds as the compiler does (E104), naming the
    parameter (at HEAD: torch's own "dropout probability has to be between 0 and 1" for 1.5, nothing for
    nan; after the first 12-06d fix it was fixed)."""
    text = _SETTING % (declared, "isfm_mlp", "dropout", ", layers: [4, 2]")
    assert _free(text) == ["rate"]
    cls = _model_class(text)
    for value in (1.5, -0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match=f"^Setting: rate={value!r} must be a number >= 0.0 and <= 1.0$"):
            cls(rate=value)
        with pytest.raises(vibench.SpecError, match="E104|E208"):  # the compiler refuses each (E208: rate's ge)
            vibench.check(text=text, params={"rate": value})
    assert cls(rate=0.0).eval()(torch.ones(2, 8)).shape == (2, 2)
    dropouts = [m.p for m in cls(rate=1).modules() if isinstance(m, torch.nn.Dropout)]
    assert dropouts == [1]  # an int for a float: within the bounds


def test_a_free_eps_is_refused_at_or_below_0_when_the_field_says_gt_0() -> None:
    """`layer_norm`'s eps: Field(gt=0); `rate` declares no bound. The class refuses 0.0, -1 and infinity
    (every float of a block is finite, E104) and builds with 1e-3."""
    text = _SETTING % ("", "layer_norm", "eps", "")
    assert _free(text) == ["rate"]
    cls = _model_class(text)
    for value in (0.0, -1, float("inf"), float("nan")):
        with pytest.raises(ValueError, match=f"^Setting: rate={value!r} must be a finite number > 0.0$"):
            cls(rate=value)
        with pytest.raises(vibench.SpecError, match="E104"):
            vibench.check(text=text, params={"rate": value})
    assert cls(rate=1e-3).head.eps == 1e-3


class _SlopeParams(BlockParams):
    slope: float = Field(0.1, description="Negative slope.")
    scale: float = Field(1.0, description="Another setting.")


def _slope_block(params: type) -> Any:
    class Slope(Block):
        """leaky_relu with a setting its shape rule never reads."""

        name = "qa_slope"
        Params = params

        def infer(self, p: Any, ins: list[TensorType], ctx: Any) -> list[TensorType]:
            return [ins[0]]

        def init_code(self, p: Any) -> Any:
            return c.call("nn.LeakyReLU", p.slope)

    return Slope()


class _FieldChecked(_SlopeParams):
    @field_validator("slope")
    @classmethod
    def _not_one(cls, v: float) -> float:
        if v == 1.0:
            raise ValueError("a slope of 1 is the identity")
        return v


class _ModelChecked(_SlopeParams):
    @model_validator(mode="after")
    def _below_scale(self) -> _ModelChecked:
        if self.slope >= self.scale:
            raise ValueError("slope must be below scale")
        return self


class _OtherChecked(_SlopeParams):
    @model_validator(mode="after")
    def _scale_positive(self) -> _OtherChecked:
        if self.scale <= 0:
            raise ValueError("scale must be positive")
        return self


@pytest.mark.parametrize(("params", "free"), [(_SlopeParams, ["rate"]), (_FieldChecked, []), (_ModelChecked, []),
                                              (_OtherChecked, ["rate"])],
                         ids=["unchecked", "field-validator", "model-validator-reads-it", "model-validator-other"])
def test_a_setting_a_validator_reads_stays_fixed(monkeypatch: pytest.MonkeyPatch, params: type,
                                                 free: list[str]) -> None:
    """A validator is a check the class cannot make: `rate` into a field with a validator of its own (rate=1
    is E112), or one a model validator reads (slope >= scale), stays fixed; a model validator that reads only
    another field leaves it free."""
    from vibench.compiler import registry

    monkeypatch.setitem(registry._BLOCKS, "qa_slope", _slope_block(params))
    # (a model name of its own: the build cache knows the block by its class's name, the same in each case)
    text = (_SETTING % ("", "qa_slope", "slope", "")).replace("name: Setting", f"name: Setting{params.__name__}")
    assert _free(text) == free
    cls = _model_class(text)
    if free:
        assert cls(rate=0.3).head.negative_slope == 0.3
    else:
        with pytest.raises(ValueError, match="rate=1.0 differs from the value this file was compiled"):
            cls(rate=1.0)
        with pytest.raises(vibench.SpecError, match="E112"):
            vibench.check(text=text, params={"rate": 1.0})
