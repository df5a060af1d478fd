"""What `when` switches off, after ca070be (copies counted as their values switch them on; a switched-off node
reads nothing).

Before: a `for_each` over a list of a composite whose optional input (`"a?": aux`) one copy switched on and
another off compiled, and model.py (and `vibench.build`) called every copy with copy 0's inputs: a TypeError
when the model ran. A `repeat` copy that switched that input on was specialised without it ("block `Two`
needs input `a` here"), as each copy's inputs were narrowed to the ones the copy before took. A switched-off
node that read a port of another switched-off node (`f2.weights`) was E405, though a switched-off node reads
nothing; one whose `in:` mapping gave its block's first port a switched-off input quietly passed on its second
port (the list form was E405). A `let` with a free input size read only by `metadata:` was E303 at 1:1, and so
was such a `${...}` written in `metadata:` itself.

Now: the copies of a list `for_each` that take different inputs are E405 at the node (a mapping, a node per
key, takes them); the `repeat` copy is the chain's E405; the switched-off node compiles (it passes on its first
input), unless what it passes on is that port; the mapping form is E405 where its reader reads it, as the list
form is; the E303 is at the `let`, or at the `metadata:` entry. Each spec that compiles gives the same model
emitted (model.py) and built (`vibench.build`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import vibench
from tests.helpers import emitted_equals_built
from vibench.compiler.diagnostics import SpecError

EACH_OPT = """\
vibench: 1
name: EachOpt
inputs: {x: {shape: [B, 6]}, aux: {shape: [B, 6]}}
blocks:
  Two:
    params: {extra: false}
    inputs:
      x: {shape: [B, D]}
      a: {shape: [B, D], when: extra}
    nodes:
      fc: {block: linear, in: x, out_features: 6}
      s: {block: add, in: [fc, a], when: extra}
    outputs: {y: s}
nodes:
  r: {block: Two, in: {x: x, "a?": aux}, HOW}
  t: {block: add, in: READ}
outputs: {o: t}
"""

OFF_PORT = """\
vibench: 1
name: OffPort
params: {flag: false}
inputs:
  x: {shape: [B, 3]}
  fs: {shape: [B, 3, 4], when: flag}
nodes:
  f2: {block: attention_pooling, in: fs, when: flag, attention_dim: 4}
  g: {block: mul, in: [x, f2.weights], when: flag}
  fc: {block: linear, in: g, out_features: 4}
outputs: {y: fc}
"""

OFF_MAP = """\
vibench: 1
name: OffMap
params: {flag: false}
inputs:
  x: {shape: [B, 4]}
  fs: {shape: [B, 4], when: flag}
nodes:
  g: {block: sub, in: {x: fs, y: x}, when: flag}
  fc: {block: linear, in: g, out_features: 4}
outputs: {y: fc}
"""

META_LET = """\
vibench: 1
name: MetaLet
let: {half: "${L // 2}"}
inputs: {x: {shape: [B, 4, L]}}
nodes:
  c: {block: conv1d, in: x, out_channels: 4, kernel_size: 1}
outputs: {o: c}
metadata: {h: "${half}"}
"""


def _each(how: str, read: str = "r") -> str:
    return EACH_OPT.replace("HOW", how).replace("READ", read)


def _errors(text: str, **params: Any) -> list[tuple[str, str, int | None]]:
    with pytest.raises(SpecError) as err:
        vibench.compile_spec(text=text, params=params)
    return [(d.code, d.message, d.pos.line if d.pos else None) for d in err.value.diagnostics]


def _emit_equals_build(tmp_path: Path, text: str, name: str, shapes: dict[str, tuple[int, ...]],
                       **params: Any) -> None:
    emitted_equals_built(tmp_path, text, name, shapes, "when_regressions_1207g", **params)


@pytest.mark.parametrize("items, taken", [
    ("[false, true]", "copy 0 takes `x`; copy 1 takes `x`, `a`"),
    ("[true, false]", "copy 0 takes `x`, `a`; copy 1 takes `x`"),
    ("[true, true, false]", "copy 0 takes `x`, `a`; copy 2 takes `x`")])
def test_list_copies_that_take_different_inputs_are_refused_at_the_node(items: str, taken: str) -> None:
    assert _errors(_each(f'for_each: {items}, extra: "${{item}}"')) == [
        ("E405", f"the copies of a `for_each` over a list take different inputs: {taken}", 15)]


@pytest.mark.parametrize("how, read", [
    ('for_each: [true, true], extra: "${item}"', "r"),
    ('for_each: [false, false], extra: "${item}"', "r"),
    ('for_each: {p: false, q: true}, extra: "${item}"', "[r.p, r.q]")])
def test_copies_that_take_the_same_inputs_or_a_mapping_compile(how: str, read: str, tmp_path: Path) -> None:
    _emit_equals_build(tmp_path, _each(how, read), "EachOpt", {"x": (2, 6), "aux": (2, 6)})


@pytest.mark.parametrize("first", ["0", "2"])
def test_a_repeat_copy_that_switches_a_second_input_on_breaks_the_chain(first: str) -> None:
    text = _each(f'repeat: 3, extra: "${{i == {first}}}"').replace("  t: {block: add, in: r}\n", "")
    assert _errors(text.replace("{o: t}", "{o: r}")) == [
        ("E405", "`repeat` chains copies through one input and one output; `Two` has 2 input(s) and 1 output(s)",
         15)]


def test_a_repeat_whose_copies_take_one_input_still_chains(tmp_path: Path) -> None:
    text = _each("repeat: 3").replace("  t: {block: add, in: r}\n", "").replace("{o: t}", "{o: r}")
    _emit_equals_build(tmp_path, text, "EachOpt", {"x": (2, 6), "aux": (2, 6)})


@pytest.mark.parametrize("text", [OFF_PORT, OFF_PORT.replace(", when: flag}\n  f2", "}\n  f2")])
def test_a_switched_off_node_may_read_a_port_of_a_switched_off_node(text: str, tmp_path: Path) -> None:
    shapes = {"x": (2, 3)} if "fs: {shape: [B, 3, 4]}" not in text else {"x": (2, 3), "fs": (2, 3, 4)}
    _emit_equals_build(tmp_path, text, "OffPort", shapes)
    _emit_equals_build(tmp_path, text, "OffPort", {"x": (2, 3), "fs": (2, 3, 4)}, flag=True)


def test_a_switched_off_node_may_not_pass_on_a_port_of_a_switched_off_node() -> None:
    text = OFF_PORT.replace("fs: {shape: [B, 3, 4], when: flag}", "fs: {shape: [B, 3, 4]}")
    assert _errors(text.replace("in: [x, f2.weights]", "in: [f2.weights, x]")) == [
        ("E405", "`f2` is switched off (`when`/`repeat: 0`), so it has no port `weights`", 9)]


@pytest.mark.parametrize("text", [OFF_MAP, OFF_MAP.replace("in: {x: fs, y: x}", "in: [fs, x]")])
def test_a_switched_off_node_passes_on_its_first_port_however_in_is_written(text: str, tmp_path: Path) -> None:
    assert _errors(text) == [
        ("E405", "`g` is switched off and passes on input `fs`, which is switched off (its `when` is false)", 9)]
    _emit_equals_build(tmp_path, text, "OffMap", {"x": (2, 4), "fs": (2, 4)}, flag=True)


def test_a_switched_off_node_passes_its_block_s_first_port_written_second(tmp_path: Path) -> None:
    text = OFF_MAP.replace("in: {x: fs, y: x}", "in: {y: fs, x: x}")
    _emit_equals_build(tmp_path, text, "OffMap", {"x": (2, 4)})


def test_a_let_read_by_metadata_asks_for_the_size_at_the_let() -> None:
    [(code, message, line)] = _errors(META_LET)
    assert (code, line) == ("E303", 3) and "`${L // 2}`" in message
    assert vibench.compile_spec(text=META_LET, inputs={"x": (2, 4, 16)}).program.root.metadata == {"h": 8}


def test_a_free_size_written_in_metadata_is_located_there() -> None:
    [(code, _, line)] = _errors(META_LET.replace('h: "${half}"', 'h: "${L // 2}"'))
    assert (code, line) == ("E303", 8)
