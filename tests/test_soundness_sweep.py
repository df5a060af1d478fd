"""Soundness sweep: generated pool / conv / broadcast / concat graphs, the static verdict against torch.

Each case is a small graph on an input ``x`` (and sometimes a second input ``y``) with dimensions written
as symbols or numbers, bound to concrete sizes with ``inputs=``. The static verdict (accept with an
output shape, or a diagnostic) is compared with running the same layers in torch on those sizes:

* accepted: torch runs and gives exactly that shape (no unsound accept);
* refused: torch fails too (no false rejection), except the two documented refusals: E306 (a free
  size that only one value fits — the bound value must then be that one) and the broadcast of two
  free sizes that may both be 1 (the case ``a == 1 < b``, see vibench.compiler.constraints).

A larger run: ``SWEEP_EXAMPLES=5000 pytest tests/test_soundness_sweep.py``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import vibench
from vibench.compiler.diagnostics import SpecError
from vibench.compiler.symbolic import evaluate
from vibench.testing import block_params, yaml_value
from vibench.testing.blocks import symbol_sizes

LAYERS = ("max_pool1d", "avg_pool1d", "conv1d", "adaptive_avg_pool1d", "adaptive_max_pool1d")
COMBINE = ("add", "mul", "sub", "concat")
EXAMPLES = int(os.environ.get("SWEEP_EXAMPLES", "200"))


@dataclass(frozen=True)
class Tensor:
    decl: tuple[str | int, ...]
    dims: tuple[int, ...]


@dataclass(frozen=True)
class Case:
    inputs: dict[str, Tensor]
    left: tuple[tuple[str, dict[str, Any]], ...]  # layers on x
    right: tuple[tuple[str, dict[str, Any]], ...]  # layers on the second operand (x or y)
    other: str | None  # "x" or "y": the source of the right branch; None: a chain only
    combine: tuple[str, int] | None  # (block, dim for concat)

    @property
    def text(self) -> str:
        lines = ["vibench: 1", "name: Sweep", "inputs:"]
        lines += [f"  {name}: {{shape: {yaml_value(list(t.decl))}}}" for name, t in self.inputs.items()]
        lines.append("nodes:")
        last = {"l": "x", "r": self.other or "x"}
        for side, layers in (("l", self.left), ("r", self.right)):
            for k, (block, params) in enumerate(layers):
                items = ", ".join([f"block: {block}", f"in: {last[side]}"] + [f"{p}: {yaml_value(v)}"
                                                                                for p, v in params.items()])
                lines.append(f"  {side}{k}: {{{items}}}")
                last[side] = f"{side}{k}"
        out = last["l"]
        if self.combine is not None:
            block, dim = self.combine
            extra = f", dim: {dim}" if block == "concat" else ""
            lines.append(f"  joined: {{block: {block}, in: [{last['l']}, {last['r']}]{extra}}}")
            out = "joined"
        if out == "x":
            lines.append("  same: {block: identity, in: x}")
            out = "same"
        lines.append(f"outputs: {{y: {out}}}")
        return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# generation
# --------------------------------------------------------------------------------------------


def _layer_params(block: str) -> st.SearchStrategy[dict[str, Any]]:
    params = block_params(block)
    if block == "conv1d":  # small widths; in_channels sometimes given (and sometimes wrong)
        params = params.map(lambda p: {**p, "out_channels": min(p["out_channels"], 4)})
    return params


@st.composite
def _layers(draw: Any, low: int, high: int) -> tuple[tuple[str, dict[str, Any]], ...]:
    count = draw(st.integers(low, high))
    out = []
    for _ in range(count):
        block = draw(st.sampled_from(LAYERS))
        out.append((block, draw(_layer_params(block))))
    return tuple(out)


@st.composite
def _sizes(draw: Any, symbol: str) -> int:
    if symbol == "L":
        return draw(st.one_of(symbol_sizes("L"), st.integers(33, 300)))
    return draw(st.integers(1, 3)) if symbol == "B" else draw(st.integers(1, 4))


@st.composite
def sweep_cases(draw: Any) -> Case:
    sizes = {s: draw(_sizes(s)) for s in ("B", "C", "L")}
    written = {s: draw(st.booleans()) for s in sizes}  # a symbol, or its number in the spec
    x = Tensor(tuple(s if written[s] else sizes[s] for s in ("B", "C", "L")), tuple(sizes.values()))
    inputs = {"x": x}
    kind = draw(st.sampled_from(["chain", "branches", "second_input"]))
    if kind == "chain":
        return Case(inputs, draw(_layers(1, 3)), (), None, None)
    other = "x"
    if kind == "second_input":
        decl, dims = [], []
        for k, s in enumerate(("B", "C", "L")):
            choice = draw(st.sampled_from(["same", "new", "one", "number"]))
            if choice == "same":
                decl.append(x.decl[k])
                dims.append(x.dims[k])
            elif choice == "new":
                decl.append(s + "2")
                dims.append(draw(st.one_of(st.just(1), _sizes(s))))
            else:
                n = 1 if choice == "one" else draw(_sizes(s))
                decl.append(n)
                dims.append(n)
        rank = draw(st.sampled_from([3, 3, 3, 2]))  # sometimes [C, L]-like: broadcasting adds the batch
        inputs["y"] = Tensor(tuple(decl[3 - rank:]), tuple(dims[3 - rank:]))
        other = "y"
    right = draw(_layers(0, 2)) if other == "x" or len(inputs["y"].dims) == 3 else ()
    combine = (draw(st.sampled_from(COMBINE)), draw(st.integers(-3, 2)))
    return Case(inputs, draw(_layers(0, 2)), right, other, combine)


# --------------------------------------------------------------------------------------------
# the torch oracle (functional calls, independent of vibench's generated code)
# --------------------------------------------------------------------------------------------


def _torch_layer(block: str, p: dict[str, Any], t: torch.Tensor) -> torch.Tensor:
    if block == "conv1d":
        conv = torch.nn.Conv1d(p.get("in_channels") or t.shape[1], p["out_channels"], p["kernel_size"],
                               stride=p.get("stride", 1), padding=p.get("padding", 0), dilation=p.get("dilation", 1),
                               groups=p.get("groups", 1), bias=p.get("bias", True),
                               padding_mode=p.get("padding_mode", "zeros"))
        return conv(t)
    if block == "max_pool1d":
        return F.max_pool1d(t, p["kernel_size"], p.get("stride"), p.get("padding", 0), p.get("dilation", 1),
                            ceil_mode=p.get("ceil_mode", False))
    if block == "avg_pool1d":
        return F.avg_pool1d(t, p["kernel_size"], p.get("stride"), p.get("padding", 0),
                            ceil_mode=p.get("ceil_mode", False), count_include_pad=p.get("count_include_pad", True))
    fn = F.adaptive_avg_pool1d if block == "adaptive_avg_pool1d" else F.adaptive_max_pool1d
    return fn(t, p["output_size"])


def torch_shape(case: Case) -> tuple[int, ...] | None:
    """The output shape torch gives on the bound sizes, or None when it refuses (or gives no elements)."""
    try:
        with torch.no_grad():
            values = {name: torch.randn(t.dims) for name, t in case.inputs.items()}
            left = values["x"]
            for block, p in case.left:
                left = _torch_layer(block, p, left)
            if case.combine is None:
                return tuple(left.shape) if left.numel() else None
            right = values[case.other or "x"]
            for block, p in case.right:
                right = _torch_layer(block, p, right)
            block, dim = case.combine
            out = torch.cat([left, right], dim=dim) if block == "concat" else \
                {"add": torch.add, "mul": torch.mul, "sub": torch.sub}[block](left, right)
    except (RuntimeError, ValueError, IndexError):
        return None
    return tuple(out.shape) if out.numel() else None


# --------------------------------------------------------------------------------------------
# the comparison
# --------------------------------------------------------------------------------------------

PIN = re.compile(r"holds only when (\w+) = (\d+)")
GIVEN_UP = re.compile(r"^(?P<one>.+) == 1 or (?P<a>.+) == (?P<b>.+)$")


def classify(case: Case) -> str:
    """``agree-accept``, ``agree-reject``, ``policy-E306``, ``documented-broadcast``, or a failure:
    ``unsound-accept``, ``wrong-shape``, ``false-rejection``."""
    want = torch_shape(case)
    bindings = {name: t.dims for name, t in case.inputs.items()}
    try:
        program = vibench.check(text=case.text, inputs=bindings)
    except SpecError as err:
        if want is None:
            return "agree-reject"
        diag = err.diagnostics[0]
        pin = PIN.search(diag.message) if diag.code == "E306" else None
        if pin is not None and _bound(case, pin.group(1)) == int(pin.group(2)):
            return "policy-E306"
        if diag.code == "E305" and _given_up(diag.expected or "", case):
            return "documented-broadcast"
        return f"false-rejection {diag.code}: {diag.message}"
    if want is None:
        return "unsound-accept"
    (_, _, t), = program.root.outputs
    got = tuple(evaluate(d, dict(program.bindings)) for d in t.shape)
    return "agree-accept" if got == want else f"wrong-shape static {got} torch {want}"


def _bound(case: Case, symbol: str) -> int | None:
    for t in case.inputs.values():
        for d, n in zip(t.decl, t.dims, strict=True):
            if d == symbol:
                return n
    return None


def _given_up(expected: str, case: Case) -> bool:
    """`X == 1 or A == B` (A or B is X) refused where the other of A, B is 1 and X is not: the one
    broadcast of two free sizes the checker gives up (vibench.compiler.constraints)."""
    match = GIVEN_UP.match(expected)
    if match is None:
        return False
    env = {str(d): n for t in case.inputs.values() for d, n in zip(t.decl, t.dims, strict=True)}
    one, a, b = (match.group(k) for k in ("one", "a", "b"))
    if one not in (a, b):
        return False
    other = b if one == a else a
    value = eval  # noqa: S307 - our own rendering of dimensions, evaluated on the bound sizes
    return value(other, {}, env) == 1 and value(one, {}, env) != 1


@settings(max_examples=EXAMPLES)
@given(sweep_cases())
def test_static_verdict_matches_torch(case: Case) -> None:
    verdict = classify(case)
    assert verdict in ("agree-accept", "agree-reject", "policy-E306", "documented-broadcast"), \
        f"{verdict}\n{case.text}inputs: {({n: t.dims for n, t in case.inputs.items()})}"
