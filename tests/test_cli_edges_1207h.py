"""Small defects of `vibench-compile` and its docs that QA found.

- `schema --format json` was a usage error in text on standard error, where docs/cli.md answers an unknown
  option given with `--format json` in JSON on standard output; it is JSON now (schema has no --format);
- `--format json schema` read `schema` as a spec and said to write the model with -o FILE: where no file or
  template is named `schema`, the usage error says the subcommand comes first;
- `--list 'fam/C\\xe9'` (a backslash typed) suggested `fam/C\\xe9`, the same text, for a template whose name holds
  the byte 0xe9 (not UTF-8): the suggestion now says what the shown text stands for and how to type it;
- `--help` named the subcommand as `schema [-o FILE]` only; `cat spec.yaml | vibench-compile /dev/stdin` (a FIFO,
  E004) was not told to read it with `-`; `--max-nodes` of 5,000 digits was "expected a positive integer";
- blocks `slice`, `add`, `mul`, `sub` did not document the refusals their shape rules make (a `start` outside the
  dimension; `L == 1 < M` of two symbolic sizes), which the tests below hold to the behaviour.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT
from vibench.compiler import cli
from vibench.compiler.reference_templates import _did_you_mean

TINY = "vibench: 1\nname: T\ninputs: {x: {shape: [B, 4]}}\nnodes: {fc: {block: linear, in: x, out_features: 2}}\n" \
       "outputs: {y: fc}\n"


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VIBENCH_SPEC_PATH", raising=False)
    return tmp_path


# -- 1. schema's usage errors heed --format json --------------------------------------------------------


@pytest.mark.parametrize("argv, message", [
    (["schema", "--format", "json"], "unrecognized arguments: --format json"),
    (["schema", "--format=json", "-o"], "argument -o/--output: expected one argument"),
    (["schema", "schema", "--format", "json"], "unrecognized arguments: schema --format json"),
])
def test_a_schema_usage_error_with_format_json_is_json(argv: list[str], message: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == cli.EXIT_USAGE
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"ok": False, "usage_error": message}  # was text on standard error
    assert captured.err == ""


def test_a_schema_usage_error_without_it_stays_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["schema", "--bogus"]) == cli.EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.out == "" and "usage error: unrecognized arguments: --bogus" in captured.err


# -- 2. the subcommand after an option --------------------------------------------------------------


def test_schema_after_an_option_says_the_subcommand_comes_first(here: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--format", "json", "schema"]) == cli.EXIT_USAGE
    message = json.loads(capsys.readouterr().out)["usage_error"]
    assert "where model.py would go too" not in message
    assert message == ("no spec file or template is named schema, and the subcommand comes first: "
                       "`vibench-compile schema [-o FILE] [--template NAME] [--spec-path DIR ...]`")
    assert cli.main(["--check", "schema"]) == cli.EXIT_USAGE
    assert "the subcommand comes first" in capsys.readouterr().err


def test_a_spec_file_named_schema_still_compiles(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (here / "schema").write_text(TINY)
    assert cli.main(["--check", "schema"]) == cli.EXIT_OK
    assert "ok: T" in capsys.readouterr().out


# -- 3. a suggestion shown as the name typed --------------------------------------------------------------


def test_did_you_mean_says_what_a_suggestion_shown_as_the_name_typed_holds(
        here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = here / "lib" / "fam"
    folder.mkdir(parents=True)
    (folder / os.fsdecode(b"C\xe9.yaml")).write_text(TINY.replace("name: T", "name: C"))
    typed = "fam/C\\xe9"  # as --list shows the template, a backslash and three characters
    for argv in (["--list", typed, "-I", "lib"], [typed, "--check", "-I", "lib"]):
        assert cli.main(argv) == cli.EXIT_USAGE
        err = capsys.readouterr().err
        assert "did you mean `fam/C\\xe9`? Its name holds the byte 0xe9, which is not UTF-8, shown as `\\xe9`" in err
        assert "$'fam/C\\xe9' in bash or zsh" in err
    assert cli.main(["--list", os.fsdecode(b"fam/C\xe9"), "-I", "lib"]) == cli.EXIT_OK  # the bytes, as said
    assert "fam/C\\xe9: " in capsys.readouterr().out


def test_did_you_mean_otherwise_names_the_suggestion_alone() -> None:
    assert _did_you_mean("cnn/ResNt", "cnn/ResNet1D") == "did you mean `cnn/ResNet1D`?"
    assert _did_you_mean("fam/a\tb", "fam/a\\tb").endswith("as written there (a backslash, not an escape)?")
    assert "the character U+0009 shown as `\\t`" in _did_you_mean("fam/a\\tb", "fam/a\tb")


# -- 4. --help, a FIFO as the spec, a limit of too many digits ---------------------------------------------


def test_help_names_the_subcommand_as_docs_do(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    usage = "vibench-compile schema [-o FILE] [--template NAME] [--spec-path DIR ...]"
    assert usage in capsys.readouterr().out  # was `schema [-o FILE]` only
    for doc in ("README.md", "docs/cli.md"):
        assert usage in (Path(ROOT) / doc).read_text()


def test_a_fifo_as_the_spec_is_told_to_read_it_with_a_dash(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    os.mkfifo(here / "pipe")
    assert cli.main(["pipe", "--check"]) == cli.EXIT_SPEC
    err = capsys.readouterr().err
    assert "E004" in err and "or `-` to read the spec from standard input (`... | vibench-compile -`" in err


def test_a_limit_of_more_digits_than_python_reads_is_too_large(here: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    (here / "t.yaml").write_text(TINY)
    limit = sys.get_int_max_str_digits()
    digits = "9" * (limit + 700)
    assert cli.main(["t.yaml", "--check", "--max-nodes", digits]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "expected a positive integer" not in err
    assert f"argument --max-nodes: too large: {limit + 700:,} digits, more than the {limit:,} Python reads" in err
    # leading zeros are no part of the value: 0...05 is 5
    assert cli.main(["t.yaml", "--check", "--max-params", "0" * (limit + 700) + "5"]) == cli.EXIT_SPEC
    assert "E307" in capsys.readouterr().err
    assert cli.main(["t.yaml", "--check", "--max-nodes", "-" + digits]) == cli.EXIT_USAGE
    assert "expected a positive integer, got `-999" in capsys.readouterr().err


# -- 5. the rules the block docs now state -------------------------------------------------------------


def test_the_block_docs_state_the_refusals_their_shape_rules_make(here: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--blocks", "slice"]) == cli.EXIT_OK
    assert "torch clamps" in capsys.readouterr().out
    for block in ("add", "mul", "sub"):
        assert cli.main(["--blocks", block]) == cli.EXIT_OK
        shown = capsys.readouterr().out
        assert "``L == 1 < M``" in shown and "refused" in shown and "literal 1" in shown
    (here / "slice.yaml").write_text("vibench: 1\nname: S\ninputs: {x: {shape: [B, 4, 3]}}\n"
                                     "nodes: {s: {block: slice, in: x, dim: 2, start: -4}}\noutputs: {y: s}\n")
    assert cli.main(["slice.yaml", "--check"]) == cli.EXIT_SPEC
    assert "E302" in capsys.readouterr().err
    two = "vibench: 1\nname: A\ninputs: {x: {shape: [B, 4, L]}, y: {shape: [B, 4, M]}}\n" \
          "nodes: {s: {block: add, in: [x, y]}}\noutputs: {out: s}\n"
    (here / "add.yaml").write_text(two)
    assert cli.main(["add.yaml", "--check", "--input", "x=2,4,1", "--input", "y=2,4,5"]) == cli.EXIT_SPEC
    assert "E305" in capsys.readouterr().err
    (here / "one.yaml").write_text(two.replace("[B, 4, L]", "[B, 4, 1]"))  # the intent written out
    assert cli.main(["one.yaml", "--check", "--input", "x=2,4,1", "--input", "y=2,4,5"]) == cli.EXIT_OK
