"""Free parameters are sound (QA 12-06b): model.py's class never builds a model that the compiler would
refuse or build differently. A parameter is free only when nothing but a head's size reads it: no
`checks:`, no `let:` (a `require(...)` or any other), no `when:`/`repeat:`/`checkpoint:`/`with:` or other
expression, also inside the composites it is passed into (recursively), whose declared type and bounds
must admit every value the class admits (the class checks only the model's declaration)."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
import torch

import vibench
from vibench.compiler import pipeline

_HEAD = """\
vibench: 1
name: {name}
params:
  num_classes: {{type: {type}, default: 4, {bounds}}}
{top}blocks:
  Head:
    params: {{n: {{type: {inner_type}{inner_bounds}}}}}
{head_extra}    inputs: {{x: {{shape: [B, C]}}}}
    nodes:
      fc: {{block: linear, in: x, out_features: n{fc_extra}}}
{head_nodes}    outputs: {{y: fc{head_outputs}}}
inputs: {{x: {{shape: [B, 8]}}}}
nodes:
  head: {{block: Head, in: x, n: num_classes{node_extra}}}
outputs: {{logits: head.y{outputs}}}
"""


def _spec(name: str = "M", type: str = "int", bounds: str = "ge: 1", top: str = "", inner_type: str = "int",
          inner_bounds: str = "", head_extra: str = "", fc_extra: str = "", head_nodes: str = "",
          head_outputs: str = "", node_extra: str = "", outputs: str = "") -> str:
    """A model whose head is composite `Head`, passed `num_classes` as its parameter `n`."""
    return _HEAD.format(name=name, type=type, bounds=bounds, top=top, inner_type=inner_type,
                        inner_bounds=inner_bounds, head_extra=head_extra, fc_extra=fc_extra,
                        head_nodes=head_nodes, head_outputs=head_outputs, node_extra=node_extra, outputs=outputs)


def _free(text: str) -> list[str]:
    return sorted(pipeline.free_parameters(vibench.check(text=text)))


def _model_class(text: str) -> Any:
    """model.py's class (``vibench.build`` instantiates the emitted class)."""
    return type(vibench.build(text=text))


def _shapes(out: Any) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in out.items()} if isinstance(out, dict) else {"": tuple(out.shape)}


# -- the three QA cases: each was free, and the class built what the compiler refuses or builds otherwise --


FK9 = """\
vibench: 1
name: FK9
params:
  num_classes: {type: int, default: 4, ge: 1}
blocks:
  Head:
    params: {n: {type: int}}
    inputs: {x: {shape: [B, C]}}
    nodes:
      fc: {block: linear, in: x, out_features: n}
      a: {block: relu, in: fc, when: "${n < 100}"}
      p: {block: linear, in: x, out_features: "${8 if n < 100 else 9}"}
    outputs: {y: a, z: p}
inputs: {x: {shape: [B, 8]}}
nodes:
  head: {block: Head, in: x, n: num_classes}
outputs: {logits: head.y, aux: head.z}
"""

FK = """\
vibench: 1
name: FK
params:
  num_classes: {type: int, default: 4, ge: 1}
checks:
  - that: "${num_classes <= 5}"
    message: "at most 5 classes, got ${num_classes}"
    at: num_classes
inputs: {x: {shape: [B, 8]}}
nodes:
  fc: {block: linear, in: x, out_features: num_classes}
outputs: {logits: fc}
"""

FK2 = """\
vibench: 1
name: FK2
params:
  num_classes: {type: int, default: 4, ge: 1}
let:
  ok: "${require(num_classes != 7, 'seven is unlucky')}"
inputs: {x: {shape: [B, 8]}}
nodes:
  fc: {block: linear, in: x, out_features: num_classes}
outputs: {logits: fc}
"""

FK3 = """\
vibench: 1
name: FK3
params:
  num_classes: {type: int, default: 4, ge: 1}
blocks:
  Head:
    params: {n: {type: int, le: 5}}
    checks:
      - that: "${n != 6}"
        message: "no six"
    inputs: {x: {shape: [B, C]}}
    nodes:
      fc: {block: linear, in: x, out_features: n}
    outputs: {y: fc}
inputs: {x: {shape: [B, 8]}}
nodes:
  head: {block: Head, in: x, n: num_classes}
outputs: {logits: head}
"""


def test_a_threshold_inside_a_composite_head_is_not_free() -> None:
    """fk9: `num_classes` passed to composite `Head` as `n`, which `when: ${n < 100}` and
    `${8 if n < 100 else 9}` read. `FK9(num_classes=200)` kept the ReLU and gave aux [B, 9] where the
    docstring said [B, 8], while `vibench.build(num_classes=200)` dropped the ReLU. Now the class takes
    only the compiled value."""
    assert _free(FK9) == []
    cls = _model_class(FK9)
    assert "num_classes" not in inspect.signature(cls).parameters
    with pytest.raises(ValueError, match="num_classes"):
        cls(num_classes=200)
    assert _shapes(cls()(torch.randn(2, 8))) == {"logits": (2, 4), "aux": (2, 8)}
    assert _shapes(vibench.build(text=FK9, num_classes=200)(torch.randn(2, 8)))["aux"] == (2, 9)


@pytest.mark.parametrize(("text", "value"), [(FK, 50), (FK2, 7)], ids=["checks", "let-require"])
def test_a_parameter_a_check_or_a_let_reads_is_not_free(text: str, value: int) -> None:
    """fk (`checks: ${num_classes <= 5}`, E215) and fk2 (`let: ${require(num_classes != 7, ...)}`, E204):
    the class ran `FK(num_classes=50)` and `FK2(num_classes=7)`, which the compiler refuses."""
    assert _free(text) == []
    with pytest.raises(vibench.SpecError):
        vibench.build(text=text, num_classes=value)
    cls = _model_class(text)
    with pytest.raises(ValueError, match="num_classes"):
        cls(num_classes=value)
    assert _shapes(cls()(torch.randn(2, 8))) == {"": (2, 4)}


def test_a_composite_parameter_bound_the_model_does_not_imply_is_not_free() -> None:
    """fk3: `Head.params.n: le: 5` (and a check of n): `FK3(num_classes=10)` gave [2, 10] where
    `--set num_classes=10` is E208."""
    assert _free(FK3) == []
    with pytest.raises(vibench.SpecError):
        vibench.build(text=FK3, num_classes=10)
    cls = _model_class(FK3)
    with pytest.raises(ValueError, match="num_classes"):
        cls(num_classes=10)


# -- near misses: what reads the parameter only as a head's size stays free -------------------------------

_DEEP = """\
vibench: 1
name: Deep
params:
  num_classes: {type: int, default: 4, ge: 1}
blocks:
  Inner:
    params: {k: {type: "int | None", ge: 1}}
    inputs: {x: {shape: [B, C]}}
    nodes:
      hidden: {block: linear, in: x, out_features: 16}
      act: {block: relu, in: hidden}
      fc: {block: linear, in: act, out_features: k}
    outputs: {y: fc}
  Outer:
    params: {n: {type: int, ge: 1}}
    inputs: {x: {shape: [B, C]}}
    nodes:
      pre: {block: relu, in: x}
      inner: {block: Inner, in: pre, k: n}
    outputs: {y: inner}
inputs: {x: {shape: [B, 8]}}
nodes:
  head: {block: Outer, in: x, n: num_classes}
outputs: {logits: head}
"""

_OPTIONAL = """\
vibench: 1
name: Optional
params:
  num_classes: {type: "int | None", default: 4, ge: 1}
  width: {type: int, default: 8, ge: 1}
let:
  ok: "${require(width != 7, 'not seven')}"
checks:
  - that: "${width <= 64}"
    message: too wide
inputs: {x: {shape: [B, 8]}}
nodes:
  body: {block: linear, in: x, out_features: width}
  fc: {block: linear, in: body, out_features: num_classes, when: "${num_classes is not None}"}
  proj: {block: linear, in: body, out_features: 2}
outputs:
  logits: {from: fc, when: "${num_classes is not None}"}
  signal: {from: proj, when: "${num_classes is None}"}
"""

NEAR_MISSES = {  # id -> spec text; each keeps num_classes free
    "plain-linear-head": FK.replace('checks:\n  - that: "${num_classes <= 5}"\n    message: "at most 5 classes, '
                                    'got ${num_classes}"\n    at: num_classes\n', ""),
    "composite-head-size-only": _spec(),
    "composite-bound-implied": _spec(inner_bounds=", ge: 1"),
    "composite-bound-implied-by-tighter": _spec(bounds="ge: 2, le: 50", inner_bounds=", ge: 1, le: 100"),
    "composite-bound-implied-by-gt": _spec(bounds="gt: 1", inner_bounds=", ge: 1"),
    "composite-optional-type": _spec(inner_type='"int | None"'),
    "composite-any-type": _spec(inner_type="any").replace("n: num_classes}", "n: '${num_classes}'}"),
    "composite-is-not-none-test": _spec(head_nodes='      r: {block: relu, in: x, when: "${n is not None}"}\n',
                                        head_outputs=", r: r", outputs=", r: head.r"),
    "composite-check-of-another-parameter": _spec(
        inner_bounds="}, m: {type: int, default: 3",
        head_extra='    checks:\n      - that: "${m > 0}"\n        message: "m"\n'
                   '    let:\n      twice: "${require(m < 10, \'m\') or 2 * m}"\n'),
    "composite-sibling-layers": _spec(head_nodes="      aux: {block: linear, in: x, out_features: 3}\n",
                                      head_outputs=", aux: aux", outputs=", aux: head.aux"),
    "checks-and-lets-of-other-parameters": _OPTIONAL,
    "nested-composites": _DEEP,
}


@pytest.mark.parametrize("text", list(NEAR_MISSES.values()), ids=list(NEAR_MISSES))
def test_a_parameter_only_a_head_size_reads_stays_free(text: str) -> None:
    """Each stays free, and the class built with another value is what the compiler builds with it (the
    same output shapes and parameter count)."""
    assert _free(text) == ["num_classes"]
    cls = _model_class(text)
    assert "num_classes" in inspect.signature(cls).parameters
    x = torch.randn(2, 8)
    for value in (3, 9):
        given, compiled = cls(num_classes=value), vibench.build(text=text, num_classes=value)
        assert _shapes(given(x)) == _shapes(compiled(x))
        assert sum(p.numel() for p in given.parameters()) == sum(p.numel() for p in compiled.parameters())


# -- and what reads it otherwise, at any depth, makes it fixed ----------------------------------------------

NOT_FREE = {  # id -> spec text; num_classes read by something other than a head's size
    "composite-when": _spec(head_nodes='      r: {block: relu, in: fc, when: "${n > 2}"}\n',
                            head_outputs=", r: r", outputs=", r: head.r"),
    "composite-expression": _spec(head_nodes='      aux: {block: linear, in: x, out_features: "${n + 1}"}\n',
                                  head_outputs=", aux: aux", outputs=", aux: head.aux"),
    "composite-check": _spec(head_extra='    checks:\n      - that: "${n != 6}"\n        message: "no six"\n'),
    "composite-let": _spec(head_extra='    let:\n      twice: "${2 * n}"\n'),
    "composite-let-require": _spec(head_extra='    let:\n      ok: "${require(n < 9, \'small\')}"\n'),
    "composite-upper-bound": _spec(inner_bounds=", le: 5"),
    "composite-bound-looser-than-needed": _spec(bounds="ge: 1, le: 50", inner_bounds=", le: 10"),
    "composite-lower-bound": _spec(bounds="ge: 0", inner_bounds=", ge: 1"),
    "composite-choices": _spec(inner_bounds=", choices: [3, 4, 5]"),
    "composite-repeat": _spec(head_nodes="      deep: {block: relu, in: x, repeat: n}\n",
                              head_outputs=", deep: deep", outputs=", deep: head.deep"),
    "nested-composite-when": _DEEP.replace("      act: {block: relu, in: hidden}",
                                           '      act: {block: relu, in: hidden, when: "${k < 100}"}'),
    "nested-composite-bound": _DEEP.replace('k: {type: "int | None", ge: 1}', 'k: {type: "int | None", le: 6}'),
    "passed-by-with": _spec(node_extra=", with: {n: num_classes}").replace(" n: num_classes,", ""),
    "head-checkpoint": FK.replace('checks:\n  - that: "${num_classes <= 5}"\n    message: "at most 5 classes, '
                                  'got ${num_classes}"\n    at: num_classes\n', "").replace(
        "out_features: num_classes}", 'out_features: num_classes, checkpoint: "${num_classes > 100}"}'),
    "checks-at": FK.replace('"${num_classes <= 5}"', "true"),
    "let-plain": FK2.replace("\"${require(num_classes != 7, 'seven is unlucky')}\"", '"${num_classes * 2}"'),
}


@pytest.mark.parametrize("text", list(NOT_FREE.values()), ids=list(NOT_FREE))
def test_a_parameter_read_otherwise_is_fixed(text: str) -> None:
    vibench.check(text=text)  # compiles with the default
    assert _free(text) == []


_RATE = """\
vibench: 1
name: Rate
params:
  rate: {type: float, default: 0.5, gt: 0}
blocks:
  Head:
    params: {q: {type: float, %s}}
    inputs: {x: {shape: [B, C]}}
    nodes:
      d: {block: layer_norm, in: x, eps: q}
    outputs: {y: d}
inputs: {x: {shape: [B, 8]}}
nodes:
  h: {block: linear, in: x, out_features: 3}
  head: {block: Head, in: h, q: rate}
outputs: {y: head}
"""


@pytest.mark.parametrize(("bounds", "free"), [("gt: 0", ["rate"]), ("ge: 0.0", ["rate"]), ("gt: -1", ["rate"]),
                                              ("gt: 0, le: 1", []), ("gt: 0.1", []), ("choices: [0.5, 1.0]", [])])
def test_a_float_passed_into_a_composite_is_free_where_its_bounds_are_implied(bounds: str, free: list[str]) -> None:
    """The same rule for a float: `rate` (> 0) into a layer norm's `eps` in `Head.q`; free only where q's
    bounds admit every value the class admits (`gt: 0, le: 1`: the class would take rate=2, E208)."""
    text = _RATE % bounds
    assert _free(text) == free
    if not free:
        with pytest.raises(ValueError, match="rate"):
            _model_class(text)(rate=0.05)
