"""Fixes of QA pass 1206j (/tmp/qa_hyp: relu.yaml, on.yaml).

1. "Did you mean" named `elu` for `Relu` and `Gelu`, `rfft` for `Irfft`: the name as written but for case was
   looked up only when difflib found nothing, and difflib's ratio prefers the shorter name that shares more
   characters. The match but for case and `-`/`_` now comes first (`block_of`, E110, `--blocks`).
2. Node keys YAML reads as booleans (`on:`, `off:`): pydantic's location holds `0` for the key false, which
   matched the key False, so the path named node `0`; and the key's error lay above the errors in its value
   and was dropped as the less specific. Every such key gets its E102 at the key, named as written, and the
   errors in its value name the node as written (`off`, `null`, `2`), never `0` or `False`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vibench.compiler import cli, registry
from vibench.compiler.diagnostics import SpecError
from vibench.compiler.load import load_text
from vibench.compiler.suggestions import Suggestions, closest, suggest
from vibench.compiler.validate import validate
from vibench.testing.specs import UnknownBlockError, block_of

# -- 1. the name but for case and `-`/`_` before difflib's nearest ----------------------------------------------


@pytest.mark.parametrize("written, meant", [("Relu", "relu"), ("Gelu", "gelu"), ("Irfft", "irfft"),
                                            ("RELU", "relu"), ("Layer-Norm", "layer_norm"),
                                            ("leaky-relu", "leaky_relu")])
def test_a_block_name_but_for_case_or_dashes_is_suggested(written: str, meant: str) -> None:
    blocks = registry.all_blocks()
    assert closest(written, blocks) == meant
    assert Suggestions(blocks).closest(written) == meant
    assert suggest(written, blocks) == f"did you mean `{meant}`?"


def test_dashes_for_underscores_beat_a_nearer_ratio() -> None:
    # difflib: `in-ch` is 0.89 from `inch`, 0.8 from `in_ch`
    assert closest("in-ch", ["inch", "in_ch"]) == "in_ch"
    assert Suggestions(["inch", "in_ch"]).hint("in-ch") == "did you mean `in_ch`?"


def test_the_match_but_for_case_needs_no_work_left() -> None:
    names = Suggestions(["conv", "layer_norm", "linear"], work=0)
    assert names.closest("Layer-Norm") == "layer_norm"
    assert names.closest("lineer") is None  # difflib's part: the work is spent
    names = Suggestions(["conv", "linear"], work=2)
    assert names.closest("CONV") == "conv"  # costs nothing
    assert names.closest("lineer") == "linear"  # so the work is still there


def test_a_misspelt_name_still_gets_difflibs_nearest() -> None:
    assert closest("lineer", registry.all_blocks()) == "linear"
    assert closest("softmx", ["softmax", "softmax_linear"]) == "softmax"
    assert closest("zzz", ["relu"]) is None


def test_block_of_suggests_relu_for_Relu() -> None:
    with pytest.raises(UnknownBlockError, match="did you mean `relu`"):
        block_of("Relu")


SPEC = """\
vibench: 1
name: M
inputs: {x: {shape: [B, 4]}}
nodes:
  a: {block: %s, in: x}
outputs: {y: a}
"""


@pytest.mark.parametrize("written, meant", [("Relu", "relu"), ("Gelu", "gelu")])
def test_e110_suggests_the_block_but_for_case(written: str, meant: str, capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:
    spec = tmp_path / "relu.yaml"
    spec.write_text(SPEC % written, encoding="utf-8")
    assert cli.main([str(spec), "--check"]) != cli.EXIT_OK
    err = capsys.readouterr().err
    assert f"error[E110]: unknown block `{written}` at node `a`" in err
    assert f"hint: did you mean `{meant}`?" in err and "`elu`" not in err


def test_blocks_option_suggests_relu(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--blocks", "Relu"]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "--blocks Relu: no such block; did you mean `relu`?" in err and "`elu`" not in err


# -- 2. keys YAML reads as booleans: each its error at the key, named as written ------------------------------

ON_OFF = """\
vibench: 1
name: M
inputs: {x: {shape: [B, 4]}}
nodes:
  on: {block: linear, in: x, out_features: 2}
  off: {block: relu, in: on}
outputs: {y: off}
"""


def _errors(text: str) -> list:
    with pytest.raises(SpecError) as caught:
        validate(load_text(text, "s.yaml"))
    return list(caught.value.diagnostics)


def test_each_boolean_node_key_gets_its_error_at_the_key() -> None:
    errors = _errors(ON_OFF)
    keys = [(d.message, d.pos.line, d.pos.col, d.found, d.hint) for d in errors if "not a string" in d.message]
    assert keys == [
        ("key `on` in `nodes` is not a string", 5, 3, "boolean True",
         'YAML reads `on` as the boolean true; quote it: `"on": ...`'),
        ("key `off` in `nodes` is not a string", 6, 3, "boolean False",
         'YAML reads `off` as the boolean false; quote it: `"off": ...`'),
    ]
    value = [d for d in errors if d.pos.line == 6 and d.pos.col == 26]
    assert [d.message for d in value] == ["wrong type for node `off` (`in`)"]  # was node `0`
    assert not any("`0`" in d.message or "False" in d.message for d in errors)


def test_a_node_key_that_is_no_string_keeps_its_error_beside_its_values() -> None:
    text = ("vibench: 1\nname: M\ninputs: {x: {shape: [B, 4]}}\nnodes:\n"
            "  null: {block: relu, in: on}\n  1.5: {block: relu, in: yes}\n  2: {block: relu, in: [x, on]}\n"
            "  a: {block: relu, in: x}\noutputs: {y: a}\n")
    messages = [d.message for d in _errors(text)]
    assert messages == ["key `null` in `nodes` is not a string", "wrong type for node `null` (`in`)",
                        "key `1.5` in `nodes` is not a string", "wrong type for node `1.5` (`in`)",
                        "key `2` in `nodes` is not a string", "wrong type for node `2` (`in.1`)"]


def test_a_composite_named_off_is_named_as_written() -> None:
    text = ("vibench: 1\nname: M\ninputs: {x: {shape: [B, 4]}}\nblocks:\n  off:\n"
            "    inputs: {x: {shape: [B, 4]}}\n    nodes:\n      yes: {block: relu, in: no}\n"
            "    outputs: {y: yes}\nnodes:\n  a: {block: relu, in: x}\noutputs: {y: a}\n")
    messages = [d.message for d in _errors(text)]
    assert messages == ["key `off` in `blocks` is not a string", "key `yes` in `blocks.off.nodes` is not a string",
                        "wrong type for `blocks.off.nodes.yes.in`", "wrong type for `blocks.off.outputs.y`"]


def test_of_names_alike_the_name_itself_then_the_one_but_for_case() -> None:
    pool = ["Conv", "conv", "layer-norm", "layer_norm"]
    assert closest("Conv", pool) == "Conv" and closest("conv", pool) == "conv"
    assert closest("Layer-Norm", pool) == "layer-norm" and closest("LAYER_NORM", pool) == "layer_norm"
    assert Suggestions(pool).closest("Conv") == "Conv" and Suggestions(pool, work=0).closest("conv") == "conv"
