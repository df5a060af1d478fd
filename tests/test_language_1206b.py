"""Located, explained errors the language QA (1206b) found missing or wrong.

* An output promise that holds for some input sizes only (`[B, L, L]` of a `[B, L, 3]` output) is the
  constraint `L == 3`: listed, and E308 when `--input` binds L otherwise (it said ok).
* A library template's `block: ${act}` that names no block (E110) is reported at the user's setting
  of `act`, with a note naming the template's node, as E301 is.
* A name inside `${...}` that is not ASCII is refused (E203), naming the character: Python read
  `${ｗｉｄｔｈ}` as `width`; a Cyrillic `і` gave a did-you-mean of two identical-looking names.
* A declared dimension that computes to 0 is E212 at the declaration with `--input` too (it was E305
  quoting the raw `${n - 4}`).
* E302's note names the range known (`1 <= L <= 5`) and the node that bounds it.
* An unclosed `[` or `(` inside `${...}` is named (it said the `}` was missing).
* A composite's wrong output shape names the block (and file) that gave it: the component of an ISFM slot.
* Cosmetics: one note per value, `let` errors name the model (not "node `E1`") and a forward reference,
  the two colliding outputs, a promise's `${B}`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import vibench
from vibench.compiler.diagnostics import Diagnostic


def _errors(text: str | None = None, path: str | None = None, **kwargs: object) -> list[Diagnostic]:
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(path, text=text, **kwargs)  # type: ignore[arg-type]
    return [d for d in info.value.diagnostics if d.severity == "error"]


def _error(text: str | None = None, path: str | None = None, **kwargs: object) -> Diagnostic:
    errors = _errors(text, path, **kwargs)
    assert len(errors) == 1, errors
    return errors[0]


# -- A: a promise that holds for one input size -------------------------------------------------

SQUARE = """
vibench: 1
name: O6
inputs: {x: {shape: [B, L, 3]}}
nodes:
  fc: {block: identity, in: x}
outputs:
  sig: {from: fc, shape: SHAPE}
"""


@pytest.mark.parametrize("shape", ["[B, L, L]", "[B, n, n]"])
def test_promise_that_holds_for_one_size_is_a_constraint(shape: str) -> None:
    text = SQUARE.replace("SHAPE", shape)
    program = vibench.check(text=text)
    assert [c.text for c in program.root.constraints] == ["L == 3"]
    vibench.check(text=text, inputs={"x": (2, 3, 3)})
    d = _error(text, inputs={"x": (2, 4, 3)})
    assert d.code == "E308" and "L == 3" in d.message
    assert d.pos is not None and (d.pos.line, d.pos.col) == (8, 26)
    assert d.found == "L = 4"
    assert any("promises [B, L, L]" in n and "[B, L, 3]" in n for n in d.notes)


def test_promise_equal_at_a_single_size_only_is_refused() -> None:
    text = """
vibench: 1
name: Half
inputs: {x: {shape: [B, 4, L]}}
nodes:
  p: {block: max_pool1d, in: x, kernel_size: 2, ceil_mode: true}
outputs:
  y: {from: p, shape: [B, 4, L]}
"""
    d = _error(text)
    assert d.code == "E308" and "only when L = 1" in d.message


# -- B: E110 of a template's `block: ${act}` at the user's setting ---------------------------------

LIB = """
vibench: 1
name: Lib
inputs: {x: {shape: [B, 4]}}
blocks:
  Proj:
    params: {n: {type: int, ge: 1, le: 32}, act: {type: str, default: relu}}
    inputs: {x: {shape: [B, C]}}
    nodes:
      fc: {block: linear, in: x, out_features: n}
      a: {block: "${act}", in: fc}
    outputs: {y: a}
nodes:
  p: {block: Proj, in: x, n: 4}
outputs: {y: p}
"""


@pytest.mark.parametrize("user", [
    'nodes:\n  p: {block: "./lib#Proj", in: x, n: 4, act: tanhh}\n',
    'params:\n  cfg: {type: "dict[str, any]", default: {n: 4, act: tanhh}}\n'
    'nodes:\n  p: {block: "./lib#Proj", in: x, with: "${cfg}"}\n',
])
def test_unknown_block_from_a_template_is_reported_at_the_users_setting(tmp_path: Path, user: str) -> None:
    (tmp_path / "lib.yaml").write_text(LIB)
    spec = tmp_path / "w7.yaml"
    spec.write_text("vibench: 1\nname: W7\ninputs: {x: {shape: [B, 4]}}\n" + user + "outputs: {y: p}\n")
    d = _error(path=str(spec))
    assert d.code == "E110" and "tanhh" in d.message
    assert d.pos is not None and d.pos.file.endswith("w7.yaml")
    assert d.origin is not None and d.origin.file.endswith("lib.yaml") and d.origin.line == 11
    assert any("reaches `block` of node `a`" in n and "lib.yaml:11" in n for n in d.notes)
    assert d.hint == "did you mean `tanh`?"


# -- C: names in `${...}` are ASCII ------------------------------------------------------------------

NAMED = """
vibench: 1
name: U1
params: {width: 8}
inputs: {x: {shape: [B, 4]}}
nodes:
  fc: {block: linear, in: x, out_features: "${NAME}"}
outputs: {y: fc}
"""


def test_full_width_name_in_an_expression_is_refused() -> None:
    d = _error(NAMED.replace("NAME", "ｗｉｄｔｈ"))
    assert d.code == "E203" and "`ｗｉｄｔｈ` is not ASCII" in d.message and "reads it as `width`" in d.message
    assert d.hint is not None and "U+FF57" in d.hint and "write `width`" in d.hint


def test_look_alike_name_in_an_expression_names_its_code_point() -> None:
    d = _error(NAMED.replace("NAME", "wіdth"))
    assert d.code == "E203" and "not ASCII" in d.message
    assert d.hint is not None and "U+0456" in d.hint


def test_non_ascii_text_in_a_string_literal_is_kept() -> None:
    text = NAMED.replace("NAME", "width + len('ｗ') - 1")
    assert vibench.check(text=text).root.outputs[0][2].shape[1] == 8


# -- D: a declared dimension that computes to 0, with --input ------------------------------------------

def test_zero_dimension_from_an_expression_is_e212_with_input_too() -> None:
    text = """
vibench: 1
name: SH1
params: {n: 4}
inputs: {x: {shape: [B, "${n - 4}"]}}
nodes: {fc: {block: linear, in: x, out_features: 2}}
outputs: {y: fc}
"""
    for inputs in (None, {"x": (2, 4)}):
        d = _error(text, inputs=inputs)
        assert d.code == "E212" and d.pos is not None and (d.pos.line, d.pos.col) == (5, 25), d


# -- E: the range that makes a constraint impossible --------------------------------------------------

def test_impossible_constraint_names_the_known_range_and_its_source() -> None:
    text = """
vibench: 1
name: CC3
inputs: {x: {shape: [B, L, 4]}, z: {shape: [B, 4, L]}}
nodes:
  pe: {block: learned_positional_encoding, in: x, max_len: 5}
  c: {block: conv1d, in: z, out_channels: 4, kernel_size: 10}
outputs: {y: c, w: pe}
"""
    d = _error(text)
    assert d.code == "E302" and d.expected == "L >= 10"
    assert d.found is not None and "`L <= 5`, needed by node `pe`" in d.found
    assert "no size of L in 1 <= L <= 5 meets it (`L <= 5` from node `pe`)" in d.notes


# -- F: which bracket is unclosed ------------------------------------------------------------------------

@pytest.mark.parametrize(("expr", "bracket", "opens"), [("ks[0", "[", "ks["), ("(1", "(", "("), ("[1", "[", "[")])
def test_unclosed_bracket_is_named(expr: str, bracket: str, opens: str) -> None:
    text = NAMED.replace("params: {width: 8}", "params: {ks: [3, 5]}").replace("NAME", expr)
    d = _error(text)
    assert d.code == "E203"
    assert f"unclosed `{bracket}`" in d.message and f"it opens at `{opens}`" in d.message, d.message
    assert "unclosed `${`" not in d.message


# -- G: the component that gave a wrong shape -------------------------------------------------------------

def test_wrong_width_from_a_slot_names_the_component(tmp_path: Path) -> None:
    folder = tmp_path / "isfm" / "backbone"
    folder.mkdir(parents=True)
    (folder / "B_21_Bad.yaml").write_text("""
vibench: 1
name: B_21_Bad
doc: Changes the width (wrong).
params:
  output_dim: {type: int, default: 128, ge: 1, doc: Token width D.}
inputs: {x: {shape: [B, P, "${output_dim}"]}}
nodes:
  fc: {block: linear, in: x, out_features: 64}
outputs: {tokens: fc}
""")
    d = _error(path="isfm/M_01_ISFM", params={"backbone": "B_21_Bad"}, search_path=[str(tmp_path)])
    assert d.code == "E301" and d.node == "task_head"
    assert any(n.startswith("`backbone` (B_21_Bad, ") and "B_21_Bad.yaml) gives [B, 32, 64]" in n
               for n in d.notes), d.notes


# -- H: cosmetics ----------------------------------------------------------------------------------------

def test_one_note_per_value_read_on_several_ports() -> None:
    text = """
vibench: 1
name: W8
inputs: {x: {shape: [B, L, 16]}}
nodes:
  a: {block: multi_head_attention, in: [x, x, x], num_heads: 3}
outputs: {y: a.out}
"""
    d = _error(text)
    assert d.notes.count("`x` gives [B, L, 16]") == 1


def test_let_errors_name_the_model_not_a_node() -> None:
    text = """
vibench: 1
name: E1
let:
  big: "${2 ** 100}"
inputs: {x: {shape: [B, 4]}}
nodes: {fc: {block: linear, in: x, out_features: "${big // 2**98}"}}
outputs: {y: fc}
"""
    d = _error(text)
    assert d.node is None and "`let.big` of model `E1`" in d.message


@pytest.mark.parametrize(("lets", "message", "hint"), [
    ('  a: "${b + 1}"\n  b: "${a + 1}"\n', "`let.a` reads `b`, which is defined below it", "read each other"),
    ('  a: "${b + 1}"\n  b: 3\n', "`let.a` reads `b`, which is defined below it", "move `b` above `a`"),
    ('  a: "${a + 1}"\n', "`let.a` reads itself", None),
])
def test_let_forward_reference_says_it_is_below(lets: str, message: str, hint: str | None) -> None:
    text = ("vibench: 1\nname: L1\nlet:\n" + lets + "inputs: {x: {shape: [B, 4]}}\n"
            "nodes: {fc: {block: linear, in: x, out_features: a}}\noutputs: {y: fc}\n")
    d = _error(text)
    assert d.code == "E204" and d.message == message
    assert d.hint is not None and "did you mean" not in d.hint
    assert hint is None or hint in d.hint


def test_output_name_clash_names_both_entries() -> None:
    text = """
vibench: 1
name: FE5
params:
  tasks: {type: "dict[str, int]", default: {y: 2, z: 3}}
inputs: {x: {shape: [B, 4]}}
nodes:
  h: {block: linear, in: x, out_features: "${item}", for_each: "${tasks}"}
outputs: {y: {from: h.*}, z: h.y}
"""
    d = _error(text)
    assert d.code == "E405" and d.found == "`y: {from: h.*}` gives `z` (`h.z`) and `z: h.y`"


def test_symbol_in_a_promise_written_as_an_expression_has_a_hint() -> None:
    text = """
vibench: 1
name: SH7
inputs: {x: {shape: [B, 4]}}
nodes: {fc: {block: relu, in: x}}
outputs: {y: {from: fc, shape: ["${B}", 4]}}
"""
    d = _error(text)
    assert d.code == "E204" and d.hint is not None and "write the symbol plainly, `B`" in d.hint
