"""Report and listing defects QA found on 2026-12-06 (round j).

- `--summary` cut only shape and FLOPs cells: a `for_each` over 1,000 composites wrote a 34,000-column block cell
  (100 MB for 3,000 rows), 30 nested composites of 32-character names 1,100-column paths;
- `--summary --format json` gave a `for_each` node the first copy's block beside the parameters of all, a `repeat`
  node no count, and `level` only with `--depth`;
- a "did you mean" printed a template file name's line break raw (a forged line);
- `--list --format json` gave a template that does not load `note: null` and its code in `description`;
- the one-line listing dropped non-float dtypes (`system_id [B]`, `--list NAME`: `system_id [B] int64`);
- `--list NAME` wrote a non-UTF-8 byte `\\udcfe` and could cut inside an escape; its `with:` example wrote a
  right-to-left override raw (shown as U+FFFD);
- an unreadable `-I` folder was "no specs" / "no such spec file";
- examples/run_demo.py showed no warnings, a FLOPs total "to bind with --input", and set a size the model fixes
  (`P == 32`) to 1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import vibench
from vibench.compiler import cli
from vibench.compiler.diagnostics import display_width
from vibench.compiler.report import MAX_CELL, check_report, check_report_json

ROOT = Path(__file__).resolve().parent.parent


def _table(report: str) -> list[str]:
    """The --summary table's lines (its header to the line before the total)."""
    lines = report.splitlines()
    start = next(k for k, line in enumerate(lines) if line.startswith("node "))
    return lines[start:-1]


# -- 1. every --summary cell is cut at MAX_CELL columns ------------------------------------------------------------

def _wide_for_each(copies: int) -> dict[str, Any]:
    names = [f"Block{'x' * 23}{i:04d}" for i in range(copies)]
    body = {"inputs": {"x": {"shape": ["B", "C", "L"]}}, "nodes": {"r": {"block": "relu", "in": "x"}},
            "outputs": {"y": "r"}}
    return {"vibench": 1, "name": "Wide", "params": {"names": {"type": "list[str]", "default": names}},
            "blocks": dict.fromkeys(names, body), "inputs": {"x": {"shape": ["B", 4, "L"]}},
            "nodes": {"fe": {"block": "${item}", "for_each": "names", "in": "x"},
                      "after": {"block": "relu", "in": "x"}},
            "outputs": {"y": "after", "z": {"from": "fe.*"}}}


def test_a_for_each_over_many_composites_keeps_its_block_cell_within_the_limit() -> None:
    program = vibench.check(text=json.dumps(_wide_for_each(40)))
    table = _table(check_report(program, summary=True, written=None))
    header = table[0]
    start, end = header.index("block"), header.index("output")
    fe = next(line for line in table if line.startswith("fe "))
    block = fe[start:end].rstrip()
    assert block.startswith("for_each: Blockxxxxxxxxxxxxxxxxxxxxxxx0000, ") and block.endswith("...")
    assert display_width(block) == MAX_CELL  # (1,400 columns, and every row padded to them)
    assert max(display_width(line) for line in table) <= 3 * MAX_CELL + 40


def _nested(levels: int) -> str:
    names = [f"Nest{'q' * 26}{i:02d}" for i in range(levels)]
    inner = f"node{'z' * 28}"
    blocks = {name: {"inputs": {"x": {"shape": ["B", 4]}},
                     "nodes": {inner: {"block": names[k + 1] if k + 1 < levels else "relu", "in": "x"}},
                     "outputs": {"y": inner}} for k, name in enumerate(names)}
    return json.dumps({"vibench": 1, "name": "Nest", "blocks": blocks, "inputs": {"x": {"shape": ["B", 4]}},
                       "nodes": {"top": {"block": names[0], "in": "x"}}, "outputs": {"y": "top"}})


@pytest.mark.parametrize("levels", [12, 31])
def test_deep_paths_are_cut_in_their_name_keeping_the_indentation(levels: int) -> None:
    program = vibench.check(text=_nested(levels))
    table = _table(check_report(program, summary=True, written=None, depth=levels + 1))
    names = [row["name"] for row in check_report_json(program, summary=True, written=None, depth=levels + 1)["nodes"]]
    assert len(table) == len(names) + 1
    for level, (line, name) in enumerate(zip(table[1:], names, strict=True)):
        indent = 2 * level
        path = line[indent:].split("  ")[0]
        assert line[:indent] == " " * indent and not line[indent].isspace()
        assert display_width(line[:indent] + path) <= MAX_CELL
        if path != name:  # cut in the middle: its start and its end (the node's own name) kept
            assert "..." in path and name.startswith(path.split("...")[0]) and name.endswith(path.split("...")[1])
            assert path.endswith(name.rsplit(".", 1)[-1])
    assert max(display_width(line) for line in table) < MAX_CELL + 120


# -- 2. --summary JSON: each copy's block, the number of copies, and `level` always ------------------------------

COPIES = """\
vibench: 1
name: Copies
inputs: {x: {shape: [B, 4]}}
blocks:
  Alpha:
    inputs: {x: {shape: [B, 4]}}
    nodes: {fc: {block: linear, in: x, out_features: 4}}
    outputs: {y: fc}
  Beta:
    inputs: {x: {shape: [B, 4]}}
    nodes: {act: {block: relu, in: x}}
    outputs: {y: act}
nodes:
  both: {block: '${item}', for_each: [Alpha, Beta], in: x}
  same: {block: Alpha, for_each: [1, 2], in: x}
  chain: {block: Alpha, repeat: 3, in: x}
  plain: {block: relu, in: chain}
outputs: {a: both.0, b: both.1, c: same.1, d: plain}
"""


@pytest.mark.parametrize("depth", [0, 1])
def test_summary_json_says_each_copys_block_and_their_number(depth: int) -> None:
    program = vibench.check(text=COPIES)
    rows = {row["name"]: row for row in check_report_json(program, summary=True, written=None, depth=depth)["nodes"]}
    keys = {frozenset(row) for row in rows.values()}
    assert keys == {frozenset({"name", "block", "blocks", "copies", "outputs", "parameters", "flops", "level"})}
    both, same, chain, plain = rows["both"], rows["same"], rows["chain"], rows["plain"]
    assert both["block"] is None and [b.rsplit("#", 1)[-1] for b in both["blocks"]] == ["Alpha", "Beta"]
    assert both["copies"] == 2 and both["parameters"] == 20  # Alpha's linear(4, 4); Beta has none
    assert same["block"].endswith("#Alpha") and same["blocks"] == [same["block"]] * 2 and same["copies"] == 2
    assert chain["block"].endswith("#Alpha") and chain["copies"] == 3 and len(chain["blocks"]) == 3
    assert plain == plain | {"block": "relu", "blocks": ["relu"], "copies": 1, "level": 0}
    assert all(row["level"] == row["name"].count(".") // 2 for row in rows.values())
    assert ("both.1.act" in rows) == (depth == 1)


# -- 3. "did you mean" writes a suggested name's line break as `\n` -------------------------------------------------

def test_did_you_mean_writes_a_template_names_line_break_escaped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from vibench.compiler.reference_templates import template_hint

    (tmp_path / "dym" / "fam").mkdir(parents=True)
    (tmp_path / "dym" / "fam" / "ResNet1\nok: 0.yaml").write_text("vibench: 1\nname: R\n")
    monkeypatch.chdir(tmp_path)
    assert template_hint("fam/ResNet1D", ["dym"]) == "did you mean `fam/ResNet1\\nok: 0`?"
    (tmp_path / "sep" / "fam").mkdir(parents=True)  # U+2028, where Python's splitlines (a log reader) breaks
    (tmp_path / "sep" / "fam" / "ResNetX\u2028error[E997]: f.yaml").write_text("vibench: 1\nname: R\n")
    assert template_hint("fam/ResNetX\u2028error[E99]: f", ["sep"]) == \
        "did you mean `fam/ResNetX\\u2028error[E997]: f`?"
    for argv in (["fam/ResNet1D", "-I", "dym", "--check"], ["--list", "fam/ResNet1D", "-I", "dym"]):
        assert cli.main(argv) == cli.EXIT_USAGE
        err = capsys.readouterr().err
        assert "`fam/ResNet1\\nok: 0`?" in err and not any(line.startswith("ok: 0") for line in err.splitlines())


# -- 4. --list: a template that does not load has the note `does not compile: CODE: message` ----------------------

@pytest.mark.parametrize(("text", "code"), [
    (b"vibench: 1\nname: [\n", "E001"),
    (b"vibench: 1\nname: K\nbogus: 1\n", "E101"),
    (b"\xff\xfe\x00binary", "E001"),
])
def test_list_notes_the_first_error_of_a_template_that_does_not_load(tmp_path: Path, text: bytes, code: str,
                                                                     monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from vibench.compiler.library_index import template_entries

    (tmp_path / "inv" / "fam").mkdir(parents=True)
    (tmp_path / "inv" / "fam" / "Syn.yaml").write_bytes(text)
    monkeypatch.chdir(tmp_path)
    entry = next(e for e in template_entries(["inv"]) if e["folder"] == "inv")
    assert entry["note"].startswith(f"does not compile: {code}: ") and entry["description"] == ""
    assert cli.main(["--list", "-I", "inv"]) == cli.EXIT_OK
    assert f"fam/Syn  [does not compile: {code}: " in capsys.readouterr().out


# -- 5. the one-line listing writes dtypes as --list NAME does -----------------------------------------------------

IDS = """\
vibench: 1
name: Ids
inputs:
  x: {shape: [B, 4]}
  ids: {shape: [B], dtype: int64}
nodes:
  fc: {block: linear, in: x, out_features: 3}
outputs: {y: fc, picked: ids}
"""


def test_the_listing_writes_a_non_float_dtype_as_list_name_does(tmp_path: Path) -> None:
    from vibench.compiler.library_index import describe
    from vibench.compiler.reference_templates import template_doc

    (tmp_path / "fam").mkdir()
    (tmp_path / "fam" / "Ids.yaml").write_text(IDS)
    _, interface, note = describe("fam/Ids", str(tmp_path / "fam" / "Ids.yaml"), [str(tmp_path)])
    assert note is None and interface == "x [B, 4], ids [B] int64 -> y [B, 3], picked [B] int64"
    assert interface == template_doc("fam/Ids", [str(tmp_path)]).interface
    _, isfm, _ = describe("isfm/M_01_ISFM")
    assert isfm.startswith("x [B, L, C], fs [B], system_id [B] int64 -> logits [B, 10]; slots: ")


# -- 6. --list NAME: names escaped as file names, cut outside an escape; a copyable `with:` example ---------------

def test_a_list_name_is_escaped_as_a_file_name_and_never_cut_inside_an_escape() -> None:
    from vibench.compiler.reference_text import _clip

    assert _clip("fam/T\udcfe") == "fam/T\\xfe"
    assert _clip("a" * 79 + "\n") == "a" * 79 + "..."
    assert _clip("a" * 78 + "\x1b") == "a" * 78 + "..."
    assert _clip("a" * 70 + "\x1b") == "a" * 70 + "\\x1b"


TAG = "t\x1b[2J\u202e\x9b31m\x00"


def test_the_with_example_writes_a_string_default_escaped_and_reads_back(tmp_path: Path) -> None:
    from vibench.compiler.reference_templates import template_doc, template_example, template_reference

    (tmp_path / "fam").mkdir()
    spec = {"vibench": 1, "name": "Tiny", "params": {"tag": {"type": "str", "default": TAG}},
            "inputs": {"x": {"shape": ["B", 4]}}, "nodes": {"fc": {"block": "linear", "in": "x", "out_features": 2}},
            "outputs": {"y": "fc"}}
    (tmp_path / "fam" / "Tiny.json").write_text(json.dumps(spec))
    example = template_example(template_doc("fam/Tiny", [str(tmp_path)]))
    assert example.isascii() and "\\u202e\\u009b" in example
    assert yaml.safe_load(example)["with"]["tag"] == TAG
    assert all(ch.isprintable() or ch == "\n" for ch in template_reference("fam/Tiny", [str(tmp_path)]))


# -- 7. an unreadable spec-path folder is said to be so -----------------------------------------------------------

def _deny(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """``folder`` as one of mode 000 is to a user who does not own it (the tests may run as root, who reads it):
    neither listed nor searched."""
    real_scandir, real_stat = os.scandir, os.stat
    denied = os.path.abspath(folder)

    def scandir(path: Any = ".") -> Any:
        if not isinstance(path, int) and os.path.abspath(os.fspath(path)) == denied:
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    def stat(path: Any, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(path, int) and os.path.abspath(os.fspath(path)).startswith(denied + os.sep):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(os, "stat", stat)


def test_an_unreadable_spec_path_folder_is_said_to_be_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from vibench.compiler.library_index import list_templates, template_entries
    from vibench.compiler.reference_templates import template_hint
    from vibench.compiler.spec_walk import walk_specs

    (tmp_path / "noread" / "fam").mkdir(parents=True)
    (tmp_path / "noread" / "fam" / "T.json").write_text((ROOT / "examples" / "tiny_cnn.json").read_text())
    monkeypatch.chdir(tmp_path)
    _deny(monkeypatch, tmp_path / "noread")
    walk = walk_specs("noread")
    assert walk.paths == [] and walk.stopped == "at its start: the folder cannot be read (Permission denied)"
    assert "the folder cannot be read (Permission denied)" in list_templates(["noread"])
    assert template_entries(["noread"])[-1] | {"name": None, "folder": "noread"} == template_entries(["noread"])[-1]
    assert template_hint("fam/T", ["noread"]) == "the spec-path folder noread cannot be read (Permission denied)"
    assert cli.main(["fam/T", "-I", "noread", "--check"]) == cli.EXIT_USAGE
    assert "no such spec file: fam/T; the spec-path folder noread cannot be read" in capsys.readouterr().err


def test_a_readable_folder_without_the_template_says_no_more(tmp_path: Path) -> None:
    from vibench.compiler.reference_templates import template_hint

    (tmp_path / "fam").mkdir()
    assert template_hint("fam/Zzzzzzzz", [str(tmp_path)]) is None
    assert template_hint("other/Zzzzzzzz", [str(tmp_path)]) is None


# -- 8. run_demo.py: warnings, FLOPs at the demo's sizes, sizes the model fixes ----------------------------------

def _demo(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("VIBENCH_SPEC_PATH", None)
    return subprocess.run([sys.executable, str(ROOT / "examples" / "run_demo.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_the_demo_prints_the_specs_warnings_and_flops_at_its_sizes(tmp_path: Path) -> None:
    (tmp_path / "w.yaml").write_text("vibench: 1\nextends: isfm/M_01_ISFM\nwith: {d_model: 128}\n")
    run = _demo("w.yaml", "-o", "m.py", "--batch", "2", "--length", "256", cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "warning[W104]: `d_model` has no effect here" in run.stderr and " --> " in run.stderr
    total = next(line for line in run.stdout.splitlines() if line.startswith("total FLOPs: "))
    assert "symbolic" not in total and "B" not in total, total
    assert "  input  x: [2, 256, 1] float32" in run.stdout


def test_the_demo_sizes_a_symbol_the_model_fixes_as_it_requires(tmp_path: Path) -> None:
    run = _demo("isfm/backbone/B_11_MomentumEncoder", "-o", "m.py", "--batch", "2", cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "(free size P set to 32, as the model requires)" in run.stdout
    assert "input  x: (2, 32, 1)" in run.stdout


def test_pinned_sizes_reads_only_a_symbol_equal_to_a_whole_positive_number() -> None:
    import importlib.util

    from vibench.compiler.ir import Constraint
    from vibench.compiler.symbolic import Expr

    module_spec = importlib.util.spec_from_file_location("run_demo_1206j", ROOT / "examples" / "run_demo.py")
    assert module_spec is not None and module_spec.loader is not None
    demo = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(demo)
    p, q = Expr.symbol("P"), Expr.symbol("Q")
    constraints = [Constraint(p - 32, "==", "P == 32", ""), Constraint(2 * q - 7, "==", "2*Q == 7", ""),
                   Constraint(q - 64, ">=", "Q >= 64", ""), Constraint(p + q - 9, "==", "P + Q == 9", ""),
                   Constraint(p + 3, "==", "P == -3", "")]
    assert demo.pinned_sizes(constraints) == {"P": 32}
