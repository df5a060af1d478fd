"""Static validation agrees: the language server (with the committed schema) and the compiler.

For every spec of the broken-spec corpus (``tests/broken/``) and of ``tests/editor_cases/``:

* each schema-level error the compiler reports (E101-E105, E110-E113) the server reports on the
  same line, unless a static schema cannot know it (:func:`static_limit`: the parameters and the
  existence of a composite, a library spec or a computed block name are known only when
  compiling; an empty document is not validated by the server);
* a spec the server accepts, the compiler accepts at the schema level (same exceptions);
* in ``tests/editor_cases/broken/`` the server reports exactly the compiler's lines, with the texts
  that each file's ``# server:`` headers name; ``tests/editor_cases/valid/`` gets no diagnostic.

The compiler's own diagnostics are the reference; ``# expect:`` headers are checked against them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

import vibench
from tests.lsp.client import LanguageServer, file_uri
from tests.lsp.server import ROOT, SCHEMA_LEVEL
from vibench.compiler import registry
from vibench.compiler.diagnostics import Diagnostic, SpecError
from vibench.compiler.load import LoadedDoc, load_text

CORPUS = ROOT / "tests" / "broken"
EDITOR_CASES = ROOT / "tests" / "editor_cases"
SPEC_PATH = [str(EDITOR_CASES / "library")]
ERROR = 1  # LSP DiagnosticSeverity


@dataclass
class Case:
    path: Path
    strict: bool  # the server reports exactly the compiler's lines
    expects: list[tuple[str, int]] = field(default_factory=list)  # (code, line) from `# expect:`
    server_texts: dict[int, list[str]] = field(default_factory=dict)  # line -> texts, from `# server:`
    params: dict = field(default_factory=dict)
    inputs: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.path.relative_to(ROOT / "tests").as_posix()


def read_case(path: Path, strict: bool) -> Case | None:
    """A corpus file with its header, or None for a helper file (no ``# expect:``) of the corpus."""
    case = Case(path, strict)
    text = path.read_bytes().decode("utf-8", "replace")
    last_line = None
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        if m := re.match(r"#\s*expect:\s*(E\d+) at (\d+):\d+\s*$", line):
            last_line = int(m.group(2))
            case.expects.append((m.group(1), last_line))
        elif (m := re.match(r"#\s*server:\s*(.+)$", line)) and last_line is not None:
            case.server_texts.setdefault(last_line, []).append(m.group(1).strip())
        elif m := re.match(r"#\s*set:\s*([^=]+)=(.*)$", line):
            case.params[m.group(1).strip()] = yaml.safe_load(m.group(2))
        elif m := re.match(r"#\s*input:\s*([^=]+)=(.*)$", line):
            case.inputs[m.group(1).strip()] = tuple(int(d) for d in m.group(2).split(","))
    if path.is_relative_to(CORPUS) and not case.expects and "# expect:" not in text:
        return None
    return case


def all_cases() -> list[Case]:
    cases = []
    for folder, strict in ((CORPUS, False), (EDITOR_CASES / "broken", True), (EDITOR_CASES / "valid", True)):
        for path in sorted(folder.rglob("*")):
            if path.suffix in (".yaml", ".yml", ".json") and (case := read_case(path, strict)) is not None:
                cases.append(case)
    return cases


CASES = all_cases()


def compiler_diagnostics(case: Case) -> list[Diagnostic]:
    """The compiler's diagnostics located in the case's own file."""
    try:
        vibench.check(str(case.path), params=case.params or None, inputs=case.inputs or None,
                      search_path=SPEC_PATH)
    except SpecError as err:
        return [d for d in err.diagnostics
                if d.pos is not None and (ROOT / d.pos.file).resolve() == case.path.resolve()]
    return []


YAML11_BOOLEANS = re.compile(r"(?:yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF)\b")
INTEGRAL_FLOAT = re.compile(r"[-+]?[0-9]+\.0*(?:[eE][-+]?[0-9]+)?(?=[\s,\]}]|$)")


def static_limit(doc: LoadedDoc, d: Diagnostic) -> str | None:
    """Why a static schema cannot report diagnostic ``d`` on its line (None: it can)."""
    assert d.pos is not None
    line = d.pos.line
    if doc.data is None:
        return "an empty document: the server validates nothing"
    source = doc.text.splitlines()[line - 1] if line <= len(doc.text.splitlines()) else ""
    if YAML11_BOOLEANS.match(source, d.pos.col - 1):
        return "a YAML 1.1 boolean word: the compiler reads YAML 1.1 (PyYAML), the server YAML 1.2"
    if INTEGRAL_FLOAT.match(source, d.pos.col - 1):
        return "an integral float: JSON Schema's `integer` admits 2.0, the compiler's fields are strict"
    if not isinstance(doc.data, dict):
        return None
    units = [((), doc.data)] + [(("blocks", name), unit) for name, unit in (doc.data.get("blocks") or {}).items()
                                 if isinstance(unit, dict)]
    for path, unit in units:
        for name, node in (unit.get("nodes") or {}).items():
            if not isinstance(node, dict):
                continue
            where = path + ("nodes", name)
            lines = {doc.pos(where, key=True).line} | {doc.pos(where + (k,)).line for k in node}
            block = node.get("block")
            if line in lines and isinstance(block, str) and registry.get(block) is None and _resolved_later(block):
                return f"node `{name}` uses `{block}`: its parameters and existence are known only when compiling"
    return None


def _resolved_later(block: str) -> bool:
    """A composite (CamelCase), a spec reference (``family/Name``, ``file.yaml#Block``) or ``${...}``."""
    return block[:1].isupper() or "/" in block or "#" in block or block.endswith((".yaml", ".yml", ".json")) \
        or "${" in block


@pytest.fixture(scope="module")
def server_errors(yaml_server: LanguageServer) -> dict[Path, list[dict]]:
    """The server's error diagnostics for every case (all opened at once, then collected)."""
    uris = {}
    for case in CASES:
        uris[case.path] = file_uri(case.path)
        yaml_server.open(uris[case.path], case.path.read_bytes().decode("utf-8", "replace"),
                         "json" if case.path.suffix == ".json" else "yaml")
    try:
        return {path: [d for d in yaml_server.diagnostics(uri) if d.get("severity", ERROR) == ERROR]
                for path, uri in uris.items()}
    finally:
        for uri in uris.values():
            yaml_server.close(uri)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_server_and_compiler_agree(case: Case, server_errors: dict[Path, list[dict]]) -> None:
    compiled = [d for d in compiler_diagnostics(case) if d.code in SCHEMA_LEVEL]
    doc = load_text(case.path.read_bytes().decode("utf-8", "replace"), case.path.name, str(case.path)) \
        if compiled else None
    checkable = [d for d in compiled if doc is not None and static_limit(doc, d) is None]
    server_lines = {d["range"]["start"]["line"] + 1: d["message"] for d in server_errors[case.path]}
    reported = {line for line in server_lines}
    for d in checkable:
        assert d.pos.line in reported, (f"compiler {d.code} at line {d.pos.line} ({d.message}); "
                                        f"the server reports {server_lines}")
    if not server_errors[case.path]:
        assert not checkable, f"the server accepts a spec the compiler rejects: {[d.code for d in checkable]}"
    if case.strict:
        assert reported == {d.pos.line for d in checkable}, server_errors[case.path]
        if case.path.suffix != ".json":  # JSON has no comments, hence no header
            assert sorted(case.expects) == sorted((d.code, d.pos.line) for d in compiled), "stale `# expect:` header"
        messages = {}
        for d in server_errors[case.path]:
            messages.setdefault(d["range"]["start"]["line"] + 1, []).append(d["message"])
        for line, texts in case.server_texts.items():
            for text in texts:
                assert any(text in m for m in messages.get(line, [])), (line, text, messages)


def test_the_corpus_is_mostly_within_reach(server_errors: dict[Path, list[dict]]) -> None:
    """The exceptions stay exceptions: most schema-level diagnostics are checked, all the listed kinds."""
    checked: set[str] = set()
    within_reach = 0
    limited = []
    for case in CASES:
        compiled = [d for d in compiler_diagnostics(case) if d.code in SCHEMA_LEVEL]
        if not compiled:
            continue
        doc = load_text(case.path.read_bytes().decode("utf-8", "replace"), case.path.name, str(case.path))
        for d in compiled:
            reason = static_limit(doc, d)
            if reason is None:
                checked.add(d.code)
                within_reach += 1
            else:
                limited.append(f"{case.id}:{d.pos.line} {d.code}: {reason}")
    print("\nbeyond a static schema:\n  " + "\n  ".join(limited))
    assert checked == SCHEMA_LEVEL
    assert len(limited) * 4 <= within_reach, limited
