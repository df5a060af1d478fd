"""W104 of keys on nodes that several copies or uses share (1207i review).

* a `for_each` over a mapping of catalogue blocks: copy `a` at `mode: prob_sparse` reads `factor` (each copy was
  judged alone: "remove it" would have changed the model); and of a composite and a catalogue block, whose dropout
  reads `p`;
* a node of a `blocks:` definition used twice, once reading the key: said only if no use reads it;
* a node of a component built as a `for_each` over a mapping is built (its copies are named by their keys);
* a key a component passes on to a block that ignores it names the chain, not "pick a component".
"""

from __future__ import annotations

from pathlib import Path

import pytest

import vibench
from vibench.compiler.diagnostics import Diagnostic

FE_MAP = """\
vibench: 1
name: FeMap
inputs:
  x: {shape: [B, 64, 32]}
nodes:
  att:
    block: prob_sparse_attention
    for_each: {a: prob_sparse, b: top_k}
    in: x
    num_heads: 4
    mode: "${item}"
    factor: 3
  out: {block: add, in: [att.a, att.b]}
outputs:
  y: out
"""

MIXED = """\
vibench: 1
name: Mixed
inputs:
  x: {shape: [B, 16]}
blocks:
  C:
    params:
      p: {type: float, default: 0.1}
      use: {type: bool, default: false}
    inputs: {x: {shape: [B, 16]}}
    nodes:
      d: {block: dropout, in: x, p: "${p if use else 0.0}"}
    outputs: {y: d}
nodes:
  n:
    block: "${item}"
    for_each: {a: C, b: dropout}
    in: x
    p: 0.3
  out: {block: add, in: [n.a, n.b]}
outputs:
  y: out
"""

TWOINST = """\
vibench: 1
name: TwoInst
inputs:
  x: {shape: [B, 64, 32]}
blocks:
  Att:
    params:
      mode: {type: str, default: top_k}
    inputs: {x: {shape: [B, L, 32]}}
    nodes:
      a: {block: prob_sparse_attention, in: x, num_heads: 4, mode: "${mode}", factor: 3}
    outputs: {y: a}
nodes:
  one: {block: Att, in: x, mode: prob_sparse}
  two: {block: Att, in: one}
outputs:
  y: two
"""

TWOINST_C = """\
vibench: 1
name: TwoInstC
inputs:
  x: {shape: [B, 16]}
blocks:
  Inner:
    params:
      p: {type: float, default: 0.1}
      use: {type: bool, default: false}
    inputs: {x: {shape: [B, 16]}}
    nodes:
      d: {block: dropout, in: x, p: p, when: "${use}"}
    outputs: {y: {from: d, when: "${use}"}, z: {from: x, when: "${not use}"}}
  Outer:
    params:
      use: {type: bool, default: false}
    inputs: {x: {shape: [B, 16]}}
    nodes:
      inn: {block: Inner, in: x, use: "${use}", p: 0.3}
    outputs: {y: inn}
nodes:
  one: {block: Outer, in: x, use: true}
  two: {block: Outer, in: one}
outputs:
  y: two
"""

FE_INNER = """\
vibench: 1
name: FeInner
params:
  f: {type: int, default: 5}
inputs:
  x: {shape: [B, 64, 32]}
blocks:
  C:
    params:
      f: {type: int, default: 5}
    inputs: {x: {shape: [B, L, 32]}}
    nodes:
      att:
        block: prob_sparse_attention
        for_each: {a: 1, b: 2}
        in: x
        num_heads: 4
        factor: f
      out: {block: add, in: [att.a, att.b]}
    outputs: {y: out}
nodes:
  c: {block: C, in: x, f: f}
outputs:
  y: c
"""



def _w104(tmp_path: Path, text: str, **params: object) -> list[Diagnostic]:
    spec = tmp_path / "spec.yaml"
    spec.write_text(text, encoding="utf-8")
    return [d for d in vibench.check(str(spec), params=params).warnings if d.code == "W104"]


@pytest.mark.parametrize("text", [FE_MAP, MIXED, TWOINST, TWOINST_C], ids=["fe_map", "mixed", "twoinst", "twoinst_c"])
def test_a_key_one_copy_or_use_reads_is_not_said(tmp_path: Path, text: str) -> None:
    assert _w104(tmp_path, text) == []


def test_a_key_no_use_reads_is_said_once(tmp_path: Path) -> None:
    text = TWOINST.replace("one: {block: Att, in: x, mode: prob_sparse}", "one: {block: Att, in: x}")
    found = _w104(tmp_path, text)
    assert [(d.node, d.message) for d in found] == [
        ("a", "`factor` has no effect here: prob_sparse_attention reads it only at `mode: prob_sparse`")]


def test_a_node_built_as_a_for_each_over_a_mapping_is_built(tmp_path: Path) -> None:
    found = _w104(tmp_path, FE_INNER, f=7)
    assert "does not build" not in " ".join(d.message for d in found)
    said = {d.node: d for d in found}
    assert said["c"].message == ("`f` has no effect here: this C passes it as `factor` to prob_sparse_attention (its "
                                 "node `att`), which reads it only at `mode: prob_sparse`")


def test_a_key_passed_on_to_a_block_that_ignores_it_names_the_chain(tmp_path: Path) -> None:
    text = ("vibench: 1\nname: UseInf\ninputs:\n  x: {shape: [B, 64, 1]}\nnodes:\n"
            "  inf: {block: transformer/Informer, in: x, sampling_seed: 3}\noutputs:\n  y: inf\n")
    [found] = _w104(tmp_path, text)
    assert found.message.startswith("`sampling_seed` has no effect here: this Informer passes it as `sampling_seed` "
                                    "to InformerLayer (its node `encoder_layers`), which passes it as `seed` to "
                                    "prob_sparse_attention")
    assert found.hint == "remove it"


COMP_TWO = """\
vibench: 1
name: CompTwo
blocks:
  Inner:
    params: {n: {type: int}}
    inputs: {x: {shape: [B, L, D]}}
    nodes:
      rnn: {block: lstm, in: x, hidden_size: 4, dropout: 0.5, num_layers: n}
    outputs: {y: rnn.out}
inputs:
  x: {shape: [B, 16, 4]}
nodes:
  a: {block: Inner, in: x, n: 1}
  b: {block: Inner, in: a, n: 2}
outputs: {y: b}
"""


def test_a_block_key_one_use_of_its_definition_reads(tmp_path: Path) -> None:
    """QA: `dropout` of an lstm in a block used with one layer and with two was "remove it"; the second reads it."""
    assert _w104(tmp_path, COMP_TWO) == []
    [found] = _w104(tmp_path, COMP_TWO.replace("n: 2}", "n: 1}"))
    assert found.message == ("`dropout` has no effect here: lstm reads it only between layers (`num_layers` of 2 or "
                             "more)")


def test_a_value_read_by_a_node_not_built_and_passed_on_unread_says_both(tmp_path: Path) -> None:
    """AttentionLSTM without a classifier and with one lstm layer: "read only by node `classifier`" left out the lstm,
    which is built and reads `dropout` from two layers on."""
    [found] = _w104(tmp_path, "vibench: 1\nextends: rnn/AttentionLSTM\nwith:\n  num_layers: 1\n  dropout: 0.3\n")
    assert found.message == ("`dropout` has no effect here: this AttentionLSTM does not build the node that reads it, "
                             "and node `lstm` passes it to lstm, which does not use it here")
    assert found.hint == ("it is read by node `classifier`, not built here; lstm reads it only between layers "
                          "(`num_layers` of 2 or more); remove it")


def test_the_hint_names_the_templates_own_key(tmp_path: Path) -> None:
    """NeuralODE's depth is `ode_layers`; the block's reason names its `num_layers`, which the node writes so."""
    [found] = _w104(tmp_path, "vibench: 1\nextends: no/NeuralODE\nwith: {ode_layers: 1, activation: gelu}\n")
    assert found.hint == ("neural_ode reads it only with `num_layers` of 2 or more (node `ode_func` has "
                          "`num_layers: ${ode_layers}`); remove it")


def test_a_node_not_built_lists_no_components() -> None:
    """QA: MultiScaleCNN's `dropout` (its node `dropout` not built) listed the template's own blocks as components."""
    program = vibench.check("cnn/MultiScaleCNN", params={"dropout": 0.2})
    [found] = [d for d in program.warnings if d.code == "W104"]
    assert found.message.endswith("this MultiScaleCNN does not build the node that reads it")
    assert found.found is None



ERR = """\
vibench: 1
name: Err
inputs:
  x: {shape: [B, 64, 32]}
blocks:
  Att:
    params:
      mode: {type: str, default: top_k}
    inputs: {x: {shape: [B, L, 32]}}
    nodes:
      a: {block: prob_sparse_attention, in: x, num_heads: 4, mode: "${mode}", factor: 3}
    outputs: {y: a}
nodes:
  one: {block: Att, in: x}
  two: {block: linear, in: one, in_features: 5, out_features: 4}
outputs:
  y: two
"""

STR_KEY = """\
vibench: 1
name: StrQ
params:
  m: {type: str, default: top_k}
inputs:
  x: {shape: [B, 64, 32]}
blocks:
  Att2:
    params:
      mm: {type: str, default: top_k}
      use: {type: bool, default: false}
    inputs: {x: {shape: [B, L, 32]}}
    nodes:
      a: {block: prob_sparse_attention, in: x, num_heads: 4, mode: "${mm}", when: "${use}"}
    outputs: {y: {from: a, when: "${use}"}, z: {from: x, when: "${not use}"}}
nodes:
  one: {block: Att2, in: x, mm: "${m}"}
outputs:
  y: one
"""


def test_a_held_warning_is_said_beside_an_error(tmp_path: Path) -> None:
    """QA: the W104 of a definition's key was held until the model was built, and a model that fails is never built:
    the warning, said beside the error before, was lost (in the editor too)."""
    from vibench.compiler.diagnostics import SpecError

    spec = tmp_path / "err.yaml"
    spec.write_text(ERR, encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        vibench.check(str(spec))
    assert sorted((d.code, d.pos.line) for d in caught.value.diagnostics) == [("E301", 15), ("W104", 11)]


def test_a_text_key_is_quoted_as_written(tmp_path: Path) -> None:
    """QA: `mm: "${m}"` (a str parameter) was quoted `mm: m`, which there would be the text 'm'."""
    [found] = [d for d in _w104(tmp_path, STR_KEY, m="prob_sparse") if d.message.startswith("`m`")]
    assert found.found == "node `one` has `mm: ${m}`"
