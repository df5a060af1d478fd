"""E303's words and hints, and the caret under a plain scalar with a backslash (1207c).

- an E303 that blame moves onto a user's setting (`with: {seq_len: null}`, a PHM-Vibench key, `--set`) hinted
  at `inputs:` and pooling, which such a file cannot use: the hint names the setting;
- the message said the symbol twice ("the input length L (it sizes the weights) `L`");
- a node comparing an explicit size (`in_features: 8`, `in_channels: 4`) with a free dimension said only "bind
  `L`", and binding it showed E301 ("linear maps the last dimension"): the E303 says so up front;
- the caret under `extends: fam/ab\\cdefg` stopped at the backslash.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import vibench
from vibench.compiler.diagnostics import Diagnostic, _token_length

EXTENDS = "vibench: 1\nextends: mlp/Dlinear\nwith: {seq_len: null}\n"
CONFIG = "model: {type: MLP, name: Dlinear, input_dim: 1, seq_len: null}\n"


def _error(text: str | None = None, path: str | None = None, **kw: object) -> Diagnostic:
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(path, text=text, **kw)  # type: ignore[arg-type]
    (d,) = [d for d in info.value.diagnostics if d.severity == "error"]
    return d


def test_an_e303_at_a_with_key_names_that_key() -> None:
    d = _error(EXTENDS)
    assert d.code == "E303" and d.pos is not None and (d.pos.line, d.pos.col) == (3, 17), d
    assert d.hint == ("set `seq_len` under `with:` to a number: null leaves `L` free, and the template needs it "
                      "as a number; or bind `L` with `inputs=`")
    assert d.message == "the input length `L` (it sizes the weights) must be known at compile time"


def test_an_e303_at_a_phm_key_names_that_key(tmp_path: Path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    d = _error(path=str(path))
    assert d.code == "E303" and d.hint is not None, d
    assert d.hint.startswith("set `seq_len` in the `model:` section to a number: null leaves `L` free")
    assert "`inputs:`" not in d.hint and "pooling" not in d.hint


def test_an_e303_of_a_given_value_names_it() -> None:
    d = _error(path="mlp/Dlinear", params={"seq_len": None})
    assert d.code == "E303" and d.hint is not None, d
    assert d.hint.startswith("set `seq_len` (`seq_len=...`) to a number")


POOLED = """\
vibench: 1
name: T
params:
  pool: {type: bool, default: true}
inputs: {x: {shape: [B, 4, L]}}
nodes:
  p: {block: adaptive_avg_pool1d, in: x, output_size: 8, when: pool}
  f: {block: flatten, in: p}
  fc: {block: linear, in: f, out_features: 2}
outputs: {y: fc}
"""


def test_an_e303_at_a_setting_that_is_no_null_says_to_change_it(tmp_path: Path) -> None:
    (tmp_path / "t.yaml").write_text(POOLED, encoding="utf-8")
    (tmp_path / "u.yaml").write_text("vibench: 1\nextends: ./t\nwith: {pool: false}\n", encoding="utf-8")
    d = _error(path=str(tmp_path / "u.yaml"))
    assert d.code == "E303" and d.pos is not None and d.pos.file.endswith("u.yaml"), d
    assert d.hint == ("change `pool` under `with:`: with this value the template needs `L` as a number, which the "
                      "input shape leaves free; or bind `L` with `inputs=`")


def test_an_e303_of_the_users_own_file_keeps_the_binding_hint() -> None:
    d = _error("vibench: 1\nname: FreeDim\ninputs: {x: {shape: [B, 1, L]}}\n"
               "nodes:\n  fc: {block: linear, in: x, out_features: 4}\noutputs: {y: fc}\n")
    assert d.code == "E303" and d.notes == (), d
    assert d.message == "the last dimension (in_features) `L` must be known at compile time"
    assert d.hint is not None and d.hint.startswith("give `L` a number in `inputs:` (or make it a parameter)")


def test_need_text_says_each_symbol_once() -> None:
    from vibench.compiler.shape_hints import need_text

    assert need_text("the input length L (it sizes the weights) `L`", ["L"]) == \
        "the input length `L` (it sizes the weights)"
    assert need_text("the sequence length L (the spatial projection is L x L) `L`", ["L"]) == \
        "the sequence length `L` (the spatial projection is L x L)"
    assert need_text("the channels C (one layer each) `L`", ["L"]) == "the channels C (one layer each) `L`"
    assert need_text("input channels `C`", ["C"]) == "input channels `C`"


LINEAR = ("vibench: 1\nname: M\ninputs: {x: {shape: [B, 1, L]}}\nnodes:\n"
          "  c: {block: conv1d, in: x, out_channels: 8, kernel_size: 3}\n"
          "  fc:\n    block: linear\n    in: c\n    in_features: 8\n    out_features: 4\noutputs: {y: fc}\n")


def test_an_explicit_in_features_against_a_free_length_says_what_binding_would() -> None:
    d = _error(LINEAR)
    assert d.code == "E303" and d.node == "fc", d
    assert d.notes == ("bound to another size, `L` makes node `fc` fail its check: last dimension (in_features) "
                       "does not match (E301)",)
    assert d.hint is not None and d.hint.startswith(
        "`in_features` at line 9 asks for 8 here: linear maps the last dimension; flatten or pool the input first")
    assert d.hint.endswith("or give `L` the size that makes it 8, in `inputs:` or with `inputs=` "
                           "(`inputs={'x': (<B>, 1, <L>)}` with numbers)")
    vibench.check(text=LINEAR, inputs={"x": (2, 1, 10)})  # the size that makes it 8 compiles


def test_an_explicit_in_channels_against_a_free_channel_count_says_so() -> None:
    d = _error("vibench: 1\nname: M\ninputs: {x: {shape: [B, C, L]}}\nnodes:\n"
               "  c: {block: conv1d, in: x, in_channels: 4, out_channels: 8, kernel_size: 3}\noutputs: {y: c}\n")
    assert d.code == "E303" and d.hint is not None, d
    assert d.hint.startswith("`in_channels` at line 5 asks for 4 here; give `C` the size that makes it 4")
    assert "input channels does not match (E301)" in d.notes[0]


def test_the_caret_covers_a_backslash_of_a_plain_scalar() -> None:
    assert _token_length("extends: fam/ab\\cdefg", 9) == len("fam/ab\\cdefg")
    assert _token_length("extends: fam/ab\\cdefg # note", 9) == len("fam/ab\\cdefg")
    assert _token_length("with: {a: b\\c, d: 1}", 10) == len("b\\c")
    assert _token_length('x: "a\\"b" # c', 3) == len('"a\\"b"')  # a quoted one as before


def test_the_rendered_caret_covers_the_whole_unknown_spec() -> None:
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(text="vibench: 1\nextends: fam/ab\\cdefg\n")
    (d,) = info.value.diagnostics
    assert d.code == "E205"
    assert "\n  |          ^^^^^^^^^^^^\n" in d.render(info.value.sources), d.render(info.value.sources)
