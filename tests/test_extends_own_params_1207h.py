"""A spec's own parameters beside `extends:` are its own.

What was wrong: the parameters a spec declares beside `extends:` joined the template's, so a name the template reads
took the spec's value silently: `params: {B: 5}` fixed ResNet1D's batch to 5, `params: {half: 3}` read as the
template's `let` in `with:` and as the `let` in `metadata:`, and `inherit: true` passed the spec's `hidden` to a
composite of the template that declares one (its width changed, where `with: {hidden: 9}` is E201).
What is right now: a spec's parameter named like a `let` of the template or like a name the template reads (a shape
symbol, an output promise's) is E210 at its key, and `inherit: true` passes on the template's parameters only.
Also: a value a `with:` set whose readers a `with:` extending it replaced (`mid.yaml`: `with: {width: w2}`; a spec
extending it sets `width` and `w2`) was W105, "declared but never used", at the spec's key: it is W104 now.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import vibench

INNER = """vibench: 1
name: Inh
params: {n: 3}
blocks:
  Inner:
    params: {hidden: 4}
    inputs: {x: {shape: [B, C]}}
    nodes:
      fc: {block: linear, in: x, out_features: hidden}
    outputs: {y: fc}
inputs: {x: {shape: [B, 8]}}
nodes:
  a: {block: Inner, in: x, inherit: true}
  b: {block: linear, in: a, out_features: n}
outputs: {y: b}
"""

LET = """vibench: 1
name: Base
params: {width: 16}
let: {half: "${width // 2}"}
inputs: {x: {shape: [B, 4]}}
nodes:
  fc: {block: linear, in: x, out_features: half}
outputs: {y: fc}
metadata: {w: "${width}"}
"""


def _error(spec: Path) -> vibench.Diagnostic:
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(str(spec))
    (found,) = err.value.diagnostics
    return found


@pytest.mark.parametrize(("template", "name", "what"), [
    ("cnn/ResNet1D", "B", "a symbol of an input's shape"),
    ("cnn/ResNet1D", "L", "a symbol of an input's shape"),
    ("./base", "half", "a `let`"),
])
def test_a_name_the_template_reads_is_e210(tmp_path: Path, template: str, name: str, what: str) -> None:
    (tmp_path / "base.yaml").write_text(LET, encoding="utf-8")
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"vibench: 1\nextends: {template}\nparams: {{{name}: 5}}\nwith: {{num_classes: {name}}}\n"
                    if template.startswith("cnn") else
                    f"vibench: 1\nextends: {template}\nparams: {{{name}: 3}}\nwith: {{width: \"${{{name} * 4}}\"}}\n",
                    encoding="utf-8")
    found = _error(spec)
    assert found.code == "E210" and (found.pos.line, found.pos.col) == (3, 10)
    assert found.message == f"parameter `{name}` is already {what} of `{template}`"
    assert found.hint == "rename it: a parameter declared here is read only by this file's `with:` and `metadata:`"


def test_inherit_passes_on_the_templates_parameters_only(tmp_path: Path) -> None:
    (tmp_path / "inh.yaml").write_text(INNER, encoding="utf-8")
    spec = tmp_path / "spec.yaml"
    spec.write_text("vibench: 1\nextends: ./inh\nparams: {hidden: 9}\nwith: {n: hidden}\n", encoding="utf-8")
    shapes = {k: tuple(v.shape) for k, v in vibench.build(str(spec)).state_dict().items()}
    assert shapes["a.fc.weight"] == (4, 8) and shapes["b.weight"] == (9, 4)  # Inner keeps its own hidden: 4
    assert "nn.Linear(8, 4)" in vibench.compile_spec(str(spec)).source


def test_a_symbol_an_output_promise_reads_is_e210(tmp_path: Path) -> None:
    (tmp_path / "out.yaml").write_text(
        "vibench: 1\nname: Out\ninputs: {x: {shape: [B, 4, L]}}\nnodes:\n  p: {block: adaptive_avg_pool1d, in: x, "
        "output_size: 2}\noutputs: {y: {from: p, shape: [N, 4, 2]}}\n", encoding="utf-8")
    spec = tmp_path / "spec.yaml"
    spec.write_text("vibench: 1\nextends: ./out\nparams: {N: 3}\n", encoding="utf-8")
    found = _error(spec)
    assert found.code == "E210" and found.message == "parameter `N` is already a name read by a value of `./out`"


def test_a_value_whose_readers_a_later_with_replaced_is_w104_not_w105(tmp_path: Path) -> None:
    # mid.yaml reads its own w2 in `with: {width: w2}`; a spec extending it sets width (and w2): nothing reads w2
    (tmp_path / "base.yaml").write_text(LET, encoding="utf-8")
    (tmp_path / "mid.yaml").write_text("vibench: 1\nextends: ./base\nparams: {w2: 32}\nwith: {width: w2}\n",
                                       encoding="utf-8")
    spec = tmp_path / "spec.yaml"
    spec.write_text("vibench: 1\nextends: ./mid\nwith: {width: 12, w2: 8}\n", encoding="utf-8")
    (found,) = vibench.check(str(spec)).warnings
    assert found.code == "W104" and (found.pos.line, found.pos.col) == (3, 23)
    assert found.message == "`w2` has no effect here: no value of this Base reads it"
    spec.write_text("vibench: 1\nextends: ./mid\nwith: {w2: 8}\n", encoding="utf-8")
    assert vibench.check(str(spec)).warnings == ()


def test_a_word_a_templated_block_takes_as_text_is_no_name_read(tmp_path: Path) -> None:
    (tmp_path / "tb.yaml").write_text(
        "vibench: 1\nname: TB\nparams: {conv: {type: str, default: conv1d}, width: {type: int, default: 4}}\n"
        "inputs: {x: {shape: [B, 2, L]}}\nnodes:\n  c: {block: \"${conv}\", in: x, out_channels: width, kernel_size: 3,"
        " padding: same, padding_mode: zeros}\noutputs: {y: c}\n", encoding="utf-8")
    spec = tmp_path / "spec.yaml"
    spec.write_text("vibench: 1\nextends: ./tb\nparams: {same: 6}\nwith: {width: same}\n", encoding="utf-8")
    program = vibench.check(str(spec))
    assert program.warnings == () and program.root.outputs[0][2].shape[1] == 6


def test_an_own_parameter_nothing_reads_is_w105_even_beside_inherit(tmp_path: Path) -> None:
    (tmp_path / "inh.yaml").write_text(INNER, encoding="utf-8")
    spec = tmp_path / "spec.yaml"
    spec.write_text("vibench: 1\nextends: ./inh\nparams: {hidden: 9}\nwith: {n: 2}\n", encoding="utf-8")
    (found,) = vibench.check(str(spec)).warnings  # (it said Inner took its value from node `a` instead)
    assert found.code == "W105" and (found.pos.line, found.pos.col) == (3, 10)
    assert found.hint == ("a parameter declared beside `extends:` is read only by this file's `with:` and "
                          "`metadata:`: use it there as `${hidden}`, or remove it")
    spec.write_text("vibench: 1\nextends: isfm/M_01_ISFM\nparams: {zz: 8}\nwith: {num_classes: 4}\n", encoding="utf-8")
    assert [(w.code, w.message) for w in vibench.check(str(spec)).warnings] == [
        ("W105", "parameter `zz` is declared but never used")]
