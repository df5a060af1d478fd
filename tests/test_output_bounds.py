"""What the command prints and writes stays bounded by the spec, whatever it holds.

- a long `doc:` in a `repeat` body is drawn once per copy: `--graph` clips it (render.MAX_DOC), so a 100 kB
  doc repeated 20 times no longer makes a 2 MB page (a 1 MB doc repeated 1,000 times ran out of memory);
- the warnings of a spec that compiles are capped as its errors are (50, then a count; JSON: warnings_omitted);
- a long default in `--list NAME` no longer widens every row of the parameter table (1,466 columns for a
  300-element default): it is clipped in its row and written in full under it.

Sizes and counts are asserted, never times.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from vibench.compiler import render
from vibench.compiler.cli import main
from vibench.compiler.diagnostics import MAX_SHOWN, display_width
from vibench.compiler.reference_text import CELL_WIDTH, _table

DOC_CHARS = 100_000
COPIES = 20


def _doc_bomb(folder: Path) -> Path:
    spec = folder / "bomb.yaml"
    spec.write_text(f"""\
vibench: 1
name: DocBomb
inputs:
  x: {{shape: [B, 8, L], doc: "{'i' * DOC_CHARS}"}}
blocks:
  Body:
    inputs: {{x: {{shape: [B, C, L]}}}}
    nodes:
      r: {{block: relu, in: x, doc: "{'x' * DOC_CHARS}"}}
    outputs: {{y: r}}
nodes:
  b: {{block: Body, in: x, repeat: {COPIES}, doc: "{'b' * DOC_CHARS}"}}
outputs: {{y: b}}
""", encoding="utf-8")
    return spec


@pytest.mark.parametrize(("name", "depth"), [("g.html", "0"), ("g.dot", "0"), ("g.dot", "1"), ("g.mmd", "1")])
def test_a_long_doc_in_a_repeat_body_is_clipped_in_pictures(tmp_path: Path, name: str, depth: str,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    spec = _doc_bomb(tmp_path)
    assert main([str(spec), "--graph", str(tmp_path / name), "--depth", depth]) == 0, capsys.readouterr().err
    text = (tmp_path / name).read_text(encoding="utf-8")
    # The page carries every copy (HTML: every level whatever --depth, each distinct doc once): each doc at most
    # MAX_DOC characters
    assert len(text) < spec.stat().st_size, len(text)
    for letter in "xbi":
        assert letter * (render.MAX_DOC + 1) not in text
    if not name.endswith(".mmd"):  # (Mermaid draws no docs)
        copies = text.count("x" * render.MAX_DOC)
        assert copies == (1 if name.endswith(".html") else COPIES if depth == "1" else 0)
        assert f"... ({DOC_CHARS - render.MAX_DOC:,} more characters)" in text


def test_tooltip_keeps_a_short_doc_and_clips_a_long_one() -> None:
    assert render.tooltip(None) == "" and render.tooltip("Two convs.\nThen a head.") == "Two convs.\nThen a head."
    clipped = render.tooltip("a" * (render.MAX_DOC + 7))
    assert clipped == "a" * render.MAX_DOC + "... (7 more characters)"


def test_script_escape_writes_every_markup_character_as_a_unicode_escape() -> None:
    text = "a</script><!--&\u2028\u2029b" * 3
    escaped = render.escape(text, "script")
    assert escaped == ("a\\u003c/script\\u003e\\u003c!--\\u0026\\u2028\\u2029b" * 3)
    assert json.loads(f'"{escaped}"') == text  # still the same JSON string


# -- warnings -------------------------------------------------------------------------------------------------


def _unused_params(folder: Path, count: int) -> Path:
    spec = folder / "warn.yaml"
    params = "".join(f"  p{k}: {k}\n" for k in range(count))
    spec.write_text(f"vibench: 1\nname: Warn\nparams:\n{params}inputs:\n  x: {{shape: [B, 8, L]}}\n"
                    "nodes:\n  r: {block: relu, in: x}\noutputs: {y: r}\n", encoding="utf-8")
    return spec


def test_the_warnings_of_a_spec_that_compiles_are_capped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _unused_params(tmp_path, MAX_SHOWN + 70)
    assert main([str(spec), "--check"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("ok: Warn")
    assert err.count("warning[W105]") == MAX_SHOWN
    assert f"... and 70 more (the first {MAX_SHOWN} of {MAX_SHOWN + 70} are shown)" in err
    assert "`p49`" in err and "`p50`" not in err  # the first ones, in file order


def test_the_json_report_caps_warnings_and_counts_the_rest(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    spec = _unused_params(tmp_path, MAX_SHOWN + 70)
    assert main([str(spec), "--check", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["warnings"]) == MAX_SHOWN and report["warnings_omitted"] == 70
    few = _unused_params(tmp_path, 3)
    assert main([str(few), "--check", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["warnings"]) == 3 and "warnings_omitted" not in report


# -- --list NAME: a long default ----------------------------------------------------------------------------


def _wide_template(folder: Path) -> Path:
    lib = folder / "lib"
    lib.mkdir()
    spec = {"vibench": 1, "name": "WideP", "doc": "wide params",
            "params": {"label": {"type": "str", "default": "漢字漢字漢字", "doc": "A label.",
                                 "choices": ["漢字漢字漢字", "b\tc"]},
                       "sizes": {"type": "list[int]", "default": list(range(300)), "doc": "Many sizes."},
                       "w": {"type": "int", "default": 4, "doc": "Width."}},
            "inputs": {"x": {"shape": ["B", 8, "L"]}},
            "nodes": {"c": {"block": "conv1d", "in": "x", "out_channels": "${w}", "kernel_size": 1},
                      "s": {"block": "scale", "in": "c", "factor": "${len(sizes) / 300 if label else 1.0}"}},
            "outputs": {"y": "s"}}
    (lib / "WideP.json").write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    return lib


def test_a_long_default_does_not_widen_the_parameter_table(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    lib = _wide_template(tmp_path)
    assert main(["--list", "WideP", "-I", str(lib)]) == 0
    out = capsys.readouterr().out
    table = out.split("parameters:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert max(display_width(line) for line in table) <= 100, table
    rows = {line.split()[0]: line for line in table if not line.startswith("    ")}
    assert set(rows) == {"label", "sizes", "w"}
    # the columns line up in terminal columns (the CJK default takes two per character)
    docs = {"label": "A label.", "sizes": "Many sizes.", "w": "Width."}
    starts = {name: display_width(rows[name][:rows[name].index(doc)]) for name, doc in docs.items()}
    assert len(set(starts.values())) == 1, starts
    assert "b\\tc" in rows["label"] and "\t" not in out
    # the default in full, under its row
    spilled = " ".join(line.strip() for line in table if line.startswith("    "))
    assert spilled == "[" + ", ".join(map(str, range(300))) + "]"


def test_table_clips_only_the_long_cells() -> None:
    rows = [("a", "int", "1", "A."), ("b", "str", "x" * (CELL_WIDTH + 1), "B."), ("c", "float", "0.5", "C.")]
    lines = _table(rows)
    assert lines[0] == "  a  int    1           A."
    assert lines[1] == "  b  str    xxxxxxx...  B."
    assert lines[2] == "     " + "x" * (CELL_WIDTH + 1)
    assert lines[3] == "  c  float  0.5         C."
    exact = [("a", "x" * CELL_WIDTH, "A.")]  # a cell of CELL_WIDTH columns stays in its row
    assert _table(exact) == ["  a  " + "x" * CELL_WIDTH + "  A."]


def test_a_default_of_megabytes_is_written_in_part(capsys: pytest.CaptureFixture[str]) -> None:
    lines = _table([("big", "str", "y" * 1_000_000, "Big.")])
    assert sum(map(len, lines)) < 5_000
    assert re.search(r"\.\.\. \(998,000 more characters\)$", lines[-1])
