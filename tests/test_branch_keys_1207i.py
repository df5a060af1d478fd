"""W104 for a value only a branch not taken of a node's key reads (1207i).

`extends: no/NeuralODE` with `num_steps: 4` compiled silently: node `ode_func` has
`steps: "${num_steps if num_classes is not None else 2}"`, and without `num_classes` the model integrates two steps
whatever `num_steps` says. A key's `${...}` of a node built once now reads the names of the branch it takes, as a
`when:` does; a copy's key (`repeat:`, `for_each`) still reads all its names.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import vibench
from vibench.compiler.diagnostics import Diagnostic


def _w104(tmp_path: Path, text: str) -> list[Diagnostic]:
    spec = tmp_path / "mine.yaml"
    spec.write_text(text, encoding="utf-8")
    return [d for d in vibench.check(str(spec)).warnings if d.code == "W104"]


def test_a_value_only_the_branch_not_taken_reads_is_said(tmp_path: Path) -> None:
    [found] = _w104(tmp_path, "vibench: 1\nextends: no/NeuralODE\nwith:\n  num_steps: 4\n")
    assert (found.pos.line, found.pos.col) == (4, 14)
    assert found.message == "`num_steps` has no effect here: this NeuralODE builds nothing that reads it"
    assert found.hint == ("it is read only by key `steps` of node `ode_func` (`${num_steps if num_classes is not None "
                          "else 2}`), which does not use it here; remove it")


def test_the_branch_taken_reads_its_names(tmp_path: Path) -> None:
    """With `num_classes` the classifier integrates `num_steps` steps over [0, 1]: `step_size` is the one unread."""
    found = _w104(tmp_path, "vibench: 1\nextends: no/NeuralODE\nwith:\n  num_classes: 5\n  num_steps: 4\n"
                            "  step_size: 0.2\n")
    assert [d.message.split("`")[1] for d in found] == ["step_size"]
    assert "key `t_end` of node `ode_func`" in found[0].hint


def test_the_warning_is_true_the_value_changes_no_output() -> None:
    torch = pytest.importorskip("torch")
    x = torch.randn(2, 16, 1)
    outputs = []
    for steps in (4, 9):
        torch.manual_seed(0)
        with pytest.warns(Warning, match="`num_steps` .*has no effect here"):
            model = vibench.build("no/NeuralODE", num_steps=steps).eval()
        with torch.no_grad():
            outputs.append(model(x))
    assert torch.equal(outputs[0], outputs[1])


_REPEATED = """\
vibench: 1
name: Mine
params:
  first: {type: int, default: 8}
  later: {type: int, default: 4}
inputs:
  x: {shape: [B, 16]}
nodes:
  dense: {block: linear, in: x, repeat: 2, out_features: "${first if i == 0 else later}"}
outputs:
  y: dense
"""


def test_a_copys_key_reads_every_name(tmp_path: Path) -> None:
    """Copy 0 reads `first`, copy 1 `later`: both have an effect."""
    (tmp_path / "base.yaml").write_text(_REPEATED, encoding="utf-8")
    assert _w104(tmp_path, "vibench: 1\nextends: base.yaml\nwith:\n  first: 6\n  later: 3\n") == []


def test_a_value_only_a_switched_off_inputs_shape_expression_reads(tmp_path: Path) -> None:
    """`shape: [B, "${k + 1}"]` of an input switched off: W104 said no component read `k` (this unit has none)."""
    found = _w104(tmp_path, "vibench: 1\nname: InW\nparams:\n  use_mark: false\n  k: 4\ninputs:\n  x: {shape: [B, 8]}\n"
                            "  m: {shape: [B, \"${k + 1}\"], when: use_mark}\nnodes:\n"
                            "  fc: {block: linear, in: x, out_features: 2}\noutputs: {y: fc}\n")
    assert found == []  # (a default is not a value set)
    program = vibench.check(str(tmp_path / "mine.yaml"), params={"k": 5})
    [said] = [d for d in program.warnings if d.code == "W104"]
    assert said.message == "`k` (given in Python) has no effect here: this InW builds nothing that reads it"
    assert said.hint == "it is read only by the shape of input `m`, which does not use it here; remove it"
