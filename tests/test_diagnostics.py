"""The broken-spec corpus: every error code, its position, its message, through the API and the CLI.

Each file in ``tests/broken/`` (sub-folders included) whose header holds ``# expect:`` lines is one
case. The header is the file's leading comment block:

    # expect: E301 at 14:9                  a diagnostic: code and line:col in this file
    # expect: E206 at second.yaml:3:10      ... or in another file (the end of its path)
    # expect-message: shape mismatch        substrings of the preceding diagnostic's message,
    # expect-expected: [B, 64]              expected, found, hint or one of its notes
    # expect-found: [B, 512, 1]
    # expect-hint: did you mean
    # expect-note: `pool` gives [B, 64, 1]
    # set: num_classes=3                    run with --set (params= for the API)
    # input: x=2,1,64                       run with --input (inputs= for the API)

A case passes when the compiler reports exactly the expected diagnostics (codes and positions,
as a multiset) and each expectation's texts appear in its diagnostic; the CLI exits 1, draws a
caret under each position and prints no traceback, and ``--format json`` carries the same
diagnostics with file, line and column. Files without ``# expect:`` are helpers that cases use.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

import vibench
from vibench.compiler import cli, load
from vibench.compiler.diagnostics import Diagnostic, SpecError
from vibench.compiler.pipeline import compile_program

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "broken"
ROOT = HERE.parent
ERRORS_DOC = ROOT / "docs" / "errors.md"

# Codes that no corpus file can trigger, and the test that covers each instead.
COVERED_ELSEWHERE = {
    "E004": "test_unreadable_file_api / test_unreadable_file_cli (a corpus file is readable by definition)",
    "E114": "tests/test_plugin_failures.py (a corpus file cannot install the failing plug-in it needs)",
}


# --------------------------------------------------------------------------------------------
# The corpus and its headers
# --------------------------------------------------------------------------------------------


@dataclass
class Expect:
    code: str
    file: str | None  # None: the case's own file
    line: int
    col: int
    texts: list[tuple[str, str]] = field(default_factory=list)  # (field, substring)


@dataclass
class Case:
    path: Path
    expects: list[Expect]
    sets: list[tuple[str, str]]
    inputs: list[tuple[str, str]]

    @property
    def id(self) -> str:
        return self.path.relative_to(CORPUS).as_posix()

    def cli_args(self) -> list[str]:
        args = [str(self.path), "--check"]
        for key, value in self.sets:
            args += ["--set", f"{key}={value}"]
        for name, dims in self.inputs:
            args += ["--input", f"{name}={dims}"]
        return args

    def api_kwargs(self) -> dict:
        kwargs: dict = {}
        if self.sets:
            kwargs["params"] = {k: yaml.safe_load(v) for k, v in self.sets}
        if self.inputs:
            kwargs["inputs"] = {n: tuple(int(d) for d in dims.split(",")) for n, dims in self.inputs}
        return kwargs


_EXPECT = re.compile(r"#\s*expect:\s*(E\d{3})\s+at\s+(?:(\S+):)?(\d+):(\d+)\s*$")
_DETAIL = re.compile(r"#\s*expect-(message|expected|found|hint|note):\s*(.+?)\s*$")
_SET = re.compile(r"#\s*set:\s*([^=\s]+)=(.*?)\s*$")
_INPUT = re.compile(r"#\s*input:\s*([^=\s]+)=(\S+)\s*$")


def parse_case(path: Path) -> Case | None:
    """The case a corpus file describes, or None for a helper file (no ``# expect:`` line)."""
    text = path.read_bytes().decode("utf-8", errors="replace")
    expects: list[Expect] = []
    sets: list[tuple[str, str]] = []
    inputs: list[tuple[str, str]] = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        if m := _EXPECT.match(line):
            expects.append(Expect(m[1], m[2], int(m[3]), int(m[4])))
        elif m := _DETAIL.match(line):
            assert expects, f"{path}: `{line}` comes before any `# expect:` line"
            expects[-1].texts.append((m[1], m[2]))
        elif m := _SET.match(line):
            sets.append((m[1], m[2]))
        elif m := _INPUT.match(line):
            inputs.append((m[1], m[2]))
        else:
            assert not re.match(r"#\s*(expect[\w-]*|set|input)\s*:", line), f"{path}: malformed header line `{line}`"
    return Case(path, expects, sets, inputs) if expects else None


def corpus() -> list[Case]:
    paths = sorted(p for p in CORPUS.rglob("*") if p.suffix in (".yaml", ".yml", ".json"))
    return [case for case in map(parse_case, paths) if case is not None]


CASES = corpus()


def test_corpus_is_not_empty() -> None:
    assert len(CASES) >= 60
    assert any(len(c.expects) > 1 for c in CASES), "the corpus proves that several errors are reported together"


# --------------------------------------------------------------------------------------------
# Matching diagnostics against expectations
# --------------------------------------------------------------------------------------------


def _same_file(case: Case, expect_file: str | None, actual: str) -> bool:
    actual = actual.replace(os.sep, "/")
    if expect_file is None:
        return Path(actual).resolve() == case.path
    return actual == expect_file or actual.endswith("/" + expect_file)


def in_python(text: str) -> str:
    """An expected message of the CLI as the Python API words it (``inputs['x']`` for ``--input x``)."""
    text = text.replace("--input names", "`inputs` names").replace("--input binds", "the inputs bind")
    text = text.replace("--spec-path", "`search_path=`")  # E205's hint: a folder to add to the search path
    text = re.sub(r"--input (\w+)=([^ `]+)", lambda m: f"inputs={{'{m[1]}': ({m[2].replace(',', ', ')})}}", text)
    return re.sub(r"--input (\w+)", r"inputs['\1']", text)


def check_against(case: Case, found: list[dict], api: bool = False) -> None:
    """``found``: one dict per diagnostic with code, file, line, column and the texts (``api``: as
    the Python API words them)."""
    if api:
        case = replace(case, expects=[replace(e, texts=[(f, in_python(t)) for f, t in e.texts]) for e in case.expects])
    for d in found:
        assert "file" in d and "line" in d and "column" in d, f"{case.id}: diagnostic without a position: {d}"
    remaining = list(found)
    unmatched = []
    for e in case.expects:
        match = None
        for d in remaining:
            if d["code"] == e.code and d["line"] == e.line and d["column"] == e.col \
                    and _same_file(case, e.file, d["file"]) and all(_has_text(d, f, t) for f, t in e.texts):
                match = d
                break
        if match is None:
            unmatched.append(e)
        else:
            remaining.remove(match)
    shown = "\n".join(f"  {d['code']} at {d['file']}:{d['line']}:{d['column']}: {d['message']} "
                      f"| expected={d.get('expected')} found={d.get('found')} hint={d.get('hint')} "
                      f"notes={d.get('notes')}" for d in found)
    remaining = [d for d in remaining if d.get("severity", "error") == "error"]  # warnings may come along
    assert not unmatched and not remaining, (
        f"{case.id}: expected {[(e.code, e.line, e.col, e.texts) for e in unmatched]} not matched; "
        f"unexpected {[(d['code'], d['line'], d['column']) for d in remaining]}; the compiler said:\n{shown}")


def _has_text(d: dict, what: str, text: str) -> bool:
    if what == "note":
        return any(text in n for n in d.get("notes", []))
    return text in (d.get(what) or "")


# --------------------------------------------------------------------------------------------
# The corpus through the API, the CLI's text output and its JSON output
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_api_reports_expected_diagnostics(case: Case) -> None:
    with pytest.raises(SpecError) as info:
        vibench.check(str(case.path), **case.api_kwargs())
    error = info.value
    assert all(isinstance(d, Diagnostic) for d in error.diagnostics)
    check_against(case, [d.to_json() for d in error.diagnostics], api=True)
    # The rendered text draws every diagnostic with its source line and a caret.
    text = error.render()
    assert str(error) == text
    for d in error.diagnostics:
        _assert_caret(text, d.pos.file, d.pos.line, d.pos.col, error.sources)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_cli_text_output(case: Case, capsys: pytest.CaptureFixture[str]) -> None:
    rc = cli.main(case.cli_args())
    out, err = capsys.readouterr()
    assert rc == cli.EXIT_SPEC, f"{case.id}: exit {rc}\n{err}"
    assert out == ""
    assert "Traceback" not in err and "internal error" not in err
    n = len(case.expects)
    assert f"{n} error{'s' if n != 1 else ''} in " in err
    headers = re.findall(r"^error\[(E\d{3})\]: .+$", err, flags=re.M)
    assert sorted(headers) == sorted(e.code for e in case.expects)
    sources = _sources(err)
    for e in case.expects:
        file = next(f for f in sources if _same_file(case, e.file, f))
        _assert_caret(err, file, e.line, e.col, {file: _read(case, file)})


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_cli_json_output(case: Case, capsys: pytest.CaptureFixture[str]) -> None:
    rc = cli.main(case.cli_args() + ["--format", "json"])
    out, err = capsys.readouterr()
    assert rc == cli.EXIT_SPEC, f"{case.id}: exit {rc}\n{err}"
    assert "Traceback" not in err
    report = json.loads(out)
    assert report["ok"] is False
    for d in report["diagnostics"]:
        assert re.fullmatch(r"[EW]\d{3}", d["code"]) and d["severity"] in ("error", "warning") and d["message"]
        assert isinstance(d["file"], str) and isinstance(d["line"], int) and isinstance(d["column"], int)
        assert d["line"] >= 1 and d["column"] >= 1
    check_against(case, report["diagnostics"])


@pytest.mark.parametrize("line", [7, 42, 170])
def test_arrow_bars_and_notes_line_up_whatever_the_line_number_width(line: int) -> None:
    """As rustc draws it: the bars and the `=` notes stand in the column after the line number's width,
    the arrow's `-->` starts one column to their left."""
    from vibench.compiler.ir import Pos

    text = "\n".join(f"k{n}: {n}" for n in range(1, 200))
    d = Diagnostic("E301", "shapes differ", Pos("s.yaml", line, 5), expected="4", found="3", hint="fix it",
                   notes=("one note",))
    rendered = d.render({"s.yaml": text}).splitlines()
    width = len(str(line))
    assert rendered[1] == " " * width + f"--> s.yaml:{line}:5"
    assert rendered[3] == f"{line} | k{line}: {line}"
    columns = {r.index(mark) for r in rendered[2:] for mark in ("|", "=") if r.lstrip().startswith(mark)}
    assert columns == {width + 1}, "\n".join(rendered)
    assert [r.strip()[:6] for r in rendered[-3:]] == ["= foun", "= note", "= hint"]
    # without the source text: the arrow and the notes keep the same column
    bare = Diagnostic("E301", "shapes differ", Pos("s.yaml", line, 5), found="3").render({}).splitlines()
    assert bare[1:] == [" " * width + f"--> s.yaml:{line}:5", " " * width + " = found: 3"]


def _sources(rendered: str) -> list[str]:
    return sorted({m[1] for m in re.finditer(r"^ *--> (.+):\d+:\d+$", rendered, flags=re.M)})


def _read(case: Case, file: str) -> str:
    path = Path(file)
    if not path.is_absolute():
        path = Path.cwd() / path
    return path.read_bytes().decode("utf-8", errors="replace")


def _assert_caret(rendered: str, file: str, line: int, col: int, sources: dict[str, str]) -> None:
    """The block for ``file:line:col`` shows the source line and a caret under column ``col``."""
    lines = rendered.splitlines()
    gutter = " " * len(str(line))
    arrow = f"{gutter}--> {file}:{line}:{col}"
    assert arrow in lines, f"no `{arrow}` in:\n{rendered}"
    k = lines.index(arrow)
    src_lines = sources[file].splitlines() + [""]
    src = src_lines[line - 1].expandtabs(1)
    assert lines[k + 1] == f"{gutter} |"
    assert lines[k + 2] == f"{line} | {src}"
    caret_line = lines[k + 3]
    assert caret_line.startswith(f"{gutter} | ")
    carets = caret_line[len(gutter) + 3:]
    assert carets.index("^") == col - 1, f"caret not under column {col}:\n" + "\n".join(lines[k:k + 4])


# --------------------------------------------------------------------------------------------
# Coverage: every code is documented and triggered
# --------------------------------------------------------------------------------------------


def _codes_in_source() -> set[str]:
    codes: set[str] = set()
    for path in (ROOT / "vibench").rglob("*.py"):
        codes |= set(re.findall(r"\"(E\d{3})\"", path.read_text(encoding="utf-8")))
    return codes


def test_every_code_is_documented_and_triggered() -> None:
    codes = _codes_in_source()
    assert len(codes) >= 35, sorted(codes)
    doc = ERRORS_DOC.read_text(encoding="utf-8")
    documented = set(re.findall(r"^## (E\d{3})\b", doc, flags=re.M))
    assert not codes - documented, f"codes without a section in docs/errors.md: {sorted(codes - documented)}"
    assert not documented - codes, f"docs/errors.md documents codes nothing emits: {sorted(documented - codes)}"
    triggered = {e.code for case in CASES for e in case.expects}
    untested = codes - triggered - set(COVERED_ELSEWHERE)
    assert not untested, f"codes no corpus file triggers: {sorted(untested)}"


def _doc_sections() -> list[tuple[str, str]]:
    doc = ERRORS_DOC.read_text(encoding="utf-8")
    sections = re.split(r"^## ", doc, flags=re.M)[1:]
    return [(section[:4], section) for section in sections if section.startswith("E")]  # W-codes: warnings


def test_errors_doc_sections_are_complete() -> None:
    """Each section says what the code means, shows an example and a message, and how to fix it."""
    sections = _doc_sections()
    assert [code for code, _ in sections] == sorted(code for code, _ in sections), "sections out of order"
    for code, section in sections:
        example = "```console" if code in COVERED_ELSEWHERE else "```yaml"
        for part in (example, "error[" + code + "]", "**Fix:**"):
            assert part in section, f"docs/errors.md section {code} lacks {part!r}"


@pytest.mark.parametrize("code", [code for code, _ in _doc_sections() if code not in COVERED_ELSEWHERE])
def test_errors_doc_example_reports_its_code(code: str) -> None:
    """The section's YAML example really produces its code and the message shown next to it.

    ``# $ vibench-compile spec.yaml --set K=V --input N=DIMS`` in an example gives its flags.
    """
    section = dict(_doc_sections())[code]
    example = re.search(r"```yaml\n(.*?)```", section, flags=re.S)[1]
    shown = re.search(r"^error\[" + code + r"\]: (.+)$", section, flags=re.M)[1]
    params, inputs, shown_sets = {}, {}, []
    if m := re.search(r"^# \$ vibench-compile spec\.yaml (.+)$", example, flags=re.M):
        args = m[1].split()
        for flag, value in zip(args, args[1:], strict=False):
            key, _, text = value.partition("=")
            if flag == "--set":
                params[key] = yaml.safe_load(text)
                shown_sets.append((key, text))
            elif flag == "--input":
                inputs[key] = tuple(int(d) for d in text.split(","))
    with pytest.raises(SpecError) as info:  # as the command line compiles it (values named as --set's)
        compile_program(text=example, params=params or None, inputs=inputs or None, overrides_text=shown_sets)
    messages = [d.render().splitlines()[0] for d in info.value.diagnostics if d.code == code]
    assert f"error[{code}]: {shown}" in messages, f"{code}: the compiler says {info.value.render()}"


def _doc_examples() -> list:
    """(section, YAML example, the output block shown right after it) for every section of docs/errors.md,
    warnings' included, whose example the compiler runs."""
    doc = ERRORS_DOC.read_text(encoding="utf-8")
    examples = []
    for section in re.split(r"^## ", doc, flags=re.M)[1:]:
        if m := re.search(r"```yaml\n(.*?)```\s*```(?:text|console)\n(.*?)```", section, flags=re.S):
            title = section.split(" ", 1)[0].rstrip(",")
            examples.append(pytest.param(title, m[1], m[2], id=title))
    return examples


@pytest.mark.parametrize(("title", "example", "shown"), _doc_examples())
def test_errors_doc_example_prints_every_line_it_shows(title: str, example: str, shown: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Each line of the output a section shows is printed by `vibench-compile spec.yaml --check`, in that order
    (the block may leave lines out: a console block shows the diagnostic alone). Comparing first lines only let
    E309's hint go stale."""
    args = ["spec.yaml", "--check"]
    if m := re.search(r"^# \$ vibench-compile spec\.yaml (.+)$", example, flags=re.M):
        args += [arg for arg in shlex.split(m[1]) if arg != "--check"]
    (tmp_path / "spec.yaml").write_text(example, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    cli.main(args)
    printed = [line.rstrip() for line in capsys.readouterr().err.splitlines() if line.strip()]
    at = 0
    for line in (line.rstrip() for line in shown.splitlines() if line.strip()):
        assert line in printed[at:], f"{title}: docs/errors.md shows\n{line}\nwhich vibench-compile does not " \
            "print (after the lines before it):\n" + "\n".join(printed)
        at = printed.index(line, at) + 1


# --------------------------------------------------------------------------------------------
# Errors outside the corpus: unreadable files, size limits, usage errors, atomic output
# --------------------------------------------------------------------------------------------


def test_unreadable_file_api(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        vibench.check(str(tmp_path / "missing.yaml"))
    (d,) = info.value.diagnostics
    assert d.code == "E004" and "missing.yaml" in (d.found or "")


def _refuse_open(*args: object, **kwargs: object) -> None:
    raise PermissionError(13, "Permission denied")


def test_unreadable_file_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "locked.yaml"
    spec.write_text("vibench: 1\n", encoding="utf-8")
    # Permissions do not stop root, so the loader's `open` is made to refuse instead.
    monkeypatch.setattr(load, "open", _refuse_open, raising=False)
    assert cli.main([str(spec), "--check"]) == cli.EXIT_SPEC
    out, err = capsys.readouterr()
    assert "error[E004]: cannot read spec file: Permission denied" in err and "Traceback" not in err
    assert cli.main([str(spec), "--check", "--format", "json"]) == cli.EXIT_SPEC
    (d,) = json.loads(capsys.readouterr().out)["diagnostics"]
    assert d["code"] == "E004" and d["found"].endswith("locked.yaml")


def test_file_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = tmp_path / "big.yaml"
    spec.write_text("vibench: 1\nname: Big\ndoc: " + "x" * 200 + "\n", encoding="utf-8")
    monkeypatch.setattr(load, "MAX_BYTES", 100)
    with pytest.raises(SpecError) as info:
        vibench.check(str(spec))
    assert info.value.codes == ["E002"]
    with pytest.raises(SpecError) as info:
        vibench.check(text=spec.read_text(encoding="utf-8"))
    assert info.value.codes == ["E002"]


USAGE_ERRORS = {
    "missing file": (["does/not/exist.yaml", "--check"], "no such spec file"),
    # a flooding name is cut in the middle (its start and the file's own name stay in view), to 240 characters
    "missing file, a long name": (["c" * 5000 + ".yaml", "--check"],
                                  "no such spec file: " + "c" * 80 + "..." + "c" * 152 + ".yaml\n"),
    "folder": ([".", "--check"], "is a folder"),
    # a template name that leaves the library folder is not looked up there (vibench.check does the same)
    "library name with ..": (["../specs/cnn/ResNet1D", "--check"], "no such spec file"),
    "no spec": (["--check"], "no spec given"),
    "set without =": (["{spec}", "--check", "--set", "num_classes"], "--set expects KEY=VALUE"),
    "set unreadable value": (["{spec}", "--check", "--set", "layers=[1, 2"], "cannot read"),
    "set recursive value": (["{spec}", "--check", "--set", "layers=&a [*a]"], "refers to itself"),
    "set python tag": (["{spec}", "--check", "--set", "layers=!!python/object:os.system x"], "cannot read"),
    "input without =": (["{spec}", "--check", "--input", "x"], "--input expects NAME=DIMS"),
    "input not integers": (["{spec}", "--check", "--input", "x=2,one,64"], "must be integers"),
    "input not positive": (["{spec}", "--check", "--input", "x=2,0,64"], "positive"),
    "input empty field": (["{spec}", "--check", "--input", "x=2,,64"], "a dimension is missing (an empty field)"),
    "input trailing comma": (["{spec}", "--check", "--input", "x=2,1,"], "a dimension is missing"),
    "check with output": (["{spec}", "--check", "-o", "{tmp}/out.py"], "--check writes nothing"),
    "unknown flag": (["{spec}", "--chek"], "unrecognized arguments"),
    "bad format": (["{spec}", "--check", "--format", "xml"], "invalid choice"),
    "output folder missing": (["{spec}", "-o", "{tmp}/no/such/dir/out.py"], "does not exist"),
    "spec path missing": (["cnn/ResNet1D", "--check", "--spec-path", "{tmp}/specz"], "/specz: no such folder"),
    "spec path a file": (["{spec}", "--check", "-I", "{spec}"], "good.yaml: not a folder"),
    "spec path of --list": (["--list", "cnn/ResNet1D", "-I", "{tmp}/specz"], "no such folder"),
    "spec path of schema": (["schema", "-I", "{tmp}/specz"], "no such folder"),
    "weights folder": (["{spec}", "-o", "{tmp}/m.py", "--weights", "{tmp}"], "is a folder, not a checkpoint file"),
    "empty output": (["{spec}", "-o", ""], "-o names no file"),
}

GOOD_SPEC = """\
vibench: 1
name: Good
params: {num_classes: 4}
inputs: {x: {shape: [B, 1, L]}}
nodes:
  conv: {block: conv1d, in: x, out_channels: 4, kernel_size: 3, padding: 1}
  pool: {block: adaptive_avg_pool1d, in: conv, output_size: 1}
  flat: {block: flatten, in: pool}
  fc: {block: linear, in: flat, out_features: "${num_classes}"}
outputs: {logits: fc}
"""


@pytest.mark.parametrize("name", sorted(USAGE_ERRORS))
def test_usage_errors_exit_2(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "good.yaml"
    spec.write_text(GOOD_SPEC, encoding="utf-8")
    args, message = USAGE_ERRORS[name]
    argv = [a.replace("{spec}", str(spec)).replace("{tmp}", str(tmp_path)) for a in args]
    rc = cli.main(argv)
    out, err = capsys.readouterr()
    assert rc == cli.EXIT_USAGE, err
    assert "usage error" in err and message in err, err
    assert "Traceback" not in err and "internal error" not in err


def test_good_spec_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "good.yaml"
    spec.write_text(GOOD_SPEC, encoding="utf-8")
    assert cli.main([str(spec), "--check", "--input", "x=2,1,64"]) == cli.EXIT_OK
    assert "ok: Good" in capsys.readouterr().out


def test_failed_compile_leaves_output_untouched(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.py"
    previous = b"# the previous model.py\r\nimport torch\n\x00 bytes kept as they are\n"
    out.write_bytes(previous)
    for broken in ("e301_shape_mismatch.yaml", "e001_unclosed_bracket.yaml", "e110_unknown_block.yaml"):
        assert cli.main([str(CORPUS / broken), "-o", str(out)]) == cli.EXIT_SPEC
        assert out.read_bytes() == previous
    assert cli.main([str(CORPUS / "e110_unknown_block.yaml"), "-o", str(out), "--format", "json"]) == cli.EXIT_SPEC
    assert out.read_bytes() == previous
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.py"], "a temporary file was left behind"
    capsys.readouterr()


def test_spec_error_in_text_mode_names_the_file(capsys: pytest.CaptureFixture[str]) -> None:
    rc = cli.main([str(CORPUS / "multi_validation.yaml"), "--check"])
    err = capsys.readouterr().err
    assert rc == cli.EXIT_SPEC
    assert err.rstrip().endswith(f"4 errors in {CORPUS / 'multi_validation.yaml'}")


def test_set_values_are_located_at_declarations(capsys: pytest.CaptureFixture[str]) -> None:
    """A bad --set value has no place in the file: the error points at the parameter's declaration."""
    spec = CORPUS / "e208_param_out_of_bounds.yaml"
    with pytest.raises(SpecError) as info:
        vibench.check(str(spec), params={"activation": 3})
    (d,) = info.value.diagnostics
    assert (d.code, d.pos.line, d.pos.col, d.expected, d.found) == ("E202", 10, 3, "str", "3 (an integer)")


# --------------------------------------------------------------------------------------------
# Mutated specs: a SpecError with positions, or success; never another exception
# --------------------------------------------------------------------------------------------

_BASES = [(ROOT / "examples" / "resnet18_1d.yaml").read_text(encoding="utf-8")] + [
    (CORPUS / name).read_text(encoding="utf-8")
    for name in ("e301_repeat_copy.yaml", "e208_block_param_bounds.yaml", "e402_cycle.yaml", "multi_shapes.yaml")
]
_TOKENS = ["x", "L", "B", "-1", "0", "[]", "{}", "${i}", "${L}", "${1 / 0}", "null", "true", '""', "in:", "block:",
           "repeat: 0", "when: false", "conv1d", "linear", "add", "flatten", "1e999", "${[1] * 3}", ":", "&a", "*a",
           "x.out", "BasicBlock", "999999999999", "int", "list[int]", "int64", "off", "'", "[", "{", "- x"]


@st.composite
def mutated_specs(draw: st.DrawFn) -> str:
    lines = draw(st.sampled_from(_BASES)).splitlines()
    for _ in range(draw(st.integers(1, 4))):
        k = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["delete", "word", "duplicate", "char"]))
        if op == "delete":
            del lines[k]
        elif op == "duplicate":
            lines.insert(k, lines[draw(st.integers(0, len(lines) - 1))])
        elif lines[k]:
            token = draw(st.sampled_from(_TOKENS))
            if op == "word":
                words = lines[k].split(" ")
                words[draw(st.integers(0, len(words) - 1))] = token
                lines[k] = " ".join(words)
            else:
                j = draw(st.integers(0, len(lines[k]) - 1))
                lines[k] = lines[k][:j] + token + lines[k][j + 1:]
        if not lines:
            lines = ["vibench: 1"]
    return "\n".join(lines) + "\n"


@given(mutated_specs(), st.booleans())
def test_mutated_specs_fail_cleanly(text: str, bind: bool) -> None:
    try:
        vibench.check(text=text, inputs={"x": (2, 1, 256)} if bind else None)
    except SpecError as err:
        assert err.diagnostics
        for d in err.diagnostics:
            assert re.fullmatch(r"E\d{3}", d.code)
            assert d.pos is not None and d.pos.line >= 1 and d.pos.col >= 1, d
        assert err.render()


API_INPUTS = [
    ({"x": (2, 0, 64)}, ValueError, r"inputs\['x'\]: sizes are positive integers, got \(2, 0, 64\)"),
    ({"x": (2, -1, 64)}, ValueError, "sizes are positive integers"),
    ({"x": (2, 1, 2**63)}, ValueError, r"inputs\['x'\]: sizes are at most 2\*\*62"),
    ({"x": (2.0, 1, 64)}, TypeError, r"inputs\['x'\]: sizes are integers, not float \(2.0\)"),
    ({"x": (True, 1, 64)}, TypeError, "not bool"),
    ({"x": "2,1,64"}, TypeError, r"inputs\['x'\] must be a tuple of sizes such as \(32, 1, 1024\), not str"),
    ({"x": None}, TypeError, "not NoneType"),
    ({"x": "tensor"}, TypeError, r"inputs\['x'\] takes the sizes, not a Tensor: pass its .shape"),
    ([("x", (2, 1, 64))], TypeError, "inputs must be a dict of input name -> sizes"),
    ({1: (2, 1, 64)}, TypeError, "an input name is a str, not int"),
]


@pytest.mark.parametrize(("inputs", "error", "message"), API_INPUTS)
def test_inputs_of_the_python_api_are_checked(inputs: object, error: type[Exception], message: str,
                                              tmp_path: Path) -> None:
    """vibench.check/build's ``inputs``: sizes, as the CLI's --input takes them (a string was read
    character by character, a tensor row by row, and zero or negative sizes were shape-checked)."""
    import torch

    if inputs == {"x": "tensor"}:
        inputs = {"x": torch.randn(2, 1, 64)}
    with pytest.raises(error, match=message):
        vibench.check(text=GOOD_SPEC, inputs=inputs)  # type: ignore[arg-type]


def test_sizes_of_the_python_api_may_be_any_integers_and_are_named_as_given() -> None:
    import numpy as np
    import torch

    for sizes in ((2, 1, 64), [2, 1, 64], torch.Size([2, 1, 64]), (np.int64(2), 1, torch.tensor(64))):
        assert vibench.check(text=GOOD_SPEC, inputs={"x": sizes}).bindings == (("B", 2), ("L", 64))
    with pytest.raises(SpecError, match=r"inputs\['x'\] has 2 dimensions, the input has 3"):
        vibench.check(text=GOOD_SPEC, inputs={"x": (2, 64)})
    with pytest.raises(SpecError, match=r"`inputs` names unknown input `y`"):
        vibench.check(text=GOOD_SPEC, inputs={"y": (2, 1, 64)})


def test_numpy_scalars_are_the_python_values_they_hold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`num_classes=labels.max() + 1` is an np.int64: the API reads it as the int it holds (it was
    E202, wrong type), also inside lists; arrays stay refused. build() keys its cache on the converted
    values, so np.int64(3) and 3 are one compiled model."""
    import numpy as np

    program = vibench.check("cnn/ResNet1D", params={"num_classes": np.int64(3), "layers": [np.int32(1)] * 4,
                                                     "layout": np.str_("BCL")})
    assert program.root.outputs[0][2].shape[1] == 3
    import torch  # `labels.max() + 1` of a tensor of labels is a 0-d tensor: read as the int it holds too

    program = vibench.check("cnn/ResNet1D", params={"num_classes": torch.tensor([0, 4]).max() + 1})
    assert program.root.outputs[0][2].shape[1] == 5
    with pytest.raises(SpecError, match="wrong type for parameter `num_classes`"):
        vibench.check("cnn/ResNet1D", params={"num_classes": torch.tensor([3, 4])})
    with pytest.raises(SpecError, match="wrong type for parameter `num_classes`"):
        vibench.check("cnn/ResNet1D", params={"num_classes": np.array([3, 4])})
    monkeypatch.setenv("VIBENCH_CACHE_DIR", str(tmp_path))
    assert type(vibench.build(text=GOOD_SPEC, num_classes=np.int64(7))) is type(vibench.build(text=GOOD_SPEC,
                                                                                               num_classes=7))


class _FullDisk:
    """A standard output on a full disk: every write fails with ENOSPC."""

    def write(self, text: str) -> int:
        import errno

        raise OSError(errno.ENOSPC, "No space left on device")

    def flush(self) -> None:
        pass


@pytest.mark.parametrize("argv", [["cnn/ResNet1D"], ["cnn/ResNet1D", "--check"], ["--list"], ["schema", "-o", "-"]])
def test_an_unwritable_standard_output_is_a_write_error(argv: list[str], monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Writing model.py (or a report) to a full disk was an internal error with a traceback; then a
    usage error pointing at --help, which cannot help: now the failure itself, exit 2."""
    capsys.readouterr()
    monkeypatch.setattr("sys.stdout", _FullDisk())
    assert cli.main(argv) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "vibench-compile: cannot write standard output: No space left on device" in err
    assert "Traceback" not in err and "internal error" not in err
    assert "usage error" not in err and "--help" not in err


def test_a_closed_standard_output_is_a_usage_error(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdout", None)  # what Python sets when started with `>&-`
    assert cli.main(["cnn/ResNet1D", "--check"]) == cli.EXIT_USAGE
    assert "cannot write standard output: it is closed" in capsys.readouterr().err


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"spec": 123}, "spec is a path or a template name such as 'cnn/ResNet1D', not int"),
    ({"text": b"vibench: 1"}, r"text is the spec's YAML or JSON as a str, not bytes: decode it first"),
    ({"spec": "cnn/ResNet1D", "params": [("num_classes", 3)]}, "params is a dict of parameter name -> value, not list"),
    ({"spec": "cnn/ResNet1D", "params": {1: 3}}, r"params: a parameter name is a str, not int \(1\)"),
    ({"spec": "cnn/ResNet1D", "params": {None: 3}}, r"params: a parameter name is a str, not NoneType \(None\)"),
    ({"spec": "cnn/ResNet1D", "search_path": [1]},
     r"search_path is a list of folders \(str or os.PathLike\), got \[1\]"),
    ({"spec": "cnn/ResNet1D", "metadata": 123},
     r"metadata is the path of PHM-Vibench's metadata table \(str or os.PathLike\), "
     r"or the DatasetMetadata .*, not int"),
])
def test_api_arguments_of_the_wrong_kind_are_named(kwargs: dict, message: str) -> None:
    """They were an AttributeError from inside the compiler (params, metadata), or a SpecError that
    failed to render (bytes text)."""
    with pytest.raises(TypeError, match=message):
        vibench.check(**kwargs)


def test_build_without_a_spec_says_so() -> None:
    with pytest.raises(TypeError, match="give a spec path or text"):  # it was a bare AssertionError
        vibench.build()


@pytest.mark.parametrize("folder", ["/nonexistent-vibench-folder", __file__])
def test_a_search_folder_that_is_not_one_is_named(folder: str) -> None:
    # As --spec-path refuses it: the API took it silently, and a template in the folder the user meant
    # was then "no such spec file or library template".
    for call in (vibench.check, vibench.build):
        with pytest.raises(ValueError, match=r"search_path: .* (does not exist|is not a folder)"):
            call("cnn/ResNet1D", search_path=[folder])


def test_a_path_object_and_a_lone_search_folder_are_taken() -> None:
    examples = ROOT / "examples"
    assert vibench.check(examples / "resnet18_1d.yaml").root.name == "ResNet18_1D"
    assert vibench.check("resnet18_1d", search_path=examples).root.name == "ResNet18_1D"
    assert vibench.check("resnet18_1d", search_path=str(examples)).root.name == "ResNet18_1D"


def test_the_caret_counts_terminal_columns_of_wide_characters() -> None:
    """A CJK character takes two terminal columns: the caret after `doc: 卷积层` stands under the key it
    names (it was three columns to the left), and one under a CJK name covers its width."""
    text = ("vibench: 1\nname: Wide\ninputs: {x: {shape: [B, 1, L]}}\nnodes:\n"
            "  conv: {block: conv1d, doc: 卷积层, in: x, out_channels: 4, kernel_size: 0}\noutputs: {y: conv}\n")
    with pytest.raises(SpecError) as info:
        vibench.check(text=text)
    lines = info.value.render().splitlines()
    source = next(line for line in lines if "kernel_size: 0" in line)
    caret = lines[lines.index(source) + 1]
    wide = source.index("kernel_size") + 3  # the three characters of 卷积层 take six columns
    assert caret.index("^") == wide and caret[wide:].startswith("^" * len("kernel_size") + " ")
    with pytest.raises(SpecError) as info:
        vibench.check(str(CORPUS / "e106_not_ascii.yaml"))
    assert "13 | name: 故障分类\n   |       ^^^^^^^^\n" in info.value.render()


@pytest.mark.parametrize(("text", "words", "never"), [
    ("vibench: 1\nname: A\ninputs: {x: {shape: [B, 4]}}\nblocks: {Z: not_a_block}\n"
     "nodes: {fc: {block: linear, in: x, out_features: 2}}\noutputs: {y: fc}\n", ["expected mapping"], "instance of"),
    ("vibench: 1\nname: A\nparams: {rows: {type: 'list[list[int]]', default: [[1, 2], [3, 4.5]]}}\n"
     "inputs: {x: {shape: [B, 4]}}\nnodes: {fc: {block: linear, in: x, out_features: 2}}\noutputs: {y: fc}\n",
     ["expected list[list[int]]: [1][1] is not an integer"], "Input should"),
    ("vibench: 1\nname: A\ninputs: {x: {shape: [B, 4, 6]}}\n"
     "nodes: {r: {block: rearrange, in: x, pattern: 'b c l -> b l c', sizes: 2}}\noutputs: {y: r}\n",
     ["mapping"], "dictionary"),
    ("vibench: 1\nname: A\ninputs: {x: {shape: 'B, 4'}}\nnodes: {fc: {block: linear, in: x, out_features: 2}}\n"
     "outputs: {y: fc}\n", ["expected list or `${...}`"], "should match pattern"),
])
def test_messages_speak_vibench_not_pydantic(text: str, words: list[str], never: str) -> None:
    """pydantic's own words (`Input should be a valid integer`, `dictionary or instance of BlockSpec`,
    `Value error, ...`) reached three kinds of message; they say what is expected in vibench's words."""
    with pytest.raises(SpecError) as info:
        vibench.check(text=text)
    rendered = info.value.render()
    for word in words:
        assert word in rendered, rendered
    assert never not in rendered and "Value error" not in rendered, rendered


def test_a_refused_override_says_where_its_value_came_from(capsys: pytest.CaptureFixture[str]) -> None:
    """A --set value or a Python keyword is reported at the parameter's declaration, with a note naming the
    command line or Python as the value's origin; a value written in the user's file needs no such note."""
    assert cli.main(["cnn/ResNet1D", "--set", "num_classes=0", "--check"]) == 1
    err = capsys.readouterr().err
    assert "error[E208]" in err
    assert "note: the value is the one given on the command line: `--set num_classes=...`" in err
    with pytest.raises(SpecError) as info:
        vibench.build("cnn/ResNet1D", num_classes=2.5)
    (diag,) = info.value.diagnostics
    assert diag.code == "E202" and any("`num_classes` as given in Python" in n for n in diag.notes)
    with pytest.raises(SpecError) as info:
        vibench.check(text="vibench: 1\nextends: cnn/ResNet1D\nwith: {num_classes: 0}\n")
    (diag,) = info.value.diagnostics
    assert diag.code == "E208" and diag.pos is not None and diag.pos.line == 3
    assert not any("given" in n for n in diag.notes)


def test_load_spec_names_the_functions_that_read_a_phm_config(tmp_path: Path) -> None:
    """`load_spec` reads one spec document; a PHM-Vibench experiment config was reported as "a PHM-Vibench
    config without a `model:` section" (it has one): the error says which functions read such a config."""
    config = tmp_path / "experiment.yaml"
    config.write_text("environment: {seed: 1}\ndata: {window_size: 1024}\n"
                      "model: {type: CNN, name: ResNet1D, input_dim: 1, num_classes: 3}\n"
                      "task: {name: classification}\n")
    for kwargs in ({"spec": str(config)}, {"text": config.read_text()}):
        with pytest.raises(SpecError) as info:
            vibench.load_spec(**kwargs)
        (diag,) = info.value.diagnostics
        assert diag.code == "E103" and "not a PHM-Vibench experiment config" in diag.message
        assert diag.pos is not None and (diag.pos.line, diag.pos.col) == (3, 1)  # at `model:`
        assert diag.hint is not None
        assert all(f"vibench.{name}" in diag.hint for name in ("check", "compile_spec", "build"))
        assert "without a `model:` section" not in info.value.render()
    assert vibench.check(str(config), inputs={"x": (2, 1024, 1)}).root.name  # what the message points to reads it


def test_a_long_path_a_person_typed_is_shown_whole_and_a_flood_keeps_its_file_name(tmp_path, capsys):
    # Usage errors named a path by its first 80 characters: in a deep project folder the file's own name was cut
    # off ("cannot write -o /home/.../experiments/2026-12/run_4/mo..."). A typed path is shown whole; only a
    # name built to flood the terminal is cut, in the middle, and never inside an escape.
    from vibench.compiler.display import MAX_PATH, clip_path

    deep = tmp_path / ("project_" * 12) / "experiments" / "run_4"
    out = str(deep / "model.py")
    assert 120 < len(out) < MAX_PATH
    rc = cli.main(["cnn/TCN", "-o", out])
    err = capsys.readouterr().err
    assert rc == cli.EXIT_USAGE
    assert f"folder {deep} does not exist" in err, err
    assert clip_path("a" * 300 + "\n" * 50 + "b" * 300 + "/m.py") == "a" * 80 + "..." + "b" * 152 + "/m.py"
    cut = clip_path("\udce9" * 200)  # each byte is four characters, \xe9: the cuts fall between two of them
    assert cut.startswith("\\xe9" * 20 + "...") and cut.endswith("\\xe9" * 39) and len(cut) <= MAX_PATH


def test_a_non_utf8_file_name_byte_is_written_as_xe9_in_text_diagnostics(tmp_path, capsys, monkeypatch):
    # Usage errors, JSON and model.py's header wrote such a byte as \xe9; the text diagnostics showed \udce9.
    name = os.fsdecode(b"b\xe9d.yaml")
    (tmp_path / name).write_text("vibench: 1\nname: X\nnodes: {a: {block: relu, in: q}}\n")
    monkeypatch.chdir(tmp_path)
    rc = cli.main([name, "--check"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "--> b\\xe9d.yaml:1:1" in err and "in b\\xe9d.yaml" in err and "\\udc" not in err, err
