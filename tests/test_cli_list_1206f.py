"""`vibench-compile --list` and the template names of the command line (QA of 12-06, second CLI pass).

A listing checks each template within budgets (20 specs of `repeat: 20000` took 28 s to list); `--list --format
json` says how many templates of a folder it left out; `--list NAME` writes a name's line break as `\\n` and an
example that reads back as YAML; a misspelt `-I` template gets a "did you mean"; a name that finds a FIFO or a
folder says what it is.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from vibench.compiler import library_index
from vibench.compiler.cli import main
from vibench.compiler.library_index import LIST_NODES, ListingBudget, describe
from vibench.compiler.load import load_text

BIG = """\
vibench: 1
name: Big
doc: A long chain.
blocks:
  Blk:
    inputs: {x: {shape: [B, C]}}
    nodes:
      a: {block: linear, in: x, out_features: 4}
      b: {block: relu, in: a}
      c: {block: add, in: [b, x]}
    outputs: {y: c}
inputs: {x: {shape: [B, 4]}}
nodes:
  a: {block: Blk, in: x, repeat: REPEAT}
outputs: {y: a}
"""

SMALL = """\
vibench: 1
name: Small
doc: Good for you.
inputs: {x: {shape: [B, 4]}}
nodes: {a: {block: relu, in: x}}
outputs: {y: a}
"""


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _our_rows(out: str, folder: Path) -> list[str]:
    return out.partition(f"\nin {folder} (spec path):\n")[2].splitlines()


def test_a_template_over_the_listings_node_cap_is_listed_with_its_ports_and_a_note(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Compiled at the full limits, `repeat: 20000` (80,000 nodes) was built whole for one listing line."""
    _write(tmp_path, "fam/Big", BIG.replace("REPEAT", "20000"))
    _write(tmp_path, "fam/Small", SMALL)
    assert main(["--list", "-I", str(tmp_path)]) == 0
    rows = _our_rows(capsys.readouterr().out, tmp_path)
    note = f"[not checked: more than {LIST_NODES:,} nodes at its defaults]"
    assert rows[0] == f"fam/Big    A long chain.  (x [B, 4] -> y)  {note}"
    assert rows[1] == "fam/Small  Good for you.  (x [B, 4] -> y [B, 4])"
    assert "`vibench-compile --list NAME` (with the same --spec-path) checks one at its defaults" in rows[-1]
    assert main(["--list", "-I", str(tmp_path), "--format", "json"]) == 0
    entries = {e["name"]: e for e in json.loads(capsys.readouterr().out) if e["folder"] == str(tmp_path)}
    assert entries["fam/Big"]["note"] == f"not checked: more than {LIST_NODES:,} nodes at its defaults"
    assert entries["fam/Big"]["interface"] == "x [B, 4] -> y"
    assert entries["fam/Small"]["note"] is None and entries["fam/Small"]["interface"] == "x [B, 4] -> y [B, 4]"
    # `--list NAME` checks it under the full limits, as the note says
    assert main(["--list", "fam/Big", "-I", str(tmp_path)]) == 0
    assert "interface at the defaults: x [B, 4] -> y [B, 4]" in capsys.readouterr().out


def test_the_templates_of_one_listing_share_a_node_budget_and_a_byte_budget(tmp_path: Path) -> None:
    """One listing's compiles make at most LIST_BUDGET_NODES nodes and read at most LIST_BUDGET_BYTES: 1,000
    templates of 2,000 nodes each would take minutes. A compile that fails counts as many nodes as it was allowed."""
    first = _write(tmp_path, "fam/A", BIG.replace("REPEAT", "300"))  # 300 copies of 1 + 3 nodes: 1,200
    second = _write(tmp_path, "fam/B", BIG.replace("REPEAT", "300"))
    budget = ListingBudget(nodes=2_000)
    assert describe("fam/A", str(first), None, budget) == ("A long chain.", "x [B, 4] -> y [B, 4]", None)
    assert budget.nodes == 2_000 - 1_200
    spent = f"not checked: the listing spent its {library_index.LIST_BUDGET_NODES:,} nodes"
    assert describe("fam/B", str(second), None, budget) == ("A long chain.", "x [B, 4] -> y", spent)
    assert budget.nodes == 0
    assert describe("fam/A", str(first), None, ListingBudget(bytes=10))[2] == (
        "not read: the listing read its 8 MiB of spec files")


def test_a_template_file_too_large_for_the_listing_is_listed_by_name(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A 2 MB flat spec took seconds to read, check and resolve for its line (each of 40 of them)."""
    _write(tmp_path, "fam/Flat", SMALL + "#" * 2_000 + "\n")
    monkeypatch.setattr(library_index, "LIST_FILE_BYTES", 1_000)
    assert main(["--list", "-I", str(tmp_path)]) == 0
    assert _our_rows(capsys.readouterr().out, tmp_path)[0] == "fam/Flat  [not read: larger than 1,000 bytes]"


def test_list_json_counts_the_templates_of_a_folder_it_leaves_out(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The text said "... and 100 more"; the JSON list dropped them silently."""
    for name in ("A", "B", "C"):
        _write(tmp_path, f"fam/{name}", SMALL)
    monkeypatch.setattr(library_index, "MAX_LISTED", 2)
    assert main(["--list", "-I", str(tmp_path), "--format", "json"]) == 0
    ours = [e for e in json.loads(capsys.readouterr().out) if e["folder"] == str(tmp_path)]
    assert [e["name"] for e in ours] == ["fam/A", "fam/B"]
    assert "omitted" not in ours[0] and ours[1]["omitted"] == 1
    assert main(["--list", "-I", str(tmp_path)]) == 0
    assert _our_rows(capsys.readouterr().out, tmp_path)[-1] == "... and 1 more (the first 2 are listed)"


@pytest.mark.parametrize("name", ["fam/a\nb", "fam/a\tb", "fam/a\x1bb", "fam/a: b"])
def test_list_name_writes_a_names_control_characters_escaped_and_an_example_that_reads_back(
        name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The header printed the line break raw (a line of its own), and `extends: fam/a<line break>b` is no YAML."""
    _write(tmp_path, name, SMALL)
    assert main(["--list", name, "-I", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    shown = name.replace("\n", "\\n").replace("\t", "\\t").replace("\x1b", "\u241b")  # ESC drawn as a symbol
    assert out.splitlines()[0] == f"{shown}: Good for you."
    lines = out.splitlines()
    start = lines.index("example (a spec of your own):") + 1
    example = "\n".join(line[2:] for line in lines[start:start + 3])
    assert load_text(example, "example").data["extends"] == name


def _misspelt(tmp_path: Path) -> list[list[str]]:
    _write(tmp_path, "fam/Goodness", SMALL)
    folder = str(tmp_path)
    return [["--list", "fam/Goodnes", "-I", folder], ["fam/Goodnes", "-I", folder, "--check"],
            ["schema", "--template", "fam/Goodnes", "-I", folder]]


def test_a_misspelt_spec_path_template_gets_a_did_you_mean(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`extends: fam/Goodnes` said "did you mean `fam/Goodness`?"; the command line looked at the library only."""
    for argv in _misspelt(tmp_path):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert "did you mean `fam/Goodness`?" in err, (argv, err)


def test_the_did_you_mean_of_a_spec_path_folder_reads_a_bounded_number_of_names(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`-I ~` must not walk a whole home for a hint: the first MAX_HINT_NAMES of a folder, in sorted order."""
    from vibench.compiler import reference_templates

    for name in ("a/One", "b/Two", "c/Goodness"):
        _write(tmp_path, name, SMALL)
    assert reference_templates._spec_path_names([str(tmp_path)]) == ["a/One", "b/Two", "c/Goodness"]
    monkeypatch.setattr(reference_templates, "MAX_HINT_NAMES", 2)
    assert reference_templates._spec_path_names([str(tmp_path)]) == ["a/One", "b/Two"]


@pytest.mark.parametrize("kind", ["fifo", "folder"])
def test_a_template_name_that_finds_a_fifo_or_a_folder_says_what_it_is(
        kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`fam/F.yaml` a FIFO (never opened: reading it waits for a writer) or a folder said "no such spec file";
    `extends: fam/F` says E004 "is a FIFO (named pipe), not a regular file"."""
    import vibench

    (tmp_path / "fam").mkdir()
    target = tmp_path / "fam" / "F.yaml"
    if kind == "fifo":
        os.mkfifo(target)
    else:
        target.mkdir()
    what = "a FIFO (named pipe)" if kind == "fifo" else "a folder"
    folder = str(tmp_path)
    for argv, said in ((["fam/F", "-I", folder, "--check"], "the spec fam/F"),
                       (["--list", "fam/F", "-I", folder], "--list fam/F"),
                       (["schema", "--template", "fam/F", "-I", folder], "--template fam/F")):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert f"{said} is {what}, not a regular file: {target}" in err, (argv, err)
    with pytest.raises(vibench.SpecError) as caught:
        vibench.check("fam/F", search_path=[folder])
    (diag,) = caught.value.diagnostics
    assert (diag.code, diag.message, diag.found) == ("E004", f"spec `fam/F` is {what}, not a regular file", str(target))
