"""PHM-Vibench reads its configs with plain YAML, where `"${x}"` is a string; the `model:` section was passed to
the template as a `with:` whose `${...}` were evaluated, so `prompt_dim: "${nope}"` (a key nothing reads) stopped
the compile with E204 and `output_dim: "${2*16}"` built 32 features where PHM-Vibench gets a string. Each value is
now read literally: a string stays the text written, `$${` included."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import vibench

KEYS = """\
model:
  type: ISFM
  name: M_01_ISFM
  embedding: E_01_HSE
  backbone: B_08_PatchTST
  task_head: H_01_Linear_cla
  output_dim: 32
  num_patches: 8
  patch_size_L: 16
  patch_size_C: 1
  num_heads: 4
  e_layers: 1
  d_ff: 16
  dropout: 0.1
  factor: 5
  activation: relu
"""


def _config(tmp_path: Path, extra: str, keys: str = KEYS) -> str:
    path = tmp_path / "experiment.yaml"
    path.write_text(textwrap.dedent(keys) + extra, encoding="utf-8")
    return str(path)


def test_an_expression_in_an_ignored_key_is_text_not_an_error(tmp_path: Path) -> None:
    program = vibench.check(_config(tmp_path, '  prompt_dim: "${undefined_name}"\n'))
    assert [w.code for w in program.warnings if w.code == "W101"] == ["W101"]
    assert not [w for w in program.warnings if w.code.startswith("E")]


def test_an_expression_in_a_read_key_is_a_string_of_the_wrong_type(tmp_path: Path) -> None:
    path = _config(tmp_path, "", KEYS.replace("output_dim: 32", 'output_dim: "${2*16}"'))
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(path)
    (d,) = [d for d in info.value.diagnostics if d.code.startswith("E")]
    assert d.code == "E202" and d.pos is not None and (d.pos.line, d.pos.col) == (7, 3)
    assert d.found is not None and "'${2*16}'" in d.found


@pytest.mark.parametrize("written", ["a${b}c", "a$${b}c", "${x", "$$", "{}"])
def test_a_string_is_the_text_written(tmp_path: Path, written: str) -> None:
    program = vibench.check(_config(tmp_path, "", KEYS.replace("activation: relu", f"activation: '{written}'")))
    assert dict(program.root.params)["activation"] == written


def test_strings_inside_a_mapping_are_read_literally(tmp_path: Path) -> None:
    path = _config(tmp_path, "  task_configs: {classification: {head: H_01_Linear_cla, loss_weight: '${1}'}}\n")
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(path)
    (d,) = [d for d in info.value.diagnostics if d.code.startswith("E")]
    assert d.code == "E215" and "{'classification': '${1}'}" in d.message  # a string, not the number 1
