"""A block's float parameter is a finite number: `factor: .nan`, `1e400` (infinity once read) or
`${1e308 * 10}` compiled, and model.py computed `x * float("inf")` - every output NaN or infinite, exit 0.
A parameter with bounds refused them already (E104); now every one does."""

from __future__ import annotations

import pytest

import vibench

SPEC = """\
vibench: 1
name: T
inputs: {x: {shape: [B, 4, L]}}
nodes:
  c: {block: BLOCK, in: x, SETTING}
outputs: {y: c}
"""


@pytest.mark.parametrize(("block", "setting"), [
    ("scale", "factor: .nan"),
    ("scale", "factor: 1e400"),
    ("scale", "factor: -.inf"),
    ("scale", 'factor: "${1e308 * 10}"'),
    ("leaky_relu", "negative_slope: .nan"),
    ("elu", "alpha: .inf"),  # (constant_pad and clamp take an infinity: tests/test_qa2_1206d.py)
])
def test_a_float_parameter_that_is_not_finite_is_e104_where_it_is_written(block: str, setting: str) -> None:
    text = SPEC.replace("BLOCK", block).replace("SETTING", setting)
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(text=text)
    (d,) = [d for d in info.value.diagnostics if d.severity == "error"]
    field = setting.rsplit(", ", 1)[-1].split(":")[0]
    assert d.code == "E104" and f"parameter `{field}`" in d.message and d.expected == "a finite number", d
    assert d.pos is not None and d.pos.line == 5 and d.node == "c"
    assert d.found in ("nan", "inf", "-inf")


@pytest.mark.parametrize(("block", "setting"), [("scale", "factor: 1e300"), ("scale", "factor: -2.5"),
                                                  ("constant_pad", "dim: 2, after: 1, value: -1e30")])
def test_a_finite_float_is_kept(block: str, setting: str) -> None:
    vibench.check(text=SPEC.replace("BLOCK", block).replace("SETTING", setting))


ANY = """\
vibench: 1
name: T
params: {p: {type: any, default: 1}, q: {type: 'list[any]', default: [1]}}
inputs: {x: {shape: [B, 4]}}
nodes: {a: {block: relu, in: x}}
outputs: {y: a}
"""


@pytest.mark.parametrize(("name", "value", "kind"), [
    ("p", {1, 2}, "set"), ("p", b"ab", "bytes"), ("p", 1 + 2j, "complex"), ("q", [1, object()], "object"),
    ("p", {"a": [1, {"b": frozenset()}]}, "frozenset"),
])
def test_a_python_value_no_spec_can_hold_is_e202_for_an_any_parameter(name: str, value: object, kind: str) -> None:
    """From Python, `any` took a set or bytes: a set was an internal TypeError (unhashable), bytes compiled."""
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(text=ANY, params={name: value})
    (d,) = [d for d in info.value.diagnostics if d.severity == "error"]
    assert d.code == "E202" and f"parameter `{name}`" in d.message, d


@pytest.mark.parametrize("value", [None, True, 3, 2.5, "t", [1, "a"], {"a": [1, {"b": None}]}, {1: "a"}])
def test_spec_values_stay_any(value: object) -> None:
    vibench.check(text=ANY, params={"p": value})
