"""`vibench-compile schema -I DIR` and `--list -I DIR` within bounds (QA of 12-06, follow-ups to the second CLI pass).

- `schema -I DIR` loaded and resolved every template of DIR (40 files of 2 MB: 203 s): it reads them within the
  budgets of `--list` (library_index.BudgetedLibrary), a template over them offered by name only, with a note on
  standard error; `-o FILE` over an existing file read every template again to check it;
- `schema -o /dev/null` (a folder, a missing folder) was refused only after the whole schema was built;
- `--list -I ~` walked the whole folder tree before it cut the listing at 1,000 templates.

Work is counted (files read, folders listed), never timed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from vibench.compiler import library_index, resolve, spec_walk
from vibench.compiler.cli import main
from vibench.compiler.library_index import BudgetedLibrary, ListingBudget, NotRead
from vibench.compiler.resolve import LIBRARY_DIR
from vibench.compiler.spec_walk import walk_specs
from vibench.schemas.template_schema import recording_left_out, templates_on_path

SMALL = """\
vibench: 1
name: Small
doc: Good for you.
params: {width: {type: int, default: 4}}
inputs: {x: {shape: [B, 4]}}
nodes: {a: {block: relu, in: x}}
outputs: {y: a}
"""

CAP = 20_000
"""A file-size cap above the library's largest template (10 KB), for the tests."""

CHILD = "vibench: 1\nname: Child\ndoc: A child.\nextends: fam/Huge\n"


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _chain(nodes: int) -> str:
    """A template declaring ``nodes`` nodes."""
    body = "\n".join(f"  n{i}: {{block: relu, in: {'x' if i == 0 else f'n{i - 1}'}}}" for i in range(nodes))
    return SMALL.replace("nodes: {a: {block: relu, in: x}}\noutputs: {y: a}", f"nodes:\n{body}\noutputs: {{y: n0}}")


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The spec files a Library reads, in order (every load goes through resolve.read_spec_file)."""
    seen: list[str] = []
    real = resolve.read_spec_file

    def counted(path: str, *args: Any, **kw: Any) -> Any:
        seen.append(os.path.realpath(path))
        return real(path, *args, **kw)

    monkeypatch.setattr(resolve, "read_spec_file", counted)
    return seen


def _extends(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["const"]: m for m in schema["properties"]["extends"]["anyOf"] if "const" in m}


def _conditions(schema: dict[str, Any]) -> set[str]:
    return {c["if"]["properties"]["extends"]["const"] for c in schema.get("allOf", [])}


# -- 1. schema -I DIR reads its templates within the budgets of --list ------------------------------------------


def test_a_template_file_over_the_size_cap_is_offered_by_name_only_and_never_read(
    tmp_path: Path, reads: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each of 40 templates of 2 MB was read and resolved (about 5 s each)."""
    huge = _write(tmp_path, "fam/Huge", SMALL + "#" * 30_000 + "\n")
    _write(tmp_path, "fam/Small", SMALL)
    monkeypatch.setattr(library_index, "LIST_FILE_BYTES", CAP)
    out = tmp_path / "s.json"
    assert main(["schema", "-I", str(tmp_path), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert str(huge) not in reads  # (it was read, and resolved, before)
    schema = json.loads(out.read_text())
    offered = _extends(schema)
    assert offered["fam/Huge"]["description"].startswith("(not read for this schema: larger than 20,000 bytes;")
    assert "fam/Huge" not in _conditions(schema) and "fam/Small" in _conditions(schema)
    assert (
        "vibench-compile: schema: fam/Huge is offered by name only, without its parameters: not read (larger "
        "than 20,000 bytes)"
    ) in err.splitlines()
    assert "fam/Small" not in err
    # `--template` writes its schema under the compiler's own limits, as the description says
    assert main(["schema", "--template", "fam/Huge", "-I", str(tmp_path)]) == 0
    assert "width" in json.loads(capsys.readouterr().out)["properties"]["with"]["properties"]


def test_a_template_that_extends_a_file_over_the_cap_says_so(
    tmp_path: Path, reads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    huge = _write(tmp_path, "fam/Huge", SMALL + "#" * 30_000 + "\n")
    _write(tmp_path, "fam/Child", CHILD)
    monkeypatch.setattr(library_index, "LIST_FILE_BYTES", CAP)
    with recording_left_out() as left_out:
        infos = {t.name: t for t in templates_on_path([str(tmp_path)])}
    assert str(huge) not in reads
    assert infos["fam/Child"].params is None
    assert infos["fam/Child"].summary.startswith(f"(not read for this schema: it extends or uses {huge}: larger than")
    assert (
        f"fam/Child is offered by name only, without its parameters: not read (it extends or uses {huge}: "
        "larger than 20,000 bytes)" in left_out.notes
    )


def test_the_templates_share_a_byte_budget_and_the_librarys_are_read_first(
    tmp_path: Path, reads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`aaa/...` sorts before every library template: read first, it would have spent the budget."""
    library_bytes = sum(os.path.getsize(p) for p in walk_specs(LIBRARY_DIR).paths)
    for name in ("aaa/A", "aaa/B", "aaa/C"):
        _write(tmp_path, name, SMALL)
    budget = library_bytes + 2 * len(SMALL)  # the library's files and two of ours
    monkeypatch.setattr(library_index, "ListingBudget", lambda: ListingBudget(bytes=budget))
    with recording_left_out() as left_out:
        infos = {t.name: t for t in templates_on_path([str(tmp_path)])}
    ours = [p for p in reads if p.startswith(str(tmp_path))]
    assert ours == [str(tmp_path / "aaa" / "A.yaml"), str(tmp_path / "aaa" / "B.yaml")]
    assert infos["aaa/C"].params is None and "8 MiB of spec files were read before it" in infos["aaa/C"].summary
    assert all(t.params is not None or "invalid" in t.summary for n, t in infos.items() if not n.startswith("aaa/"))
    assert [n for n in left_out.notes if "aaa/C" in n] and not [n for n in left_out.notes if "aaa/A" in n]


def test_the_templates_share_a_node_budget(tmp_path: Path, reads: list[str]) -> None:
    """Resolving takes about 50 us a declared node: a 1 MiB template of 28,000 nodes took 1.5 s."""
    first = _write(tmp_path, "fam/A", _chain(30))
    second = _write(tmp_path, "fam/B", _chain(30))
    library = BudgetedLibrary([str(tmp_path)], ListingBudget(nodes=20))
    library.load(str(first), None)
    assert library.budget.nodes == 20 - 30
    with pytest.raises(NotRead) as caught:
        library.load(str(second), None)
    assert caught.value.why == f"the files read before it declare {library_index.LIST_BUDGET_NODES:,} nodes"
    assert str(second) not in reads
    library.load(str(first), None)  # loaded once: charged once
    assert library.budget.nodes == 20 - 30


def test_a_template_that_extends_another_is_charged_its_nodes_once(tmp_path: Path) -> None:
    base = _write(tmp_path, "fam/Huge", _chain(10))
    child = _write(tmp_path, "fam/Child", CHILD)
    library = BudgetedLibrary([str(tmp_path)], ListingBudget(nodes=100))
    library.load(str(child), None)
    library.load(str(base), None)
    assert library.budget.nodes == 100 - 10
    assert library.budget.bytes == library_index.LIST_BUDGET_BYTES - len(CHILD) - base.stat().st_size


def test_schema_o_over_an_existing_file_reads_no_template_again(
    tmp_path: Path, reads: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The check of `-o` read every template of the spec path a second time (as long as the schema took)."""
    lib = tmp_path / "lib"
    for name in ("fam/A", "fam/B"):
        _write(lib, name, SMALL)
    out = tmp_path / "s.json"
    out.write_text("{}")
    assert main(["schema", "-I", str(lib), "-o", str(out)]) == 0
    assert len(reads) == len(set(reads)) and str(lib / "fam" / "A.yaml") in reads  # each file read once
    assert json.loads(out.read_text())["$id"] == "https://vibench.dev/schemas/spec.schema.json"
    # and still never over a template of the path
    assert main(["schema", "-I", str(lib), "-o", str(lib / "fam" / "A.yaml")]) == 2
    assert "is a file the schema reads" in capsys.readouterr().err
    assert (lib / "fam" / "A.yaml").read_text() == SMALL


def test_a_template_left_out_is_still_never_overwritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    huge = _write(tmp_path, "fam/Huge", SMALL + "#" * 30_000 + "\n")
    before = huge.read_text()
    monkeypatch.setattr(library_index, "LIST_FILE_BYTES", CAP)
    assert main(["schema", "-I", str(tmp_path), "-o", str(huge)]) == 2
    assert "is a file the schema reads" in capsys.readouterr().err
    assert huge.read_text() == before


# -- 2. schema -o is checked before the schema is built -----------------------------------------------------------


@pytest.mark.parametrize(
    "output, said",
    [
        ("/dev/null", "-o /dev/null is not a regular file; refusing to replace it (`-o -` for standard output)"),
        ("FOLDER", "is not a regular file; refusing to replace it"),
        ("FOLDER/missing/s.json", "folder"),
    ],
)
def test_an_output_the_schema_cannot_write_is_refused_before_anything_is_read(
    output: str, said: str, tmp_path: Path, reads: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """`schema -I big -o /dev/null` read and resolved every template (25 s), then said it would not write."""
    _write(tmp_path, "fam/A", SMALL)
    assert main(["schema", "-I", str(tmp_path), "-o", output.replace("FOLDER", str(tmp_path))]) == 2
    err = capsys.readouterr().err
    assert said in err and "usage error" in err and "--check" not in err  # (the schema has no --check)
    assert reads == []


def test_a_template_file_given_as_the_output_is_refused_before_anything_is_read(
    tmp_path: Path, reads: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    template = _write(tmp_path, "fam/A", SMALL)
    assert main(["schema", "--template", str(template), "-o", str(template)]) == 2
    assert "is a file the schema reads (the --template spec" in capsys.readouterr().err
    assert reads == [] and template.read_text() == SMALL


# -- 3. the walk of a spec-path folder is bounded --------------------------------------------------------------


def _tree(root: Path, folders: int) -> None:
    """``folders`` family folders, one template each: d000/T, d001/T, ..."""
    for i in range(folders):
        _write(root, f"d{i:03d}/T", SMALL)


@pytest.fixture
def listed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The folders spec_walk lists, in order."""
    seen: list[str] = []
    real = os.scandir

    def counted(path: Any) -> Any:
        seen.append(str(path))
        return real(path)

    monkeypatch.setattr(spec_walk.os, "scandir", counted)
    return seen


def test_the_walk_reads_at_most_walk_folders_folders(
    tmp_path: Path, listed: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--list -I ~` listed every folder of a home before it cut the listing at 1,000 templates."""
    _tree(tmp_path, 10)
    monkeypatch.setattr(spec_walk, "WALK_FOLDERS", 4)
    walk = walk_specs(str(tmp_path))
    assert len(listed) == 4  # the folder itself and d000, d001, d002, in that order
    assert listed == [str(tmp_path), *(str(tmp_path / f"d{i:03d}") for i in range(3))]
    assert walk.paths == [str(tmp_path / f"d{i:03d}" / "T.yaml") for i in range(3)]
    assert walk.stopped == "after reading 4 folders"
    _tree(tmp_path / "small", 2)
    assert walk_specs(str(tmp_path / "small")).stopped is None  # 3 folders: the walk ends


def test_the_walk_reads_at_most_walk_entries_entries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder of a million files is read no further than the limit."""
    for i in range(30):
        _write(tmp_path, f"T{i:02d}", SMALL)
    monkeypatch.setattr(spec_walk, "WALK_ENTRIES", 10)
    walk = walk_specs(str(tmp_path))
    assert len(walk.paths) == 10 and walk.stopped == "after reading 10 files and folders"
    monkeypatch.setattr(spec_walk, "WALK_ENTRIES", 30)
    assert walk_specs(str(tmp_path)).stopped is None  # exactly the limit: nothing left unread


def test_list_says_where_the_walk_stopped_in_text_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _tree(tmp_path, 10)
    monkeypatch.setattr(spec_walk, "WALK_FOLDERS", 4)
    assert main(["--list", "-I", str(tmp_path)]) == 0
    rows = capsys.readouterr().out.partition(f"\nin {tmp_path} (spec path):\n")[2].splitlines()
    assert [r.split()[0] for r in rows[:3]] == ["d000/T", "d001/T", "d002/T"]
    assert rows[3] == (
        "... the walk of this folder stopped after reading 4 folders: templates further in are not "
        "listed (give --spec-path a folder of specs)"
    )
    assert main(["--list", "-I", str(tmp_path), "--format", "json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    ours = [e for e in entries if e["folder"] == str(tmp_path)]
    assert [e["name"] for e in ours] == ["d000/T", "d001/T", "d002/T"]
    assert "stopped" not in ours[0] and ours[-1]["stopped"] == "after reading 4 folders"
    assert not [e for e in entries if e["folder"] is None and "stopped" in e]  # the library's walk ends


def test_a_walk_that_stopped_before_it_found_a_template_is_said_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`-I ~` whose first 500 folders hold no spec said "no specs", as if it had looked everywhere."""
    for i in range(5):
        (tmp_path / f"a{i}").mkdir()
    _write(tmp_path, "z/T", SMALL)
    monkeypatch.setattr(spec_walk, "WALK_FOLDERS", 3)
    assert main(["--list", "-I", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"in {tmp_path} (spec path): no specs found\n... the walk of this folder stopped after reading 3" in out
    assert main(["--list", "-I", str(tmp_path), "--format", "json"]) == 0
    ours = [e for e in json.loads(capsys.readouterr().out) if e["folder"] == str(tmp_path)]
    assert ours == [
        {
            "name": None,
            "description": "",
            "interface": "",
            "folder": str(tmp_path),
            "shadowed_by": None,
            "note": None,
            "stopped": "after reading 3 folders",
        }
    ]


def test_the_schema_says_where_its_walk_stopped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _tree(tmp_path, 10)
    monkeypatch.setattr(spec_walk, "WALK_FOLDERS", 4)
    assert main(["schema", "-I", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert set(_extends(json.loads(captured.out))) >= {"d000/T", "d001/T", "d002/T"}
    assert "d003/T" not in _extends(json.loads(captured.out))
    assert (
        f"vibench-compile: schema: the walk of {tmp_path} stopped after reading 4 folders: its templates "
        "further in are not offered (give --spec-path a folder of specs)"
    ) in captured.err.splitlines()


def test_a_hidden_folder_a_linked_folder_and_a_written_schema_are_not_walked(tmp_path: Path) -> None:
    """As os.walk walked it: the same templates, in the same order."""
    _write(tmp_path, "b/T", SMALL)
    _write(tmp_path, "a/T", SMALL)
    _write(tmp_path, ".hidden/T", SMALL)
    (tmp_path / "link").symlink_to(tmp_path / "a")
    (tmp_path / "s.json").write_text(
        '{\n  "$schema": "https://json-schema.org/draft/2020-12/schema",\n'
        '  "$id": "https://vibench.dev/schemas/spec.schema.json"\n}\n'
    )
    assert walk_specs(str(tmp_path)) == ([str(tmp_path / "a" / "T.yaml"), str(tmp_path / "b" / "T.yaml")], None)
