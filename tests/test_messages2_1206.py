"""Messages and refusals that today's fixes got wrong (found by a QA helper).

1. `schema -I . -o .vscode/vibench.schema.json` refused its second run: its own previous output counted as a
   template it reads; and the refusal said "this compile reads" for a command that compiles nothing.
2. A local composite block's parameter named after a `vibench.build` option (`text`) was E106: only the root
   spec's parameters are build()'s keywords.
3. An odd slot value (`.`, empty, `.hidden`) got the hint to add `isfm/backbone/..yaml`.
4. A bare `blocks:`, `let:`, `checks:` or `params:` was "wrong type ... found: null None".
5. A dangling symbolic link or a link loop named by `extends:` was an unknown spec with a did-you-mean.
6. `clip` could end inside a backslash escape (`\\` of `\\n`, `\\x...`).
7. The editor schema flagged a full spec's bare `with:` (null), which the compiler accepts.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import vibench
from tests.helpers import ROOT
from vibench.compiler import cli
from vibench.compiler.diagnostics import clip

SPEC = """\
vibench: 1
name: A
inputs: {x: {shape: [B, 8]}}
nodes: {lin: {block: linear, in: x, out_features: 4}}
outputs: {y: lin}
"""


def _error(spec: Path, **kw: object) -> vibench.Diagnostic:
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(str(spec), **kw)  # type: ignore[arg-type]
    (d,) = err.value.diagnostics
    return d


# -- 1. schema -o over its own previous output ------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VIBENCH_SPEC_PATH", raising=False)
    (tmp_path / "fam").mkdir()
    (tmp_path / "fam" / "T.yaml").write_text(SPEC)
    (tmp_path / ".vscode").mkdir()
    return tmp_path


@pytest.mark.parametrize("output", [".vscode/vibench.schema.json", "vibench.schema.json"])
def test_schema_rewrites_its_own_output_on_the_spec_path(project: Path, output: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["schema", "-I", ".", "-o", output]) == cli.EXIT_OK
    assert cli.main(["schema", "-I", ".", "-o", output]) == cli.EXIT_OK  # usage error: a file this compile reads
    assert "usage error" not in capsys.readouterr().err
    schema = (project / output).read_text()
    assert json.loads(schema)["$id"].startswith("https://vibench.dev/schemas/")
    # the previous output is not listed as a template either (`extends: vibench.schema` was offered, invalid)
    assert '"fam/T"' in schema and '"vibench.schema"' not in schema and ".vscode/" not in schema


def test_schema_still_refuses_a_template_and_says_the_schema_reads_it(project: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    before = (project / "fam" / "T.yaml").read_text()
    assert cli.main(["schema", "-I", ".", "-o", "fam/T.yaml"]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "-o fam/T.yaml is a file the schema reads" in err and "this compile" not in err
    assert (project / "fam" / "T.yaml").read_text() == before


# -- 2. build()'s option names: the root's parameters only ------------------------------------------


def _composite(param: str) -> str:
    return SPEC.replace("nodes: {lin: {block: linear, in: x, out_features: 4}}", (
        "blocks:\n"
        "  Lin:\n"
        f"    params: {{{param}: {{type: int, default: 4}}}}\n"
        "    inputs: {x: {shape: [B, 8]}}\n"
        f"    nodes: {{lin: {{block: linear, in: x, out_features: '${{{param}}}'}}}}\n"
        "    outputs: {y: lin}\n"
        "nodes: {lin: {block: Lin, in: x}}"))


@pytest.mark.parametrize("param", ["text", "inputs", "max_nodes"])
def test_a_composite_parameter_may_be_named_like_a_build_option(tmp_path: Path, param: str) -> None:
    spec = tmp_path / "a.yaml"
    spec.write_text(_composite(param))
    vibench.check(str(spec))  # E106: parameter name `text` is reserved


def test_a_root_parameter_named_like_a_build_option_is_still_reserved(tmp_path: Path) -> None:
    spec = tmp_path / "a.yaml"
    spec.write_text(SPEC + "params: {text: {type: int, default: 4}}\n")
    d = _error(spec)
    assert d.code == "E106" and "build" in (d.found or "")


# -- 3. no file hint for an odd slot value -----------------------------------------------------------


@pytest.mark.parametrize("value", [".", "", ".hidden", "-x", "a b"])
def test_an_odd_slot_value_gets_no_file_hint(value: str) -> None:
    with pytest.raises(vibench.SpecError) as err:
        vibench.check("isfm/M_01_ISFM", params={"backbone": value})
    (d,) = err.value.diagnostics
    assert d.code == "E214"
    assert ".yaml" not in (d.hint or "") and "--spec-path" not in (d.hint or "")
    assert "a slot value is a component's name" in (d.hint or "")


def test_a_new_component_name_still_gets_the_file_hint() -> None:
    with pytest.raises(vibench.SpecError) as err:
        vibench.check("isfm/M_01_ISFM", params={"backbone": "New_one"})
    assert err.value.diagnostics[0].hint == "add `isfm/backbone/New_one.yaml` to a `search_path=` folder"


# -- 4. a bare blocks: / let: / checks: / params: -----------------------------------------------------


@pytest.mark.parametrize("key, takes", [("blocks", "mapping of composite block"), ("let", "mapping of names"),
                                        ("checks", "list of checks"), ("params", "mapping of parameter")])
def test_a_bare_key_is_empty_not_the_wrong_type(tmp_path: Path, key: str, takes: str) -> None:
    spec = tmp_path / "a.yaml"
    spec.write_text(SPEC + f"{key}:\n")
    d = _error(spec)
    assert d.code == "E102" and d.message == f"`{key}` is empty (null)"
    assert d.found == "null" and takes in (d.expected or "")


def test_null_is_shown_once_in_a_wrong_type(tmp_path: Path) -> None:
    spec = tmp_path / "a.yaml"
    spec.write_text(SPEC.replace("{x: {shape: [B, 8]}}", "{x: null}"))
    d = _error(spec)
    assert d.code == "E102" and d.found == "null"  # null None


# -- 5. a broken link, a link loop ---------------------------------------------------------------------


def test_a_dangling_link_is_said_to_be_broken(tmp_path: Path) -> None:
    (tmp_path / "dang.yaml").symlink_to(tmp_path / "missing.yaml")
    spec = tmp_path / "x.yaml"
    spec.write_text("vibench: 1\nextends: dang\n")
    d = _error(spec)  # E205 unknown spec `dang`, did you mean ...
    assert d.code == "E004" and "is a broken symbolic link" in d.message and "did you mean" not in (d.hint or "")


def test_a_link_loop_is_said_to_be_one(tmp_path: Path) -> None:
    (tmp_path / "loop1.yaml").symlink_to(tmp_path / "loop2.yaml")
    (tmp_path / "loop2.yaml").symlink_to(tmp_path / "loop1.yaml")
    spec = tmp_path / "x.yaml"
    spec.write_text("vibench: 1\nextends: loop1\n")
    d = _error(spec)  # did you mean `loop2`?
    assert d.code == "E004" and "is a symbolic link loop" in d.message and "loop2" not in (d.hint or "")


# -- 6. clip never ends inside an escape ---------------------------------------------------------------


@pytest.mark.parametrize("text, limit", [
    ("a" * 199 + "\n" + "b" * 10, 200),
    (repr("a" * 77 + "\x01\x02"), 80),
    (repr("a" * 74 + "\u0378\x01"), 80),
    (repr("a" * 70 + "\U000e0001"), 80),
    ("a" * 79 + "\\\\" + "b" * 5, 80),
])
def test_clip_cuts_before_an_escape(text: str, limit: int) -> None:
    out = clip(text, limit)
    kept = out.rpartition("... (")[0]
    assert kept and not kept.endswith("\\")
    trailing = kept.rpartition("\\")[2]
    assert not kept.count("\\") or trailing[:1] in "nrtx\\uU'\"" and len(trailing) >= {
        "x": 3, "u": 5, "U": 9}.get(trailing[:1], 1)
    more = int(out.rpartition("(")[2].split()[0].replace(",", ""))
    assert len(kept) + more == len(text.replace("\n", "\\n"))


# -- 7. the editor schema takes a full spec's bare with: -----------------------------------------------


def test_schema_accepts_a_bare_with_in_a_full_spec(tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    spec = tmp_path / "a.yaml"
    spec.write_text(SPEC + "with:\n")
    vibench.check(str(spec))
    schema = json.loads((Path(ROOT) / "vibench" / "schemas" / "spec.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    assert not list(validator.iter_errors(yaml.safe_load(spec.read_text())))
    assert list(validator.iter_errors({**yaml.safe_load(SPEC), "with": {"a": 1}}))  # values still refused
