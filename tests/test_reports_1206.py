"""Report and output defects QA found on 2026-12-06.

- `--summary --depth` dropped the copy index of a `repeat` or `for_each` node making ONE copy
  (`network.conv1` where the model's state_dict reads `network.0.conv1.weight_g`);
- a backslash of a node `doc:` was altered in `.svg`/`.png` tooltips (Graphviz expands `\\N`, `\\G`...);
- a repeated single-value option (`--graph a.dot --graph b.html`, `-o`) kept the last silently;
- a null `nodes:`/`inputs:`/`outputs:` inside a composite was "wrong type ... found: null", not "empty";
- with `--format json`, a usage error printed nothing on standard output;
- a non-UTF-8 byte of a file name reached the JSON as a lone surrogate (`\\udce9`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import vibench
from vibench.compiler import cli
from vibench.compiler.report import check_report_json
from vibench.runtime.build import build_program

# -- 1. --summary rows are state_dict paths, also for a one-copy `repeat`/`for_each` ---------------------------

FOR_EACH_ONE = """\
vibench: 1
name: One
inputs: {x: {shape: [B, 4]}}
blocks:
  Mlp:
    params: {width: {type: int}}
    inputs: {x: {shape: [B, 4]}}
    nodes: {fc: {block: linear, in: x, out_features: '${width}'}}
    outputs: {y: fc}
nodes:
  heads: {block: Mlp, in: x, for_each: [3], width: '${item}'}
  chain: {block: Mlp, in: x, repeat: 1, width: 4}
outputs: {y: heads.0, z: chain}
"""


def _summary_names(program: Any, depth: int) -> list[str]:
    return [row["name"] for row in check_report_json(program, summary=True, written=None, depth=depth)["nodes"]]


@pytest.mark.parametrize("template, params, shape", [
    ("cnn/TCN", {"num_channels": [25]}, (2, 64, 1)),
    ("cnn/ResNet1D", {"layers": [1, 1, 1, 1]}, (2, 64, 1)),
    ("isfm/backbone/B_10_VIBT", {}, (2, 8, 64)),
    (None, {}, (2, 4)),
])
def test_summary_rows_are_state_dict_paths(template: str | None, params: dict[str, Any],
                                           shape: tuple[int, ...]) -> None:
    text = f"vibench: 1\nextends: {template}\n" if template else FOR_EACH_ONE
    program = vibench.check(text=text, params=params, inputs={"x": shape})
    keys = list(build_program(program).state_dict())
    names = _summary_names(program, depth=2)
    nested = [n for n in names if "." in n]
    assert nested
    for name in nested:
        node_has_params = any(row["name"] == name and row["parameters"] for row in
                              check_report_json(program, summary=True, written=None, depth=2)["nodes"])
        if node_has_params:  # network.0.conv1 -> network.0.conv1.weight_g
            assert any(k.startswith(name + ".") for k in keys), (name, keys[:8])


def test_one_copy_rows_keep_their_index_in_text_and_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    Path("one.yaml").write_text(FOR_EACH_ONE)
    assert cli.main(["one.yaml", "--check", "--summary", "--depth", "1"]) == cli.EXIT_OK
    out = capsys.readouterr().out
    assert "heads.0.fc" in out and "chain.0.fc" in out
    assert "heads.fc " not in out and "chain.fc " not in out
    assert cli.main(["one.yaml", "--check", "--summary", "--depth", "1", "--format", "json"]) == cli.EXIT_OK
    names = [n["name"] for n in json.loads(capsys.readouterr().out)["nodes"]]
    assert names == ["heads", "heads.0.fc", "chain", "chain.0.fc"]


# -- 2. a backslash of a `doc:` shows as written in a picture's tooltip -------------------------------------

DOC = r"prior \Gamma(k, \Theta) on C:\Nodes \\ \L \n"
DOCS = f"""\
vibench: 1
name: Gm
inputs: {{x: {{shape: [B, 4]}}}}
blocks:
  Mlp:
    inputs: {{x: {{shape: [B, 4]}}}}
    nodes: {{fc: {{block: linear, in: x, out_features: 4}}}}
    outputs: {{y: fc}}
nodes:
  fc: {{block: linear, in: x, out_features: 4, doc: '{DOC}'}}
  body: {{block: Mlp, in: fc, doc: 'frame {DOC}'}}
outputs: {{y: body}}
"""


def test_dot_escapes_a_backslash_once_in_labels_and_twice_in_tooltips() -> None:
    from vibench.compiler.render import escape

    assert escape("a\\Nb", "dot") == "a\\\\Nb"  # a label: Graphviz unescapes it once
    assert escape("a\\Nb", "dot-tooltip") == "a\\\\\\\\Nb"  # a tooltip: twice (then expands \N)
    assert escape('"<&>"', "dot-tooltip") == '\\"&#60;&#38;&#62;\\"'


def test_svg_tooltips_show_a_doc_with_backslashes_exactly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import html
    import re

    from vibench.compiler.render_graphviz import dot_binary

    if dot_binary() is None:
        pytest.skip("Graphviz's dot is not installed")
    monkeypatch.chdir(tmp_path)
    Path("gm.yaml").write_text(DOCS)
    assert cli.main(["gm.yaml", "--graph", "gm.svg", "--depth", "1"]) == cli.EXIT_OK
    titles = {html.unescape(t) for t in re.findall(r'xlink:title="([^"]*)"', Path("gm.svg").read_text())}
    assert DOC in titles and f"frame {DOC}" in titles, titles  # was `prior Gmamma(k, \Theta) on C:n2odes`
    assert cli.main(["gm.yaml", "--graph", "gm.dot"]) == cli.EXIT_OK
    assert "C:\\\\\\\\Nodes" in Path("gm.dot").read_text()


# -- 3. a single-value option given twice ------------------------------------------------------------------


@pytest.mark.parametrize("argv, option", [
    (["cnn/TCN", "--graph", "a.dot", "--graph", "b.html"], "--graph"),
    (["cnn/TCN", "-o", "a.py", "-o", "b.py"], "-o/--output"),
    (["cnn/TCN", "-o", "a.py", "--output", "b.py"], "-o/--output"),
    (["cnn/TCN", "--check", "--summary", "--depth", "1", "--depth", "2"], "--depth"),
    (["cnn/TCN", "--check", "--format", "json", "--format", "text"], "--format"),
    (["cnn/TCN", "--check", "--max-nodes", "5", "--max-nodes", "500"], "--max-nodes"),
    (["cnn/TCN", "--check", "--max-params", "5", "--max-params", "500"], "--max-params"),
    (["cnn/TCN", "--check", "--max-activation", "5", "--max-activation", "500"], "--max-activation"),
    (["cnn/TCN", "--check", "--metadata", "a.csv", "--metadata", "b.csv"], "--metadata"),
    (["cnn/TCN", "-o", "m.py", "--weights", "a.pt", "--weights", "b.pt"], "--weights"),
    (["--list", "cnn/TCN", "--list", "cnn/MLP"], "--list"),
    (["schema", "-o", "a.json", "-o", "b.json"], "-o/--output"),
])
def test_a_single_value_option_given_twice_is_a_usage_error(argv: list[str], option: str, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv) == cli.EXIT_USAGE  # exit 0, writing only the last
    err = capsys.readouterr().err
    assert f"argument {option}: given twice" in err
    assert not list(tmp_path.iterdir())


def test_repeatable_options_stay_repeatable(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["cnn/TCN", "--check", "--set", "num_channels=[25]", "--set", "kernel_size=3",
                     "--input", "x=2,64,1", "--input", "x=2,32,1"]) == cli.EXIT_OK


# -- 4. a null section of a composite is "empty (null)" ----------------------------------------------------


@pytest.mark.parametrize("section", ["inputs", "nodes", "outputs"])
def test_null_composite_section_is_empty(section: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    body = {"inputs": "{x: {shape: [B]}}", "nodes": "{n: {block: relu, in: x}}", "outputs": "{y: n}"}
    body[section] = ""
    monkeypatch.chdir(tmp_path)
    Path("n.yaml").write_text("vibench: 1\nname: N\ninputs: {x: {shape: [B]}}\nblocks:\n  In:\n"
                              + "".join(f"    {k}: {v}\n" for k, v in body.items())
                              + "nodes: {a: {block: In, in: x}}\noutputs: {y: a}\n")
    assert cli.main(["n.yaml", "--check"]) == cli.EXIT_SPEC
    err = capsys.readouterr().err
    assert f"`blocks.In.{section}` is empty (null)" in err and "wrong type" not in err
    assert f"give `{section}:` its value" in err


# -- 5. usage errors with --format json ----------------------------------------------------------------------


def test_usage_error_with_format_json_is_a_json_object(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli.main(["nosuch.yaml", "--check", "--format", "json"]) == cli.EXIT_USAGE
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"ok": False, "usage_error": "no such spec file: nosuch.yaml"}
    assert captured.err == ""
    assert cli.main(["cnn/TCN", "--format", "json"]) == cli.EXIT_USAGE  # model.py and the report on stdout
    assert "--format json prints its report" in json.loads(capsys.readouterr().out)["usage_error"]
    assert cli.main(["--bogus", "--format", "json"]) == cli.EXIT_USAGE  # argparse's: --format read from the words
    assert "unrecognized arguments: --bogus" in json.loads(capsys.readouterr().out)["usage_error"]
    assert cli.main(["--bogus", "--format", "json", "--format", "json"]) == cli.EXIT_USAGE  # given twice: text
    captured = capsys.readouterr()
    assert captured.out == "" and "argument --format: given twice" in captured.err


# -- 6. a file name's non-UTF-8 byte in JSON -----------------------------------------------------------------


def test_json_writes_a_non_utf8_file_name_byte_as_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    import os

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VIBENCH_SPEC_PATH", raising=False)
    os.makedirs("lib/fam")
    spec = b"vibench: 1\nname: W\ninputs: {x: {shape: [B, 4]}}\nnodes: {fc: {block: linear, in: x, out_features: 2}}\n"
    with open(b"lib/fam/we\xe9ird.yaml", "wb") as fh:
        fh.write(spec + b"outputs: {y: fc}\n")
    with open(b"bad\xe9.yaml", "wb") as fh:
        fh.write(spec.replace(b"out_features: 2", b"out_features: x2") + b"outputs: {y: fc}\n")

    def strict(text: str) -> Any:
        return json.loads(text.encode("utf-8", "strict"))  # a lone surrogate cannot be encoded

    assert cli.main(["--list", "-I", "lib", "--format", "json"]) == cli.EXIT_OK
    names = [t["name"] for t in strict(capsys.readouterr().out)]
    assert "fam/we\\xe9ird" in names
    assert cli.main([os.fsdecode(b"bad\xe9.yaml"), "--check", "--format", "json"]) == cli.EXIT_SPEC
    files = {d["file"] for d in strict(capsys.readouterr().out)["diagnostics"]}
    assert files == {"bad\\xe9.yaml"}
