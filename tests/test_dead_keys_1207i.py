"""W104 for a value that a node built reads only to pass it on under a key its component reads nothing of (1207i).

`extends: cnn/AttentionCNN` with `use_attention: false, attention_reduction: 8` compiled silently: node `layers`
reads `attention_reduction` (as its key `reduction`), but the AttentionBlock it builds has no CBAM then, so nothing
reads `reduction`. Now W104 says so at the value, naming the node, the key, the component and the node of the
component that would read it. A key one copy of a `repeat:` reads has an effect and stays silent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import vibench
from vibench.compiler.diagnostics import Diagnostic

_BASE = """\
vibench: 1
name: Base
params:
  rate: {type: float, default: 0.1}
  extra: {type: bool, default: false}
  copies: {type: int, default: 1}
let:
  doubled: "${rate * 2}"
blocks:
  Inner:
    params:
      rate: {type: float, default: 0.5}
      extra: {type: bool, default: false}
    inputs:
      x: {shape: [B, C, L]}
    nodes:
      a: {block: relu, in: x}
      b: {block: dropout, in: a, p: rate, when: extra}
    outputs: {y: b}
inputs:
  x: {shape: [B, 4, 16]}
nodes:
  enc: {block: Inner, in: x, repeat: copies, rate: doubled, extra: "${extra or i == 1}"}
outputs:
  y: enc
"""


def _w104(path: Path) -> list[Diagnostic]:
    return [d for d in vibench.check(str(path)).warnings if d.code == "W104"]


def _attention_cnn(tmp_path: Path, use_attention: bool) -> Path:
    spec = tmp_path / "mine.yaml"
    spec.write_text("vibench: 1\nextends: cnn/AttentionCNN\nwith:\n"
                    f"  use_attention: {str(use_attention).lower()}\n  attention_reduction: 8\n", encoding="utf-8")
    return spec


def test_a_value_passed_on_to_a_component_that_does_not_build_its_reader_is_said_at_the_value(tmp_path: Path) -> None:
    [found] = _w104(_attention_cnn(tmp_path, use_attention=False))
    assert (found.pos.line, found.pos.col) == (5, 24)
    assert found.message == ("`attention_reduction` has no effect here: node `layers` passes it as `reduction` to "
                             "AttentionBlock, which does not build the node that reads it")
    assert found.found == "node `layers` has `reduction: ${attention_reduction}`"  # (the plain name as read)
    assert found.hint.startswith("it is read only by node `attention` of AttentionBlock, not built here")
    assert found.hint.endswith("; remove it")


def test_the_warning_is_true_the_value_changes_nothing_built() -> None:
    """The effect the warning denies: the same parameters with another `attention_reduction` (and without
    attention) have the same parameter count; with attention they differ."""
    def count(reduction: int, attention: bool) -> int:
        program = vibench.check("cnn/AttentionCNN", params={"use_attention": attention,
                                                            "attention_reduction": reduction})
        return program.root.param_count

    assert count(8, attention=False) == count(2, attention=False)
    assert count(8, attention=True) != count(2, attention=True)


def test_a_value_the_component_reads_is_not_said(tmp_path: Path) -> None:
    assert _w104(_attention_cnn(tmp_path, use_attention=True)) == []


def test_through_a_let_and_a_block_of_the_file(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(_BASE, encoding="utf-8")
    spec = tmp_path / "off.yaml"
    spec.write_text("vibench: 1\nextends: base.yaml\nwith:\n  rate: 0.3\n", encoding="utf-8")
    said = [d for d in _w104(spec) if d.pos.file == str(spec)]
    assert [(d.pos.line, d.message) for d in said] == [
        (4, "`rate` has no effect here: node `enc` passes it to Inner, which does not build the node that reads it")]
    assert said[0].found == "node `enc` has `rate: ${doubled}`"
    assert said[0].hint.startswith("it is read only by node `b` of Inner, not built here")


@pytest.mark.parametrize("extra", ["  extra: true\n", "  copies: 2\n"])
def test_a_key_one_copy_reads_has_an_effect(tmp_path: Path, extra: str) -> None:
    """`extra: true` builds the dropout in the one copy; `copies: 2` builds it in copy 1 (`i == 1`)."""
    (tmp_path / "base.yaml").write_text(_BASE, encoding="utf-8")
    spec = tmp_path / "on.yaml"
    spec.write_text("vibench: 1\nextends: base.yaml\nwith:\n  rate: 0.3\n" + extra, encoding="utf-8")
    assert [d for d in _w104(spec) if d.pos.file == str(spec)] == []


_KEYED = """\
vibench: 1
name: Keyed
params:
  c: {type: int, default: 7}
  heads: {type: "dict[str, dict[str, any]]", default: {one: {flag: true}, two: {flag: false}}}
inputs:
  x: {shape: [B, 8]}
blocks:
  Blk:
    params:
      p: {type: int, default: 2}
      q: {type: int, default: 2}
      flag: {type: bool, default: false}
    inputs: {x: {shape: [B, C]}}
    nodes:
      fc: {block: linear, in: x, out_features: "${p if flag else q}"}
    outputs: {y: fc}
nodes:
  m: {block: Blk, in: x, for_each: heads, with: "${item}", p: c, q: 5}
outputs:
  y: {from: m.*}
"""


def test_the_copies_of_a_for_each_over_a_mapping_are_one_node(tmp_path: Path) -> None:
    """Copy `one` reads `p`, copy `two` reads `q`: neither key nor `c` is said (each copy was judged alone)."""
    (tmp_path / "keyed.yaml").write_text(_KEYED, encoding="utf-8")
    program = vibench.check(str(tmp_path / "keyed.yaml"), params={"c": 9})
    assert [d for d in program.warnings if d.code == "W104"] == []


def test_a_key_no_copy_of_a_for_each_reads_is_said_once_of_the_node(tmp_path: Path) -> None:
    (tmp_path / "keyed.yaml").write_text(_KEYED.replace("{one: {flag: true}", "{one: {flag: false}"),
                                         encoding="utf-8")
    found = [d for d in vibench.check(str(tmp_path / "keyed.yaml"), params={"c": 9}).warnings if d.code == "W104"]
    assert [(d.node, d.message) for d in found] == [
        ("m", "`p` has no effect here: this Blk builds nothing that reads it"),
        (None, "`c` (given in Python) has no effect here: node `m` passes it as `p` to Blk, which builds nothing "
               "that reads it")]
    assert found[1].hint == ("it is read only by key `out_features` of node `fc` (`${p if flag else q}`) of Blk, "
                             "which does not use it here; remove it")


def test_the_components_found_are_a_files_blocks_by_their_names() -> None:
    """`found:` named AttentionCNN's AttentionBlock and Upsample by their file: `AttentionCNN`."""
    from vibench.compiler.unread_params import stem

    assert stem("vibench/specs/cnn/AttentionCNN.yaml#AttentionBlock") == "AttentionBlock"
    assert stem("isfm/backbone/B_04_Dlinear") == stem("/x/isfm/backbone/B_04_Dlinear.yaml") == "B_04_Dlinear"


def _passed_through(n: int) -> str:
    """A model whose Outer passes `n` values on to an Inner that builds none of the `n` nodes reading them."""
    params = "".join(f"      p{i}: {{type: int, default: 2}}\n" for i in range(n))
    chain = "".join(f"      n{i}: {{block: dropout, in: {'a' if i == 0 else f'n{i - 1}'}, p: \"${{p{i} / 10}}\", "
                    "when: enabled}\n" for i in range(n))
    keys = ", ".join(f"p{i}: p{i}" for i in range(n))
    return ("vibench: 1\nname: Stress\nparams:\n" + params.replace("      ", "  ") + "inputs:\n  x: {shape: [B, 8]}\n"
            "blocks:\n  Inner:\n    params:\n" + params + "      enabled: {type: bool, default: false}\n"
            "    inputs: {x: {shape: [B, C]}}\n    nodes:\n      a: {block: relu, in: x}\n" + chain
            + f"    outputs: {{y: n{n - 1}}}\n  Outer:\n    params:\n" + params
            + "    inputs: {x: {shape: [B, C]}}\n    nodes:\n      inner: {block: Inner, in: x, " + keys + "}\n"
            "    outputs: {y: inner}\nnodes:\n  outer: {block: Outer, in: x, " + keys + "}\noutputs:\n  y: outer\n")


def test_a_component_is_walked_once_for_all_the_keys_it_leaves_unread(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Once per key: 400 values passed on to a component of 400 nodes switched off took 1.8 s (quadratic)."""
    import vibench.compiler.dead_keys as dead_keys

    calls: list[int] = []
    real = dead_keys.idle_readers

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(dead_keys, "idle_readers", counted)
    walks = []
    for n in (10, 40):
        calls.clear()
        spec = tmp_path / f"stress{n}.yaml"
        spec.write_text(_passed_through(n), encoding="utf-8")
        program = vibench.check(str(spec), params={"p3": 5})
        walks.append(len(calls))
    [said] = [d for d in program.warnings if d.code == "W104" and d.message.startswith("`p3` (given")]
    assert said.message.endswith("node `outer` passes it to Outer, which does not use it here")
    assert said.hint == ("Outer passes it as `p3` to Inner (its node `inner`), which does not build its node `n3` "
                         "that reads it, `when: ${enabled}`; remove it")
    assert walks[0] == walks[1] <= 4  # a few walks of the components (Outer's of Inner, W104's), none per key
