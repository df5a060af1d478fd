"""Which documents vibench-lsp answers for, what it reads of the others, and how it writes for JSON.

The server is attached to every YAML and JSON file. A document is a spec by the rule of docs/editor.md
(its name, an empty text, a `vibench` key or a near miss of it, `nodes` with `inputs` or `outputs`, a
PHM-Vibench config), told from its top-level keys alone: a file that is no spec never gets an outline
(the whole-document reading that took seconds and a GB on a 10 MB ``package-lock.json``), and one
beyond vibench-compile's 16 MiB is not read at all. What is read is checked by counting and by
structure, never by timing (test machines are busy). JSON mode follows the client's language id.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path

import pytest

pytest.importorskip("pygls", reason="vibench-lsp needs the `lsp` extra (pygls): pip install -r requirements-dev.txt")

import vibench  # noqa: E402
from tests.lsp.client import LanguageServer, file_uri  # noqa: E402
from tests.lsp.server import ROOT  # noqa: E402
from tests.lsp.vibench_lsp import start_vibench_server  # noqa: E402
from vibench.lsp import document as document_module  # noqa: E402
from vibench.lsp import spec_kind  # noqa: E402
from vibench.lsp.document import Document  # noqa: E402

SPEC = {"vibench": 1, "name": "M", "inputs": {"x": {"shape": ["B", 4]}},
        "nodes": {"a": {"block": "relu", "in": "x"}, "fc": {"block": "linear", "in": "a", "out_features": 4}},
        "outputs": {"y": "fc"}}
CURSOR = "⟨⟩"


def lock_file(packages: int) -> str:
    """A ``package-lock.json`` as npm writes it: no spec, and large."""
    return json.dumps({"name": "app", "version": "1.0.0", "lockfileVersion": 3, "packages": {
        f"node_modules/pkg{i}": {"version": f"1.{i}.0", "resolved": f"https://registry.npmjs.org/pkg{i}.tgz",
                                 "integrity": "sha512-" + "A" * 86, "dev": True} for i in range(packages)}}, indent=2)


@pytest.fixture
def outlines(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts the document and the server build an outline of, from now on."""
    from vibench.lsp import server

    built: list[str] = []
    real = document_module.outline

    def counting(text: str):  # type: ignore[no-untyped-def]
        built.append(text)
        return real(text)

    monkeypatch.setattr(document_module, "outline", counting)
    monkeypatch.setattr(server, "outline", counting)
    return built


# --------------------------------------------------------------------------------------------
# what is read of a document that is no spec (in-process)
# --------------------------------------------------------------------------------------------


def test_a_file_that_is_no_spec_never_gets_an_outline(outlines: list[str]) -> None:
    text = lock_file(2000)
    doc = Document("file:///w/package-lock.json", "/w/package-lock.json", text, 1, language_id="json")
    assert not doc.is_spec()
    for version in (2, 3):  # edits: each version is told again, from its top-level keys
        text = text.replace('"dev": true', '"dev": false', 1)
        doc.update(text, version)
        assert not doc.is_spec()
    assert outlines == [] and doc._outline is None and doc._base is None


def test_a_spec_keeps_one_outline_once_its_new_one_is_built(outlines: list[str]) -> None:
    """The earlier version's outline serves only until this version's is built (it was kept alongside)."""
    text = json.dumps(SPEC, indent=2)
    doc = Document("file:///w/m.json", "/w/m.json", text, 1, language_id="json")
    assert doc.is_spec() and outlines == []  # told without an outline
    first = doc.outline
    doc.update(text.replace('"M"', '"N"'), 2)
    doc.cursor(len(text) // 2)  # reads from the earlier outline, builds none
    assert len(outlines) == 1 and doc._base is first
    assert doc.outline is not first
    assert len(outlines) == 2 and doc._base is None


def test_the_checker_never_outlines_a_file_that_is_no_spec(outlines: list[str]) -> None:
    from vibench.lsp.server import create_server

    server = create_server()
    published: list[list] = []
    server.publish = lambda doc, diagnostics: published.append(diagnostics)  # type: ignore[method-assign]
    uri = "file:///w/package-lock.json"
    server.docs[uri] = Document(uri, "/w/package-lock.json", lock_file(200), 1)
    asyncio.run(server._check_later(uri, 0.0))
    assert published == [[]] and outlines == []
    assert not server.docs[uri].is_spec() and server.docs[uri]._outline is None
    server._checker.shutdown(wait=True)


def test_a_long_document_is_not_scanned_again_at_each_edit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Beyond INLINE_SCAN characters, a request after an edit keeps the last decision (the checker
    thread decides for each version it checks), so an edit costs no scan of the whole text."""
    text = lock_file(spec_kind.INLINE_SCAN // 200)
    assert len(text) > spec_kind.INLINE_SCAN
    doc = Document("file:///w/big.json", "/w/big.json", text, 1)
    assert not doc.is_spec()
    scans = []
    monkeypatch.setattr(spec_kind, "top_keys", lambda text: scans.append(1))
    doc.update(text + " ", 2)
    assert not doc.is_spec() and scans == []
    doc.know(doc.revision, True)  # what the checker thread found for this version
    assert doc.is_spec()


def test_a_document_beyond_the_compilers_limit_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    from vibench.compiler.load import MAX_BYTES

    assert spec_kind.MAX_BYTES == MAX_BYTES  # the CLI's limit (docs/errors.md, E002), not one of its own
    monkeypatch.setattr(spec_kind, "top_keys", lambda text: pytest.fail("the text was scanned"))
    for text in ("vibench: 1\n" + "#" * MAX_BYTES, "vibench: 1\n# " + "é" * (MAX_BYTES // 2)):  # bytes, not characters
        doc = Document("file:///w/huge.vibench.yaml", "/w/huge.vibench.yaml", text, 1)
        assert doc.too_large and not doc.is_spec()
    assert not spec_kind.too_large("é" * (MAX_BYTES // 2))


# --------------------------------------------------------------------------------------------
# which documents are specs (in-process)
# --------------------------------------------------------------------------------------------

LOCK = lock_file(3)
NO_VIBENCH = json.dumps({k: v for k, v in SPEC.items() if k != "vibench"})


@pytest.mark.parametrize(("name", "text", "spec"), [
    ("a.yaml", "", True),  # empty: a spec being started
    ("a.json", "  \n# only a comment\n", True),
    ("a.yaml", json.dumps(SPEC), True),
    ("a.yaml", "vibench: 1\nname: M\n", True),
    ("a.json", json.dumps({"vibnech": 1, **{k: v for k, v in SPEC.items() if k != "vibench"}}), True),
    ("a.json", "/* a header */\n" + json.dumps(SPEC, indent=2), True),  # E001 names the comment
    ("a.json", NO_VIBENCH, True),  # nodes and inputs: the missing `vibench` is reported
    ("a.yaml", "nodes: {a: {block: relu, in: x}}\noutputs: {y: a}\n", True),
    ("a.yaml", "model: {type: CNN, name: ResNet1D}\ndata: {batch_size: 4}\n", True),  # PHM-Vibench
    ("a.vibench.json", "{}", True),  # by name
    ("specs/vibench/specs/cnn/X.yaml", "foo: 1\n", True),
    (".eslintrc.json", "{}", False),
    ("a.json", "[]", False),
    ("a.json", "42", False),
    ("a.json", '"str"', False),
    ("package-lock.json", LOCK, False),
    ("package.json", '{"name": "app", "version": "1.0.0", "scripts": {"test": "jest"}}', False),
    ("ci.yaml", "name: CI\non: [push]\njobs:\n  test: {runs-on: ubuntu-latest}\n", False),
    ("a.yaml", "- vibench\n- nodes\n", False),
    ("a.yaml", "nodes: {a: 1}\nname: not a spec without inputs or outputs\n", False),
    ("a.json", '{"a": {"vibench": 1, "nodes": {}, "inputs": {}}}', False),  # not at the top level
])
def test_a_spec_is_told_by_the_documented_rule(name: str, text: str, spec: bool) -> None:
    assert Document(f"file:///w/{name}", f"/w/{name}", text).is_spec() is spec


@pytest.mark.parametrize(("text", "keys"), [
    ('{"a": 1, "b": {"c": [1, {"d": 2}], "e": "}{,"}, \'f\': 2, g: [3], "h\\"i": {}}', ["a", "b", "f", "g", 'h"i']),
    ("{\n  // a comment: with a colon\n  \"a\": 1, /* \"b\": 2 */ \"c\": 3}", ["a", "c"]),
    ("  a: 1\n  'b': |\n    c: 2\n  \"d\": [x]\n", ["a", "b", "d"]),
    ("%YAML 1.1\n---\na: 1\nb:\n  c: 2\n", ["a", "b"]),
    ("\ufeffa: 1\rb: 2\r", ["a", "b"]),
    # the root node's tag or anchor, and explicit keys (`? key` with `: value` on the next line)
    ("--- !!map\nvibench: 1\nnodes: {}\n", ["vibench", "nodes"]),
    ("&root\nvibench: 1\n", ["vibench"]),
    ("!!map {vibench: 1, nodes: {}}", ["vibench", "nodes"]),
    ("? vibench\n: 1\nnodes: {}\n", ["vibench", "nodes"]),
    ("a: 1\n? b\n: 2\nc: 3\n", ["a", "b", "c"]),
])
def test_the_top_level_keys_are_found_without_reading_the_rest(text: str, keys: list[str]) -> None:
    assert spec_kind.top_keys(text) == keys


# --------------------------------------------------------------------------------------------
# the server
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lsp():
    server = start_vibench_server()
    yield server
    server.shutdown()


_NUMBER = itertools.count()


def position(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset].split("\n")
    return len(before) - 1, len(before[-1].encode("utf-16-le")) // 2


def test_a_misspelt_vibench_key_gets_the_compilers_diagnostics(lsp: LanguageServer, tmp_path: Path) -> None:
    text = json.dumps({"vibnech": 1, **{k: v for k, v in SPEC.items() if k != "vibench"}}, indent=2)
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(text=text)
    uri = file_uri(tmp_path / "typo.json")
    lsp.open(uri, text, "json")
    found = lsp.diagnostics(uri)
    assert sorted(d["code"] for d in found) == sorted(d.code for d in info.value.diagnostics)
    assert any("did you mean `vibench`" in d["message"] for d in found)
    lsp.change(uri, "{}\n")  # now a file that is no spec: nothing said about it
    assert lsp.diagnostics(uri) == []
    lsp.close(uri)


def test_a_document_beyond_the_limit_is_refused_once_with_a_message(lsp: LanguageServer, tmp_path: Path) -> None:
    text = "vibench: 1\n" + "#" * spec_kind.MAX_BYTES
    uri = file_uri(tmp_path / "huge.vibench.yaml")
    lsp.open(uri, text, "yaml")
    assert lsp.diagnostics(uri) == []
    lsp.change(uri, text + "\n")
    assert lsp.diagnostics(uri) == [] and lsp.completion(uri, 1, 0) == [] and lsp.hover(uri, 0, 2) == ""
    (message,) = lsp.shown
    assert "huge.vibench.yaml" in message["message"] and "16 MiB" in message["message"]
    lsp.close(uri)


def json_spec(value: str) -> str:
    return json.dumps(SPEC, indent=2).replace('"in": "a"', f'"in": {value}')


@pytest.mark.parametrize(("uri", "language"), [
    ("untitled:Untitled-{n}", "json"),  # an unsaved buffer: its language id is all there is
    ("UP{n}.JSON", "json"),
    ("x{n}.jsonc", "jsonc"),
    ("plain{n}.json", "json"),
])
def test_json_mode_follows_the_language_id_and_any_case_suffix(lsp: LanguageServer, tmp_path: Path, uri: str,
                                                                language: str) -> None:
    number = next(_NUMBER)
    uri = uri.format(n=number) if uri.startswith("untitled:") else file_uri(tmp_path / uri.format(n=number))
    marked = json_spec(f"a{CURSOR}")
    text = marked.replace(CURSOR, "")
    lsp.open(uri, text, language)
    lsp.diagnostics(uri)
    (item,) = [i for i in lsp.completion(uri, *position(text, marked.index(CURSOR))) if i["label"] == "a"]
    assert item["textEdit"]["newText"] == '"a"'
    top = json.dumps(SPEC, indent=2).replace('  "vibench"', f'  "{CURSOR}"\n  "vibench"', 1)
    lsp.change(uri, top.replace(CURSOR, ""))
    items = lsp.completion(uri, *position(top.replace(CURSOR, ""), top.index(CURSOR)))
    (schema,) = [i for i in items if i["label"] == "$schema"]
    assert schema["textEdit"]["newText"] == '$schema": '
    lsp.close(uri)


# --------------------------------------------------------------------------------------------
# types of the document's keys, in words
# --------------------------------------------------------------------------------------------


def test_document_keys_read_as_types_in_words() -> None:
    from vibench.lsp.catalog import model_keys
    from vibench.schemas import document as d

    models = (d.SpecDocument, d.ParamSpec, d.InputSpec, d.OutputSpec, d.NodeSpec, d.BlockSpec, d.CheckSpec,
              d.ReferenceSpec)
    for model in models:
        for key, (type_, text) in model_keys(model).items():
            for raw in ("Annotated", "0x", "typing", "pydantic", "Union", "Validator", "NoneType", "model_fields"):
                assert raw not in type_ and raw not in text, (model.__name__, key, type_, text)
    assert model_keys(d.SpecDocument)["params"][0] == "mapping of name -> parameter"
    assert model_keys(d.InputSpec)["shape"][0] == "list of (int | str) | ${...}"
    assert model_keys(d.NodeSpec)["in"][0] == "str | list of str | mapping of name -> str"


def test_hover_on_schema_says_what_it_is(lsp: LanguageServer, tmp_path: Path) -> None:
    text = (ROOT / "examples" / "tiny_cnn.json").read_text(encoding="utf-8")
    uri = file_uri(tmp_path / "tiny.json")
    lsp.open(uri, text, "json")
    lsp.diagnostics(uri)
    shown = lsp.hover(uri, *position(text, text.index('"$schema"') + 3))
    assert shown.startswith("**$schema**: `str`") and "JSON Schema" in shown
    shown = lsp.hover(uri, *position(text, text.index('"params"') + 3))
    assert shown.startswith("**params**: `mapping of name -> parameter`")
    lsp.close(uri)


@pytest.mark.parametrize(("name", "marked"), [
    ("new.json", "{" + CURSOR + "}"),
    ("new.json", '{"vi' + CURSOR + '"}'),
])
def test_a_spec_being_started_gets_completion_but_no_diagnostics(lsp: LanguageServer, tmp_path: Path, name: str,
                                                                   marked: str) -> None:
    uri = file_uri(tmp_path / f"{next(_NUMBER)}{name}")
    text = marked.replace(CURSOR, "")
    lsp.open(uri, text, "json" if name.endswith(".json") else "yaml")
    assert lsp.diagnostics(uri) == []  # `{}` may be some tool's settings: no E103 for it
    labels = [i["label"] for i in lsp.completion(uri, *position(text, marked.index(CURSOR)))]
    assert "vibench" in labels
    lsp.close(uri)
