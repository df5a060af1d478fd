"""`vibench-compile --list` and `schema -o` with `-I` folders (QA of 12-06, second round on the bounded listing).

- a template's dependencies bypassed the listing's budgets: 40 templates of a few bytes each using a block of one
  1 MB file took 55 s (the file read and resolved for each, none of it counted); they count now, each file read once;
- `schema -I lib -o lib/.base/Big.yaml` replaced a base a template extends, left out by the budgets, and
  `-o w1c/d510/late.yaml` a template past the walk's 500 folders: every spec file of a spec-path folder is refused;
- a compile that failed was charged all 2,000 nodes it was allowed: 51 one-node drafts missing a parameter spent
  the listing's budget, and the closing line called the valid templates after them "too large to check".

Work is counted (files read, nodes charged), never timed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from vibench.compiler import library_index, resolve, spec_walk
from vibench.compiler.cli import main
from vibench.compiler.library_index import LIST_BUDGET_NODES, LIST_NODES, ListingBudget, describe
from vibench.compiler.listing_check import most_nodes
from vibench.compiler.load import read_spec_file
from vibench.compiler.resolve import Library
from vibench.compiler.validate import validate

USES = """\
vibench: 1
name: T
doc: Uses a block of a large file.
inputs: {x: {shape: [B, 4]}}
nodes: {b: {block: ./.deps/big.yaml#B, in: x}}
outputs: {y: b}
"""

BIG = (
    """\
vibench: 1
name: Big
inputs: {x: {shape: [B, 4]}}
nodes: {r: {block: relu, in: x}}
outputs: {y: r}
blocks:
  B:
    inputs: {x: {shape: [B, 4]}}
    nodes: {r: {block: relu, in: x}}
    outputs: {y: r}
"""
    + "# padding\n" * 2_000
)

NEEDS = """\
vibench: 1
name: R
doc: Needs a width.
params: {width: {type: int}}
inputs: {x: {shape: [B, 4]}}
nodes: {f: {block: linear, in: x, out_features: width}}
outputs: {y: f}
"""

SMALL = """\
vibench: 1
name: Small
doc: Good for you.
inputs: {x: {shape: [B, 4]}}
nodes: {a: {block: relu, in: x}}
outputs: {y: a}
"""

MISMATCH = """\
vibench: 1
name: M
doc: Adds two shapes that differ.
inputs: {x: {shape: [B, 4]}, z: {shape: [B, 5]}}
nodes: {a: {block: add, in: [x, z]}}
outputs: {y: a}
"""


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _rows(out: str, folder: Path) -> list[str]:
    return out.partition(f"\nin {folder} (spec path):\n")[2].splitlines()


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


def _after_library(left: int) -> ListingBudget:
    """A listing's budget that leaves ``left`` nodes once the library's templates are listed."""
    probe = ListingBudget()
    for name in library_index.template_names():
        describe(name, None, None, probe)
    return ListingBudget(nodes=LIST_BUDGET_NODES - probe.nodes + left)


def _uses(tmp_path: Path, count: int) -> tuple[Path, list[Path]]:
    big = _write(tmp_path, ".deps/big", BIG)
    return big, [_write(tmp_path, f"T{i}", USES.replace("name: T", f"name: T{i}")) for i in range(count)]


# -- 1. the files a template extends or uses count, each read once --------------------------------------------------


def test_a_file_the_templates_use_is_read_once_and_charged_once(tmp_path: Path, reads: list[str]) -> None:
    """Each template's compile read and resolved the 1 MB file again (40 of them: 55 s), its bytes uncounted."""
    big, templates = _uses(tmp_path, 3)
    budget = ListingBudget()
    for i, path in enumerate(templates):
        assert describe(f"T{i}", str(path), None, budget) == (
            "Uses a block of a large file.",
            "x [B, 4] -> y [B, 4]",
            None,
        )
    assert reads.count(str(big)) == 1
    charged = big.stat().st_size + sum(p.stat().st_size for p in templates)
    assert budget.bytes == library_index.LIST_BUDGET_BYTES - charged
    assert budget.nodes == LIST_BUDGET_NODES - 2 - 3 * 2  # the file's 2 nodes, once; each compile makes b and its relu


def test_a_file_over_the_cap_that_templates_use_is_never_read(
    tmp_path: Path, reads: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    big, _ = _uses(tmp_path, 2)
    _write(tmp_path, "Z", SMALL)
    monkeypatch.setattr(library_index, "LIST_FILE_BYTES", 10_000)
    assert main(["--list", "-I", str(tmp_path)]) == 0
    rows = _rows(capsys.readouterr().out, tmp_path)
    note = f"[not checked: it extends or uses {big}, not read: larger than 10,000 bytes]"
    assert rows[:3] == [
        f"T0  Uses a block of a large file.  (x [B, 4] -> y)  {note}",
        f"T1  Uses a block of a large file.  (x [B, 4] -> y)  {note}",
        "Z   Good for you.  (x [B, 4] -> y [B, 4])",
    ]
    assert rows[-1].startswith("templates marked `not checked` or `not read` were too large to check for a listing:")
    assert str(big) not in reads
    assert main(["--list", "-I", str(tmp_path), "--format", "json"]) == 0
    entries = {e["name"]: e for e in json.loads(capsys.readouterr().out) if e["folder"] == str(tmp_path)}
    assert entries["T0"]["note"] == note[1:-1] and entries["Z"]["note"] is None


def test_the_files_templates_use_share_the_listings_byte_budget(tmp_path: Path, reads: list[str]) -> None:
    big, templates = _uses(tmp_path, 1)
    budget = ListingBudget(bytes=templates[0].stat().st_size + big.stat().st_size - 1)
    text, interface, note = describe("T0", str(templates[0]), None, budget)
    assert (interface, note) == (
        "x [B, 4] -> y",
        f"not checked: it extends or uses {big}, not read: 8 MiB of spec files were read before it",
    )
    assert str(big) not in reads and budget.cut == {"bytes"}


# -- 2. a compile that fails is charged what it can have made -------------------------------------------------------


def test_a_template_that_fails_at_its_parameters_is_charged_no_node(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """51 one-node templates missing a parameter (E209, before any node is made) spent 100,000 nodes, 2,000 each."""
    for i in range(51):
        _write(tmp_path, f"R{i:02d}", NEEDS)
    _write(tmp_path, "Z", SMALL)
    budget = _after_library(2_000)
    monkeypatch.setattr(library_index, "ListingBudget", lambda: budget)
    assert main(["--list", "-I", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = _rows(out, tmp_path)
    assert rows[0] == ("R00  Needs a width.  (x [B, 4] -> y)  [does not compile: E209: missing required parameter "
                       "`width` for model `R`]") and rows[50].startswith("R50  Needs a width.  (x [B, 4]")
    assert rows[51] == "Z    Good for you.  (x [B, 4] -> y [B, 4])"
    assert "not checked" not in out and "templates marked" not in out


def test_a_template_that_fails_while_elaborated_is_charged_the_nodes_it_spells_out(tmp_path: Path) -> None:
    budget = ListingBudget(nodes=100)
    assert describe("M", str(_write(tmp_path, "M", MISMATCH)), None, budget) == (
        "Adds two shapes that differ.",
        "x [B, 4], z [B, 5] -> y",
        "does not compile: E301: dimension -1 of the inputs ([B, 4] vs [B, 5]) does not match",
    )
    assert budget.nodes == 99


def _root(tmp_path: Path, text: str) -> Any:
    path = _write(tmp_path, "U", text)
    doc = read_spec_file(str(path))
    return resolve.resolve(doc, validate(doc), Library())


@pytest.mark.parametrize(
    "nodes, most",
    [
        ("{a: {block: relu, in: x}, b: {block: relu, in: a}}", 2),
        ("{a: {block: Two, in: x, repeat: 3}}", 3 * (1 + 2)),
        ("{a: {block: relu, in: x, for_each: [1, 2, 3, 4]}}", 4),
        ("{a: {block: relu, in: x, repeat: '${n}'}}", 1_000),  # computed: all it was allowed
        ("{a: {block: relu, in: x, repeat: n}}", 1_000),  # a parameter's
        ("{a: {block: Two, in: x, for_each: '${[1, 2]}'}}", 1_000),
        ("{a: {block: Two, in: x, repeat: 600}}", 1_000),  # more than it was allowed
    ],
)
def test_most_nodes_reads_the_counts_its_definitions_write(tmp_path: Path, nodes: str, most: int) -> None:
    text = f"""\
vibench: 1
name: U
params: {{n: {{type: int, default: 2}}}}
blocks:
  Two:
    inputs: {{x: {{shape: [B, 4]}}}}
    nodes: {{p: {{block: relu, in: x}}, q: {{block: relu, in: p}}}}
    outputs: {{y: q}}
inputs: {{x: {{shape: [B, 4]}}}}
nodes: {nodes}
outputs: {{y: a}}
"""
    assert most_nodes(_root(tmp_path, text), 1_000) == most


# -- 3. the closing line says why -----------------------------------------------------------------------------------


def test_the_closing_line_says_the_budget_ran_out_rather_than_too_large(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Templates past the listing's budget were said to be "too large to check"."""
    for name in ("A", "B", "C"):
        _write(tmp_path, name, SMALL)
    budget = _after_library(1)
    monkeypatch.setattr(library_index, "ListingBudget", lambda: budget)
    assert main(["--list", "-I", str(tmp_path)]) == 0
    rows = _rows(capsys.readouterr().out, tmp_path)
    spent = f"[not checked: the listing spent its {LIST_BUDGET_NODES:,} nodes]"
    assert rows[:3] == [
        "A  Good for you.  (x [B, 4] -> y [B, 4])",
        f"B  Good for you.  (x [B, 4] -> y)  {spent}",
        f"C  Good for you.  (x [B, 4] -> y)  {spent}",
    ]
    assert rows[-1].startswith(
        f"templates marked `not checked` or `not read` were left once the listing had counted "
        f"its {LIST_BUDGET_NODES:,} nodes (the work of one listing is bounded): "
    )
    assert "too large" not in rows[-1]


def test_the_closing_line_of_a_template_too_large_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path, "Big", SMALL.replace("in: x}}", f"in: x, repeat: {LIST_NODES + 1}}}}}"))
    assert main(["--list", "-I", str(tmp_path)]) == 0
    rows = _rows(capsys.readouterr().out, tmp_path)
    assert rows[0].endswith(f"[not checked: more than {LIST_NODES:,} nodes at its defaults]")
    assert rows[-1].startswith("templates marked `not checked` or `not read` were too large to check for a listing: ")


# -- 4. schema -o: no spec file of a spec-path folder, read or left out ---------------------------------------------

REFUSED = "is a file the schema reads (a spec file in the spec path folder"


def test_schema_never_replaces_a_file_a_template_extends_that_the_budgets_left_out(
    tmp_path: Path, reads: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`schema -I lib -o lib/.base/Big.yaml` replaced the 1.2 MB base of lib/A.yaml (refused at d6fcc98)."""
    lib = tmp_path / "lib"
    base = _write(lib, ".base/Big", SMALL.replace("name: Small", "name: Big") + "#" * 30_000 + "\n")
    _write(lib, "A", "vibench: 1\nname: A\nextends: ./.base/Big.yaml\n")
    monkeypatch.setattr(library_index, "LIST_FILE_BYTES", 20_000)
    before = base.read_text()
    assert main(["schema", "-I", str(lib), "-o", str(base)]) == 2
    err = capsys.readouterr().err
    assert f"-o {base} {REFUSED} {lib}" in err and "refusing to overwrite it" in err
    assert base.read_text() == before
    assert reads == []  # refused before the schema was built


def test_schema_never_replaces_a_template_past_the_walks_limits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(5):
        _write(tmp_path, f"d{i}/T", SMALL)
    late = tmp_path / "d4" / "T.yaml"
    monkeypatch.setattr(spec_walk, "WALK_FOLDERS", 3)
    assert main(["schema", "-I", str(tmp_path), "-o", str(late)]) == 2
    assert REFUSED in capsys.readouterr().err and late.read_text() == SMALL
    config = tmp_path / "config.json"  # any JSON: it may be a spec
    config.write_text("{}")
    assert main(["schema", "-I", str(tmp_path), "-o", str(config)]) == 2
    assert REFUSED in capsys.readouterr().err and config.read_text() == "{}"


def test_schema_still_writes_an_ordinary_file_and_replaces_its_own_in_a_spec_path_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lib = tmp_path / "lib"
    _write(lib, "fam/T", SMALL)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "schema.json").write_text("{}")
    for output in ("schema.json", "schema.json", "lib/.vscode/vibench.schema.json", "lib/.vscode/vibench.schema.json"):
        (tmp_path / "lib" / ".vscode").mkdir(exist_ok=True)
        assert main(["schema", "-I", "lib", "-o", output]) == 0, output
        assert json.loads((tmp_path / output).read_text())["$id"] == "https://vibench.dev/schemas/spec.schema.json"
