"""W104 in a template without `inherit:` (1207f).

A value set for a parameter that only a switched-off node reads has no effect, but only templates with an
`inherit: true` node said so: `--set extra_width=5` beside `use_extra: false` compiled silently. Every template
says it now, at the value's line, naming the node and the `when:` that leaves it out; nothing is said of a
value something built reads, or when nothing is set.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vibench.compiler.cli import EXIT_OK, main

SPEC = """\
vibench: 1
name: W
params:
  use_extra: {type: bool, default: false}
  extra_width: {type: int, default: 8}
inputs:
  x: {shape: [B, 4]}
nodes:
  fc: {block: linear, in: x, out_features: 3}
  extra: {block: linear, in: fc, out_features: "${extra_width}", when: "${use_extra}"}
outputs:
  y: {from: fc}
  z: {from: extra, when: "${use_extra}"}
"""


@pytest.fixture()
def spec(tmp_path: Path) -> Path:
    (tmp_path / "w.yaml").write_text(SPEC)
    return tmp_path / "w.yaml"


def test_a_set_value_only_a_switched_off_node_reads_is_w104(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(spec), "--check", "--set", "extra_width=5"]) == EXIT_OK
    err = capsys.readouterr().err
    assert ("warning[W104]: `extra_width` (from --set) has no effect here: this W does not build the node that "
            "reads it") in err
    assert "w.yaml:5:3" in err  # the parameter's declaration: a --set value has no line of its own
    assert "read only by node `extra`, not built here (`when: ${use_extra}`)" in err


def test_a_with_value_is_located_at_its_key(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (spec.parent / "u.yaml").write_text("vibench: 1\nextends: ./w.yaml\nwith: {extra_width: 5}\n")
    assert main([str(spec.parent / "u.yaml"), "--check"]) == EXIT_OK
    err = capsys.readouterr().err
    assert "warning[W104]: `extra_width` has no effect here" in err and "u.yaml:3:" in err


@pytest.mark.parametrize("sets", [[], ["--set", "use_extra=true", "--set", "extra_width=5"],
                                  ["--set", "use_extra=false"]],
                         ids=["nothing set", "the node is built", "the switch itself"])
def test_nothing_is_said_of_a_value_something_reads(spec: Path, sets: list[str],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(spec), "--check", *sets]) == EXIT_OK
    assert "W104" not in capsys.readouterr().err
