"""A file a spec uses from a subfolder may use the spec's own files (`../c.yaml#X`, `c#X`): the compiled
spec's folder is on the search path of every file it reads (it was only the reading file's folder, so
`sub/b.yaml` could not name `c.yaml` beside the spec: E205 'points outside the spec search path'). A file
outside every such folder stays refused."""

from __future__ import annotations

from pathlib import Path

import pytest

import vibench

BLOCKS = """vibench: 1
name: Base
inputs: {x: {shape: [B, 4]}}
blocks:
  X:
    inputs: {x: {shape: [B, C]}}
    nodes:
      fc: {block: linear, in: x, out_features: 4}
    outputs: {y: fc}
nodes:
  fc: {block: linear, in: x, out_features: 8}
outputs: {y: fc}
"""


def _project(root: Path, reference: str) -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "c.yaml").write_text(BLOCKS)
    (root / "sub" / "b.yaml").write_text(
        f"vibench: 1\nname: B\ninputs: {{x: {{shape: [B, 4]}}}}\nnodes:\n  b: {{block: \"{reference}\", in: x}}\n"
        "outputs: {y: b}\n")
    spec = root / "a.yaml"
    spec.write_text("vibench: 1\nextends: ./sub/b.yaml\n")
    return spec


@pytest.mark.parametrize("reference", ["../c.yaml#X", "c#X"])
def test_a_subfolder_file_uses_a_block_beside_the_spec(tmp_path: Path, reference: str) -> None:
    program = vibench.check(str(_project(tmp_path, reference)))
    (node,) = program.root.nodes
    assert node.kind == "composite" and node.outputs[0][1].shape[1] == 4  # c.yaml's X, not its model (8)


def test_a_file_outside_the_spec_folder_is_still_refused(tmp_path: Path) -> None:
    spec = _project(tmp_path / "project", "../../outside.yaml#X")
    (tmp_path / "outside.yaml").write_text(BLOCKS)
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(str(spec))
    assert [d.code for d in err.value.diagnostics] == ["E205"]
    assert "points outside the spec search path" in err.value.diagnostics[0].message


def test_a_link_that_leads_outside_is_named_as_written(tmp_path: Path) -> None:
    """`x.yaml -> /etc/passwd`: the E205 names the reference's path, never where the link leads (it said
    `found: /etc/passwd`, telling a spec what the machine's links point at)."""
    (tmp_path / "x.yaml").symlink_to("/etc/passwd")
    spec = tmp_path / "a.yaml"
    spec.write_text("vibench: 1\nextends: ./x.yaml\n")
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(str(spec))
    (d,) = err.value.diagnostics
    assert d.code == "E205" and "points outside the spec search path" in d.message
    assert "passwd" not in str(d.found) and "passwd" not in d.render()
