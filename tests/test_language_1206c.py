"""Defects a QA pass found in the day's language changes (and two older ones), each checked here.

- an input that repeats a size symbol (`x: [B, L, L]`): model.py and vibench.build raised NameError
  (`_same_size` not defined) instead of the input check's ValueError;
- two equalities no size meets together (`L == 3` and `L == 4`, from two promises or two nodes) were both
  recorded, and the model was accepted although it could never run;
- `${'it\\'s'}`: a backslash-escaped quote inside a string ended it for the `${` scanner ("unclosed `${`");
- E110 moved two files up (a block name set by `with:` of a spec extending a spec that extends the library)
  named the middle file's `with:` key as the node that raised it;
- a user-set null that no component takes (B_08_PatchTST's `activation: null`, gelu in the reference) was
  dropped without a word: W104 now says so.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

import vibench
from tests.helpers import load_file_module
from vibench.compiler.diagnostics import SpecError

torch = pytest.importorskip("torch")

HERE = Path(__file__).parent / "qa_1206c"


def codes(err: SpecError) -> list[str]:
    return [d.code for d in err.diagnostics if d.severity == "error"]


def test_an_input_that_repeats_a_size_is_checked_not_a_name_error(tmp_path):
    spec = ("vibench: 1\nname: F0\ninputs: {x: {shape: [B, L, L]}}\nnodes:\n  f: {block: flatten, in: x}\n"
            "outputs: {y: f}\n")
    (tmp_path / "f0.py").write_text(vibench.compile_spec(text=spec).source)
    module = load_file_module(str(tmp_path / "f0.py"), "f0_1206c")
    for model in (module.F0(), vibench.build(text=spec)):
        assert model(torch.zeros(2, 3, 3)).shape == (2, 9)
        with pytest.raises(ValueError, match="L"):
            model(torch.zeros(2, 2, 3))


@pytest.mark.parametrize("spec", [
    """\
    vibench: 1
    name: K1
    inputs: {x: {shape: [B, L, 3]}, z: {shape: [B, L, 4]}}
    nodes:
      a: {block: identity, in: x}
      b: {block: identity, in: z}
    outputs:
      y1: {from: a, shape: [B, L, L]}
      y2: {from: b, shape: [B, L, L]}
    """,
    """\
    vibench: 1
    name: K4
    inputs: {x: {shape: [B, L, 3]}, z: {shape: [B, L, 4]}, u: {shape: [B, 3, 3]}, v: {shape: [B, 4, 4]}}
    nodes:
      a: {block: concat, in: [x, u], dim: 2}
      b: {block: concat, in: [z, v], dim: 2}
    outputs: {y1: a, y2: b}
    """,
])
def test_two_equalities_no_size_meets_are_refused(spec):
    with pytest.raises(SpecError) as err:
        vibench.check(text=textwrap.dedent(spec))
    assert codes(err.value) in (["E308"], ["E301"], ["E302"])
    if codes(err.value) == ["E301"]:
        assert "no size of L in 3 <= L <= 3 meets it (`L == 3` from node `a`)" in err.value.diagnostics[0].notes


def test_an_escaped_quote_inside_a_string_does_not_end_it():
    spec = ("vibench: 1\nname: E1\nparams: {s: \"${'it\\\\'s'}\"}\ninputs: {x: {shape: [B, 4]}}\n"
            "nodes: {fc: {block: linear, in: x, out_features: \"${len(s)}\"}}\noutputs: {y: fc}\n")
    program = vibench.check(text=spec)
    assert program.root.outputs[0][2].shape[1] == 4  # len("it's")


def test_an_error_moved_two_files_up_names_the_node_that_raised_it():
    with pytest.raises(SpecError) as err:
        vibench.check(str(HERE / "top.yaml"))
    (diag,) = err.value.diagnostics
    assert diag.code == "E110" and diag.pos.file.endswith("top.yaml") and diag.pos.line == 5
    raised = next(n for n in diag.notes if n.startswith("raised by"))
    assert raised.startswith("raised by node `a` at ") and "lib.yaml:12:18" in raised


def test_a_null_no_component_takes_is_a_warning():
    config = {"model": {"type": "ISFM", "name": "M_01_ISFM", "embedding": "E_01_HSE", "backbone": "B_08_PatchTST",
                        "task_head": "H_01_Linear_cla", "output_dim": 32, "num_heads": 4, "activation": None,
                        "num_patches": 16, "patch_size_L": 16, "patch_size_C": 1, "e_layers": 1, "d_ff": 64,
                        "max_len": 256, "dropout": 0.1, "num_classes": {"1": 4}}}
    program = vibench.check(text=yaml.safe_dump(config))
    (null,) = [w for w in program.warnings if "set to null" in w.message]
    assert null.code == "W104" and null.message.startswith("`activation` set to null has no effect here")
    config["model"]["activation"] = "gelu"
    assert not [w for w in vibench.check(text=yaml.safe_dump(config)).warnings if "activation" in w.message]


def test_one_promise_that_pins_a_size_twice_is_refused():
    # [B, L, L, L] of [B, L, 3, 4]: L == 3 and L == 4 from one promise (the two-output case was refused already)
    spec = ("vibench: 1\nname: P3\ninputs: {x: {shape: [B, L, 3, 4]}}\nnodes:\n  a: {block: identity, in: x}\n"
            "outputs:\n  y: {from: a, shape: [B, L, L, L]}\n")
    with pytest.raises(SpecError) as err:
        vibench.check(text=spec)
    assert codes(err.value) == ["E308"] and "no size meets `L == 4`" in err.value.diagnostics[0].message


@pytest.mark.parametrize("doc", ['ends with triple """', '"quoted" start', '"""', 'a \\" b"', '"\\', 'x\\\\"'])
def test_a_docstring_keeps_its_quotes(tmp_path, doc):
    # a doc ending in `"""` gained a backslash; a doc starting with a quote lost it (a QA pass of 1206b)
    spec = (f"vibench: 1\nname: D\ndoc: {yaml.safe_dump(doc, default_style=chr(34)).strip()}\n"
            "inputs: {x: {shape: [B, 4]}}\nnodes: {fc: {block: linear, in: x, out_features: 2}}\noutputs: {y: fc}\n")
    (tmp_path / "d.py").write_text(vibench.compile_spec(text=spec).source)
    module = load_file_module(str(tmp_path / "d.py"), f"d_1206c_{abs(hash(doc))}")
    assert module.D.__doc__.startswith(doc)
