"""What vibench-compile says and writes, where QA found it wrong.

Each case is a defect QA reproduced: model.py's Regenerate line squeezed a run of spaces inside a file name or a
`--set` value to one (the command compiled another spec); `--input` binding some symbols left them symbolic in
`--summary`, `--check` and `--graph` (`[B + N, 8]` beside `bound: B=3`), and a concrete FLOPs total was called
symbolic; `--list` showed a template that does not compile with its declared ports as if checked; an output named
twice was always "-o and --graph"; `--format json` printed nothing when an output could not be written; a folder
given again on the spec path was searched (and written on the Regenerate line) once per time; docs/cli.md gave the
library's listing budget figures of an older library.
"""

from __future__ import annotations

import doctest
import errno
import importlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT
from vibench.compiler import cli, library_index
from vibench.compiler.cli_args import _search_path, distinct_folders
from vibench.compiler.codegen.text import comment_word

SPEC = """\
vibench: 1
name: Spaced
params:
  tag: {type: str, default: "x"}
inputs: {x: {shape: [B, 8]}}
nodes:
  fc: {block: linear, in: x, out_features: 4}
outputs: {y: fc}
"""

JOINED = """\
vibench: 1
name: Cat
inputs:
  x: {shape: [B, 8]}
  z: {shape: [N, 8]}
nodes:
  c: {block: concat, in: [x, z], dim: 0}
  fc: {block: linear, in: c, out_features: 4}
outputs: {y: fc}
"""


def regenerate_words(model: Path) -> list[str]:
    """The words bash reads from the Regenerate comment (its lines without `# `, as a person copies them)."""
    lines = model.read_text(encoding="utf-8").splitlines()
    start = next(k for k, line in enumerate(lines) if line.startswith("# Regenerate: "))
    end = next(k for k in range(start, len(lines)) if not lines[k].startswith("#"))
    text = "\n".join(line[2:] for line in lines[start:end]).removeprefix("Regenerate: ")
    done = subprocess.run(["bash", "-c", f"set -- {text}\nprintf '%s\\0' \"$@\""], capture_output=True, check=True)
    return done.stdout.decode("utf-8", "surrogateescape").split("\0")[:-1]


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VIBENCH_SPEC_PATH", raising=False)
    return tmp_path


# -- 1. the Regenerate line keeps every space of a word ---------------------------------------------------------


@pytest.mark.parametrize("repeat", [1, 6])  # one line, and words long enough to be cut across lines
def test_the_regenerate_line_keeps_runs_of_spaces_inside_words(here: Path, repeat: int) -> None:
    # `'my  spec.yaml' -o 'out  model.py' --set 'tag="a    b"'` was written with one space in each: the
    # command compiled `my spec.yaml` (another file) into `out model.py` with tag `a b`.
    spec, out, folder = "my  spec" * repeat + ".yaml", "out  model" * repeat + ".py", "lib   two" * repeat
    (here / spec).write_text(SPEC, encoding="utf-8")
    (here / folder).mkdir()
    tag = 'tag="a    b' + "  c" * repeat + '"'
    argv = [spec, "-I", folder, "-o", out, "--set", tag, "--input", "x=2,8"]
    assert cli.main(argv) == 0
    assert regenerate_words(here / out) == ["vibench-compile", *argv]
    os.rename(out, "first.py")
    assert cli.main(regenerate_words(here / "first.py")[1:]) == 0  # the command rebuilds the same file
    assert (here / out).read_bytes() == (here / "first.py").read_bytes()


def test_a_comment_word_keeps_its_spaces_but_never_a_line_break() -> None:
    assert comment_word("'a   b'") == "'a   b'"
    for text in ("a\nb", "a\rb", "a\u2028b", "a\x85b", "a\x0cb", "a\x1b[2Jb", "a\u202eb"):
        word = comment_word(text)
        assert len(word.splitlines()) == 1 and word.isprintable(), repr(word)


def test_a_word_with_a_line_break_stays_in_the_comment(here: Path) -> None:
    (here / "a\nb.yaml").write_text(SPEC, encoding="utf-8")
    assert cli.main(["a\nb.yaml", "-o", "m.py", "--set", "tag=one\n  two"]) == 0
    lines = (here / "m.py").read_text(encoding="utf-8").splitlines()
    regenerate = [line for line in lines if "Regenerate" in line]
    assert regenerate == ["# Regenerate: vibench-compile $'a\\x0ab.yaml' -o m.py --set $'tag=one\\x0a  two'"]
    assert regenerate_words(here / "m.py")[1:] == ["a\nb.yaml", "-o", "m.py", "--set", "tag=one\n  two"]


# -- 2 and 3. --input binding some symbols; a concrete total --------------------------------------------------


def summary(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert cli.main(["joined.yaml", "--check", "--summary", *args]) == 0
    return capsys.readouterr().out


def test_symbols_bound_by_input_are_put_in_where_others_stay(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # `--input x=3,8` bound B, yet `[B + N, 8]` and `64 * B + 64 * N` were printed beside `bound: B=3`.
    (here / "joined.yaml").write_text(JOINED, encoding="utf-8")
    text = summary(capsys, "--input", "x=3,8")
    assert "  input  x: [3, 8] float32" in text and "  output y: [N + 3, 4] float32" in text
    assert re.search(r"^c +concat +\[N \+ 3, 8\] +0 +0$", text, re.M)
    assert re.search(r"^fc +linear +\[N \+ 3, 4\] +36 +64 \* N \+ 192$", text, re.M)
    assert "total FLOPs: 64 * N + 192 (symbolic; bind with --input)" in text
    assert "B" not in text.split("bound:")[0].replace("float32", "")

    report = json.loads(summary(capsys, "--input", "x=3,8", "--format", "json"))
    assert report["bindings"] == {"B": 3} and report["flops"] == "64 * N + 192"
    assert report["outputs"]["y"]["shape"] == ["N + 3", 4]
    assert [n["flops"] for n in report["nodes"]] == [0, "64 * N + 192"]
    assert report["nodes"][0]["outputs"] == {"out": ["N + 3", 8]}

    assert cli.main(["joined.yaml", "--check", "--input", "x=3,8", "--graph", "g.dot"]) == 0
    capsys.readouterr()
    labels = re.findall(r'label="(\[[^"]*\])"', (here / "g.dot").read_text(encoding="utf-8"))
    assert "[N + 3, 8]" in labels and not any("B" in label for label in labels)


def test_every_symbol_bound_gives_numbers(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (here / "joined.yaml").write_text(JOINED, encoding="utf-8")
    text = summary(capsys, "--input", "x=3,8", "--input", "z=2,8")
    assert "  output y: [5, 4] float32" in text and text.rstrip().endswith("total FLOPs: 320")


@pytest.mark.parametrize(("spec", "total"), [
    ("vibench: 1\nname: Fixed\ninputs: {x: {shape: [2, 8]}}\nnodes: {fc: {block: linear, in: x, out_features: 8}}\n"
     "outputs: {y: fc}\n", "256"),
    ("vibench: 1\nname: Id\ninputs: {x: {shape: [B, 8]}}\nnodes: {}\noutputs: {y: x}\n", "0"),
])
def test_a_concrete_total_is_not_called_symbolic(here: Path, capsys: pytest.CaptureFixture[str], spec: str,
                                                  total: str) -> None:
    # `total FLOPs: 128 (symbolic; bind with --input)`: the hint looked at the bindings, not at the total.
    (here / "joined.yaml").write_text(spec, encoding="utf-8")
    assert summary(capsys).rstrip().splitlines()[-1] == f"total FLOPs: {total}"


# -- 4. a template that does not compile, in the listing ------------------------------------------------------


def test_the_listing_says_a_template_does_not_compile(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # `f/Bad  broken one  (x [B, 8] -> y)`, `"note": null`: its declared ports read as a checked interface.
    (here / "lib" / "f").mkdir(parents=True)
    (here / "lib" / "f" / "Bad.yaml").write_text(SPEC.replace("name: Spaced", "name: Bad\ndoc: broken one")
                                                 .replace("block: linear", "block: linearx"), encoding="utf-8")
    (here / "lib" / "f" / "Good.yaml").write_text(SPEC, encoding="utf-8")
    assert cli.main(["--list", "f/Bad", "-I", "lib"]) == 0
    said = re.search(r"\(does not compile: (E110: [^\n]*)\)", capsys.readouterr().out)
    assert said is not None
    assert cli.main(["--list", "-I", "lib"]) == 0
    text = capsys.readouterr().out
    rows = text.split("in lib (spec path):\n")[1].splitlines()
    assert rows[0] == f"f/Bad   broken one  (x [B, 8] -> y)  [does not compile: {said.group(1)}]"
    assert rows[1] == "f/Good  (x [B, 8] -> y [B, 4])" and len(rows) == 2  # (no "not checked" closing line)
    assert cli.main(["--list", "-I", "lib", "--format", "json"]) == 0
    entries = {e["name"]: e for e in json.loads(capsys.readouterr().out)}
    assert entries["f/Bad"]["note"] == f"does not compile: {said.group(1)}"
    assert entries["f/Bad"]["interface"] == "x [B, 8] -> y" and entries["f/Good"]["note"] is None


# -- 5. two outputs that are one file ---------------------------------------------------------------------------


@pytest.mark.parametrize(("graph_to", "message"), [
    ("m.pt", "--graph g.dot and the weights file m.pt (beside -o m.py) name the same file"),
    ("m.py", "-o m.py and --graph g.dot name the same file"),
])
def test_outputs_that_are_one_file_are_named(here: Path, capsys: pytest.CaptureFixture[str], graph_to: str,
                                            message: str) -> None:
    # A --graph linked to the model.pt --weights writes was said to be "-o and --graph name the same file".
    (here / "spec.yaml").write_text(SPEC, encoding="utf-8")
    (here / "ck.pt").write_bytes(b"not read: the outputs are checked first")
    os.symlink(graph_to, "g.dot")
    assert cli.main(["spec.yaml", "-o", "m.py", "--graph", "g.dot", "--weights", "ck.pt", "--format", "json"]) == 2
    assert json.loads(capsys.readouterr().out)["usage_error"].startswith(message)
    assert not (here / "m.py").exists() and not (here / "m.pt").exists()


# -- 6. --format json when an output cannot be written ----------------------------------------------------------


def test_json_says_an_output_cannot_be_written(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # `--graph <300 characters>.dot --format json`: exit 2, nothing on standard output for a JSON reader.
    (here / "spec.yaml").write_text(SPEC, encoding="utf-8")
    graph = "g" * 300 + ".dot"
    assert cli.main(["spec.yaml", "-o", "m.py", "--graph", graph, "--format", "json"]) == 2
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report["ok"] is False and report["write_error"].startswith("cannot write --graph g")
    assert report["write_error"].endswith(os.strerror(errno.ENAMETOOLONG)) and err == ""
    assert not (here / "m.py").exists()
    assert cli.main(["spec.yaml", "-o", "m.py", "--graph", graph]) == 2  # text, as before
    out, err = capsys.readouterr()
    assert out == "" and err.splitlines()[-1].startswith("vibench-compile: cannot write --graph g")


class FullDisk(io.StringIO):
    def flush(self) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_json_report_standard_output_cannot_take_is_said_on_standard_error(
        here: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    (here / "spec.yaml").write_text(SPEC, encoding="utf-8")
    monkeypatch.setattr(sys, "stdout", FullDisk())
    assert cli.main(["spec.yaml", "--check", "--format", "json"]) == 2
    assert capsys.readouterr().err == f"vibench-compile: cannot write standard output: {os.strerror(errno.ENOSPC)}\n"


# -- 7. a folder given again on the spec path -----------------------------------------------------------------


def test_a_folder_given_again_is_searched_once(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # 2,000 `-I lib1` were each searched (5 s for --list) and each written on the Regenerate line.
    (here / "lib" / "fam").mkdir(parents=True)
    (here / "other").mkdir()
    (here / "lib" / "fam" / "T.yaml").write_text(SPEC, encoding="utf-8")
    os.symlink("lib", "link")
    monkeypatch.setenv("VIBENCH_SPEC_PATH", os.pathsep.join(["other", "lib", str(here / "lib"), "other"]))
    argv = ["fam/T", *["-I", "lib"] * 2000, "-I", "./lib/", "-I", "link", "-o", "m.py"]
    assert _search_path(cli._parser().parse_args(argv)) == ["lib", "other"]
    assert cli.main(argv) == 0
    assert regenerate_words(here / "m.py")[1:] == ["lib/fam/T.yaml", "-I", "lib", "-I", "other", "-o", "m.py"]
    assert distinct_folders(["other", "lib", "other/../lib", "link"]) == ["other", "lib"]


# -- 8. the library's listing budget figures in the docs ------------------------------------------------------


def test_the_docs_give_the_librarys_listing_budget_as_measured(monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    # docs/cli.md said 0.4 MiB and 2,720 nodes; --list read 0.29 MiB and counted 2,810.
    budgets: list[library_index.ListingBudget] = []
    real = library_index.ListingBudget

    def recorded() -> library_index.ListingBudget:
        budgets.append(real())
        return budgets[-1]

    monkeypatch.delenv("VIBENCH_SPEC_PATH", raising=False)
    monkeypatch.setattr(library_index, "ListingBudget", recorded)
    assert cli.main(["--list"]) == 0
    capsys.readouterr()
    (budget,) = budgets
    mib = (library_index.LIST_BUDGET_BYTES - budget.bytes) / 2**20
    nodes = library_index.LIST_BUDGET_NODES - budget.nodes
    docs = " ".join((Path(ROOT) / "docs" / "cli.md").read_text(encoding="utf-8").split())
    source = " ".join(Path(library_index.__file__).read_text(encoding="utf-8").split())  # the budgets' docstrings
    said = re.search(r"The library takes about ([0-9.]+) MiB and ([0-9,]+) nodes;", docs)
    assert said is not None and re.search(rf"the library makes about {said[2]};", source)
    assert f"(the library's: about {said[1]} MiB;" in source
    # Rounded figures, true within 15% (a template added or dropped need not touch the docs).
    assert abs(mib - float(said[1])) <= 0.15 * mib and abs(nodes - int(said[2].replace(",", ""))) <= 0.15 * nodes


# -- the docstring examples of the functions changed ------------------------------------------------------------


@pytest.mark.parametrize("name", ["vibench.compiler.codegen.text", "vibench.compiler.codegen.header",
                                  "vibench.compiler.symbolic", "vibench.compiler.cli_args"])
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
