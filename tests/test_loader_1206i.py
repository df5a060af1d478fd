"""What the loader reads, where QA found it wrong.

1. `<<` (YAML's merge key) written as a value was kept as an internal object: `--check` said ok, `-o` crashed with
   "cannot write _Merge << as a literal", `doc: <<` was E102 "found: _Merge <<". Now E001 where it is written.
2. A `.json` spec is read as YAML, whose plain (unquoted) scalars JSON has none of: `"doc": /* TODO */ "A small
   head."` compiled (the docstring was the comment), `"n": 8 // eight` was the text `8 // eight`, and a `//` right
   after a key's `:` was not named in the syntax error it caused. Now unquoted text in a `.json` spec is E001, a
   comment in it named and located.
3. `10_`, `1__0`, `0_` read as 10, 10, 0 (in a spec and with `--set`), where docs/language.md says underscores read
   as in Python, which refuses them. Now E001 (a usage error for `--set`).
4. `block: "#Residual"` said "unknown spec ``".
5. In a removed working folder: `vibench-compile c4.yaml` said "no such spec file", a relative search folder (`.`,
   which passes isdir there) raised FileNotFoundError, and naming a node's plain-name values asked os.getcwd().
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import vibench
from tests.helpers import ROOT
from vibench.compiler import cli
from vibench.compiler.cli_args import UsageError, _parse_sets, distinct_folders
from vibench.compiler.diagnostics import SpecError
from vibench.compiler.load import load_text
from vibench.compiler.spec_files import NO_WORKING_FOLDER, working_folder

BODY = "inputs: {x: {shape: [B, 4]}}\nnodes: {s: {block: relu, in: x}}\noutputs: {y: s}\n"


def only(err: pytest.ExceptionInfo[SpecError]) -> Any:
    (diagnostic,) = err.value.diagnostics
    return diagnostic


def where(diagnostic: Any) -> tuple[int, int]:
    return diagnostic.pos.line, diagnostic.pos.col


# -- 1. `<<` as a value ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "at"), [
    (f"vibench: 1\nname: Tg\nmetadata: {{p: <<}}\n{BODY}", (3, 15)),
    (f'vibench: 1\nname: Tg\nlet: {{a: <<}}\nmetadata: {{a: "${{a}}"}}\n{BODY}', (3, 10)),
    (f"vibench: 1\nname: Tg\ndoc: <<\n{BODY}", (3, 6)),
    ("vibench: 1\nname: Tg\ninputs: {x: {shape: [B, 4], doc: <<}}\nnodes: {s: {block: relu, in: x}}\n"
     "outputs: {y: s}\n", (3, 34)),
    (f"vibench: 1\nname: Tg\nmetadata: {{p: [1, <<]}}\n{BODY}", (3, 19)),
    (f"vibench: 1\nname: Tg\nmetadata: {{p: &m <<}}\n{BODY}", (3, 15)),
])
def test_a_merge_key_written_as_a_value_is_e001_where_it_is_written(text: str, at: tuple[int, int]) -> None:
    for call in (vibench.check, vibench.compile_spec):
        with pytest.raises(SpecError) as err:
            call(text=text)
        d = only(err)
        assert d.code == "E001" and "`<<` is YAML's merge key" in d.message and where(d) == at
        assert '"<<"' in (d.hint or "") and "_Merge" not in str(err.value)


def test_an_alias_of_an_anchored_merge_key_used_as_a_value_is_e001_at_the_alias() -> None:
    with pytest.raises(SpecError) as err:
        load_text("a: {&m <<: {b: 1}}\nc: *m\n")
    d = only(err)
    assert d.code == "E001" and where(d) == (2, 4) and "`*m`" in (d.found or "")


@pytest.mark.parametrize("text", ["<<", "- <<\n"])
def test_a_merge_key_alone_or_in_a_list_is_e001(text: str) -> None:
    with pytest.raises(SpecError) as err:
        load_text(text)
    assert only(err).code == "E001"


def test_the_merge_key_still_merges_and_a_quoted_one_is_text() -> None:
    data = load_text('base: &b {k: 1, m: 2}\nd: {<<: *b, m: 3}\nq: "<<"\nr: {"<<": 1}\n').data
    assert data["d"] == {"k": 1, "m": 3} and data["q"] == "<<" and data["r"] == {"<<": 1}


def test_a_merge_key_given_with_set_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="merge key"):
        _parse_sets(["doc=<<"])


# -- 2. unquoted text in a .json spec --------------------------------------------------------------------------

C9 = """{
  "vibench": 1,
  "name": "T",
  "doc": /* TODO */ "A small head.",
  "inputs": {"x": {"shape": ["B", 4]}},
  "nodes": {"fc": {"block": "linear", "in": "x", "out_features": 8}},
  "outputs": {"y": "fc"}
}
"""
C8 = C9.replace('/* TODO */ "A small head."', '// TODO: describe\n    "A small head."')
C7 = C9.replace('"doc": /* TODO */ "A small head.",\n', "").replace(
    '"out_features": 8}', '"out_features": 8,\n           "doc": // TODO\n             "head"}')
C1 = """{"vibench": 1, "name": "T", "params": {"n": 8 // eight
 },
 "inputs": {"x": {"shape": ["B", 4]}},
 "nodes": {"fc": {"block": "linear", "in": "x", "out_features": "n"}}, "outputs": {"y": "fc"}}
"""


@pytest.mark.parametrize(("text", "token", "at"), [(C9, "/*", (4, 10)), (C8, "//", (4, 10)), (C7, "//", (6, 19)),
                                                   (C1, "//", (1, 47))])
def test_a_comment_in_a_json_spec_is_e001_at_the_comment(tmp_path: Path, text: str, token: str,
                                                        at: tuple[int, int]) -> None:
    path = tmp_path / "c.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as err:
        vibench.check(str(path))
    d = only(err)
    assert d.code == "E001" and d.message.startswith(f"`{token}` starts a comment") and where(d) == at
    assert "`# ...`" in (d.hint or "")


@pytest.mark.parametrize(("value", "found"), [("relu", "`relu`"), ("http://x", "`http://x`"), ("True", "`True`"),
                                              ("1_000", "`1_000`"), ("NaN", "`NaN`"), ("", "nothing")])
def test_unquoted_text_in_a_json_spec_is_e001_where_it_starts(tmp_path: Path, value: str, found: str) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"vibench": 1,\n "metadata": {"a": ' + value + "}}", encoding="utf-8")
    with pytest.raises(SpecError) as err:
        vibench.check(str(path))
    d = only(err)
    assert d.code == "E001" and found in (d.found or "") and "comment" not in d.message
    assert where(d) == (2, 20) or (value == "" and d.pos.line == 2)


@pytest.mark.parametrize("text", ['{"a": }', '{"a"}', '{"a", "b": 1}', '["a": ]'])
def test_a_value_left_out_in_a_json_spec_is_e001(text: str) -> None:
    with pytest.raises(SpecError) as err:
        load_text(text, "s.json")
    d = only(err)
    assert d.code == "E001" and d.message.startswith("a value is missing") and d.found == "nothing"


def test_unquoted_text_is_yaml_outside_a_json_spec() -> None:
    assert load_text('{"a": relu, "b": 8 // eight}', "s.yaml").data == {"a": "relu", "b": "8 // eight"}


def test_a_slash_comment_after_a_keys_colon_is_named_in_a_yaml_syntax_error() -> None:
    with pytest.raises(SpecError) as err:
        load_text("vibench: 1\nname: T\ndoc: // TODO: describe\n", "s.yaml")
    d = only(err)
    assert d.code == "E001" and any("`//` at line 3, column 6 starts a comment" in n for n in d.notes)


def project_json() -> list[Path]:
    """The project's .json files: shipped (examples, the schema, the library) and the tests' own."""
    return sorted(path for folder in ("examples", "vibench", "tests") for path in (Path(ROOT) / folder).rglob("*.json")
                  if "node_modules" not in path.parts)


def test_every_json_file_of_the_project_reads_as_json_reads_it() -> None:
    """Shipped and test specs, the schema, reference data: what `json.loads` reads, the loader reads alike."""
    paths = project_json()
    assert Path(ROOT) / "examples" / "tiny_cnn.json" in paths
    for path in paths:
        text = path.read_text(encoding="utf-8")
        try:
            expected = json.loads(text)
        except json.JSONDecodeError:  # a broken spec (tests/broken/): its E001 is pinned where it lives
            continue
        assert load_text(text, path.name).data == expected, path


@pytest.mark.parametrize("value", [0, -1.5, 1e-05, 2.5e20, True, False, None, "a // b", "/* c */", [1, {"k": "v"}],
                                   "\U0001F600"])
def test_json_dumps_output_reads_back(value: Any) -> None:
    text = json.dumps({"v": value, "w": [value, value]}, indent=1)
    assert load_text(text, "d.json").data == {"v": value, "w": [value, value]}


# -- 3. underscores Python refuses ------------------------------------------------------------------------------


@pytest.mark.parametrize(("form", "read"), [("10_", "10"), ("1__0", "10"), ("0_", "0"), ("-0_", "0"),
                                            ("0x1_", "1"), ("1_.5", "1.5"), ("1.5_", "1.5"), ("!!int 1__0", "10")])
def test_an_underscore_python_refuses_is_e001(form: str, read: str) -> None:
    with pytest.raises(SpecError) as err:
        load_text(f"vibench: 1\nn: {form}\n")
    d = only(err)
    assert d.code == "E001" and where(d) == (2, 4) and "underscore" in d.message
    assert f"reads as {read}" in (d.found or "") and (d.hint or "").startswith(f"write {read}, or quote it")


@pytest.mark.parametrize(("form", "value"), [("1_000", 1000), ("0x_1", 1), ("0b1_0", 2), ("0_0", 0), ("+1_0", 10),
                                             ("1_0.5", 10.5), ("0x1F", 31)])
def test_underscores_python_reads_read_as_python_reads_them(form: str, value: Any) -> None:
    assert load_text(f"n: {form}\n").data["n"] == value


def test_a_lenient_read_lists_the_number_with_pyyamls_value() -> None:
    doc = load_text("a: 10_\nb: 10_\n", lenient_keys=True)
    assert doc.data == {"a": 10, "b": 10}
    assert [(pos.line, code, d.code) for pos, code, d in doc.numbers] == [(1, "E001", "E001"), (2, "E001", "E001")]


@pytest.mark.parametrize("form", ["10_", "1__0", "0_"])
def test_an_underscore_python_refuses_in_set_is_a_usage_error(form: str) -> None:
    with pytest.raises(UsageError, match="underscore"):
        _parse_sets([f"n={form}"])


# -- 4. a reference with nothing before `#` ----------------------------------------------------------------------


def test_a_reference_with_no_file_before_the_hash_says_so() -> None:
    text = 'vibench: 1\nname: T\ninputs: {x: {shape: [B, 4]}}\nnodes: {s: {block: "#Residual", in: x}}\n' \
           "outputs: {y: s}\n"
    with pytest.raises(SpecError) as err:
        vibench.check(text=text)
    d = only(err)
    assert d.code == "E205" and "names no spec file before `#`" in d.message and where(d) == (4, 20)
    assert "`Residual`" in (d.hint or "") and "``" not in d.message


# -- 5. a removed working folder ---------------------------------------------------------------------------------


@pytest.fixture
def removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The working folder, removed (a shell still in a deleted folder); a spec `c4.yaml` beside it."""
    (tmp_path / "c4.yaml").write_text(f"vibench: 1\nname: C4\n{BODY}", encoding="utf-8")
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    assert working_folder() == NO_WORKING_FOLDER
    return tmp_path


def test_the_cli_says_the_working_folder_no_longer_exists(removed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["c4.yaml", "--check"]) == 2
    err = capsys.readouterr().err
    assert "working folder no longer exists" in err and "no such spec file" not in err


@pytest.mark.parametrize("folder", [".", "../lib"])
def test_a_relative_spec_path_folder_in_a_removed_folder_is_a_usage_error(
        removed: Path, capsys: pytest.CaptureFixture[str], folder: str) -> None:
    assert cli.main([str(removed / "c4.yaml"), "--check", "-I", folder]) == 2
    err = capsys.readouterr().err
    assert f"--spec-path {folder}: the working folder no longer exists" in err


def test_a_relative_search_folder_in_a_removed_folder_is_a_value_error(removed: Path) -> None:
    with pytest.raises(ValueError, match="working folder no longer exists"):
        distinct_folders(["."])
    with pytest.raises(ValueError, match="working folder no longer exists"):
        vibench.check(str(removed / "c4.yaml"), search_path=["."])
    assert distinct_folders([str(removed), str(removed)]) == [str(removed)]


def test_naming_a_nodes_values_needs_no_working_folder(removed: Path) -> None:
    from vibench.compiler.names import _block
    from vibench.compiler.resolve import Library

    assert _block("lib.yaml#B", {}, Library(), None) is None  # was os.getcwd(): FileNotFoundError


def test_a_json_key_too_long_for_yaml_is_still_the_syntax_error_that_says_so() -> None:
    """libyaml reads an over-long key as a key with an empty value, then refuses the `:`: not "a value is missing"."""
    with pytest.raises(SpecError) as err:
        load_text('{"' + "a" * 1100 + '": 1}', "k.json")
    d = only(err)
    assert d.code == "E001" and d.message.startswith("YAML syntax error") and any("1,024" in n for n in d.notes)
