"""A parameter's fixed values as completion inserts them, and E112's hint where YAML read one as another type
(QA pass of 1206i, /tmp/qa_ext/p/lit, lit2).

* Completion inserted a plug-in's choices (``Literal["fast", "a: b", "#x", "yes", "1", "null", "x\\ny"]``) as
  they are: YAML read `a: b` as a mapping, `#x` as a comment, `yes`/`on` as true, `1` as a number, `null` as
  null, and the line break split the document. Each is now inserted so that the compiler's loader reads it
  back as that string (the oracle: the edited document loaded), in YAML (after a key, in a flow mapping, after
  an opening quote) and in JSON.
* `mode: on` among ``Literal["on", "off", ...]`` was E112 "expected 'on', 'off', ... found: True" with no
  hint; the hint now says to quote it.
"""

from __future__ import annotations

import functools
import json
from typing import Any, Literal

import pytest

from tests.test_plugins_loading import install, run_python
from vibench.compiler.blocks.base import Block
from vibench.compiler.load import load_text
from vibench.compiler.param_errors import quote_hint
from vibench.schemas.blocks import BlockParams

CHOICES = ("fast", "a: b", "#x", "yes", "on", "1", "null", "2.5", "", " lead", "x\ny", "a, b", "it's", 'say "hi"',
           "line\u2028sep", "back\\slash")


class _LitParams(BlockParams):
    mode: Literal[CHOICES] = "fast"  # type: ignore[valid-type]
    count: Literal[1, 2] | None = None  # (fixed values that are no strings: inserted as written, `1`)
    flag: Literal[True, "auto"] = "auto"


class _Lit(Block):
    name, Params = "p_lit", _LitParams


@functools.cache
def _catalog() -> Any:
    """The catalogue with a plug-in's block of fixed values beside the built-ins."""
    from vibench.lsp.catalog import Catalog

    class WithPlugin(Catalog):
        def blocks(self) -> dict[str, Block]:
            return {**super().blocks(), "p_lit": _Lit()}

    return WithPlugin()


YAML = "vibench: 1\nname: T\ninputs: {x: {shape: [B, 1, L]}}\nnodes:\n  d:\n    block: p_lit\n    in: x\n    ⟨⟩\n" \
       "outputs: {y: d}\n"
FLOW = "vibench: 1\nname: T\ninputs: {x: {shape: [B, 1, L]}}\nnodes:\n  d: {block: p_lit, in: x, ⟨⟩}\n" \
       "outputs: {y: d}\n"
JSON = '{"vibench": 1, "name": "T", "inputs": {"x": {"shape": ["B", 1, "L"]}},\n' \
       ' "nodes": {"d": {"block": "p_lit", "in": "x", ⟨⟩}}, "outputs": {"y": "d"}}\n'


def _completed(layout: str, written: str, name: str = "t.yaml", after: str = "") -> list[tuple[Any, str]]:
    """Each item completed where ``written`` (a key and what is typed of the value) is in ``layout``, followed
    by ``after`` (the closing quote an editor adds), and the document that inserting it gives."""
    pytest.importorskip("lsprotocol", reason="vibench-lsp needs the `lsp` extra: pip install -r requirements-dev.txt")
    from vibench.lsp.completion import complete
    from vibench.lsp.document import Document

    text = layout.replace("⟨⟩", written + after)
    offset = text.index(written) + len(written)
    doc = Document(f"file:///{name}", f"/tmp/{name}", text)
    out = []
    for item in complete(doc, _catalog(), offset):
        edit = item.text_edit
        start, end = (doc.lines.offset(p.line, p.character) for p in (edit.range.start, edit.range.end))
        out.append((item, text[:start] + edit.new_text + text[end:]))
    return out


def _mode(text: str, name: str = "t.yaml") -> Any:
    return load_text(text, name).data["nodes"]["d"]["mode"]


@pytest.mark.parametrize(("layout", "written", "after"), [
    (YAML, "mode: ", ""), (FLOW, "mode: ", ""), (YAML, 'mode: "', '"'), (YAML, "mode: '", "'"), (FLOW, "mode: '", "'"),
    (FLOW, 'mode: "', '"')])
def test_each_fixed_value_inserted_reads_back_as_itself(layout: str, written: str, after: str) -> None:
    """After a key, in a flow mapping, and typed after an opening quote (the editor's closing one after it: a
    value single quotes cannot hold, a line break, is written in double quotes in their place)."""
    items = _completed(layout, written, after=after)
    assert [item.label for item, _ in items] == list(CHOICES)
    for item, text in items:
        assert _mode(text) == item.label, (item.label, item.text_edit.new_text)


def test_a_plain_value_stays_plain_and_the_qa_repros_are_quoted() -> None:
    inserted = {item.label: item.text_edit.new_text for item, _ in _completed(YAML, "mode: ")}
    assert inserted["fast"] == "fast" and inserted["back\\slash"] == "back\\slash"
    assert [inserted[c] for c in ("a: b", "#x", "yes", "on", "1", "null", "x\ny")] == [
        '"a: b"', '"#x"', '"yes"', '"on"', '"1"', '"null"', '"x\\ny"']
    assert inserted["line\u2028sep"] == '"line\\u2028sep"'  # (YAML breaks a line there, inside quotes too)


def test_in_json_each_fixed_value_is_a_json_string_that_reads_back() -> None:
    for written, after in (('"mode": ', ""), ('"mode": "', '"')):
        items = _completed(JSON, written, "t.json", after)
        assert [item.label for item, _ in items] == list(CHOICES)
        for item, text in items:
            assert json.loads(text)["nodes"]["d"]["mode"] == item.label, item.text_edit.new_text
            assert _mode(text, "t.json") == item.label


def test_fixed_values_that_are_no_strings_are_written_as_yaml_writes_them() -> None:
    assert [i.text_edit.new_text for i, _ in _completed(YAML, "count: ")] == ["1", "2"]
    flags = {i.label: i.text_edit.new_text for i, _ in _completed(YAML, "flag: ")}
    assert flags == {"true": "true", "auto": "auto"}  # (Python's `True` is no JSON, and no YAML 1.2)


# --------------------------------------------------------------------------------------------
# E112's hint
# --------------------------------------------------------------------------------------------


class _OnOff(BlockParams):
    mode: Literal["on", "off", "1", "null", "2.5", "true"] = "off"


def _errors(value: Any) -> list[dict]:
    from pydantic import ValidationError

    try:
        _OnOff(mode=value)
    except ValidationError as err:
        return err.errors(include_url=False)  # type: ignore[return-value]
    raise AssertionError(value)


_LISTED = 'the choices are "on", "off", "1", "null", "2.5", "true": write the one meant in quotes'


# Without the file's text the words as written are not known (`yes` reads as true as `on` does): the hint says
# what the value reads as and names the nearest choices (tests/test_language_1206j.py: with the text)
@pytest.mark.parametrize(("value", "hint"), [
    (True, 'YAML read the value as true (it reads yes, no, on, off, true and false as booleans); '
           f'{_LISTED} ("on" or "true" reads as true too, the nearest)'),
    (False, 'YAML read the value as false (it reads yes, no, on, off, true and false as booleans); '
            f'{_LISTED} ("off" reads as false too, the nearest)'),
    (1, f'YAML read the value as the number 1; {_LISTED} ("1" reads as the number 1 too, the nearest)'),
    (2.5, f'YAML read the value as the number 2.5; {_LISTED} ("2.5" reads as the number 2.5 too, the nearest)'),
    (None, f'YAML read the value as null (no value); {_LISTED} ("null" reads as null (no value) too, the nearest)'),
    (3, None),  # no choice reads as 3
])
def test_a_choice_yaml_read_as_another_type_is_hinted_to_be_quoted(value: Any, hint: str | None) -> None:
    assert quote_hint(_OnOff, "mode", _errors(value), [("mode", value, None)]) == hint


def test_a_value_an_expression_computed_gets_no_yaml_hint() -> None:
    from vibench.compiler.expr_parse import parse_template

    written = parse_template("${1 == 1}", None)
    assert quote_hint(_OnOff, "mode", _errors(True), [("mode", written, None)]) is None


PLUGIN = '''
from typing import Literal

from vibench.compiler.blocks.base import Block
from vibench.compiler.codegen import code as c
from vibench.compiler.registry import register
from vibench.schemas.blocks import BlockParams


class OnOff(BlockParams):
    mode: Literal["on", "off", "1", "null", "2.5", "true"] = "off"


@register
class Switch(Block):
    """A plug-in block of fixed values."""
    name, Params = "switch", OnOff

    def infer(self, p, ins, ctx):
        return [ins[0]]

    def call_code(self, p, args, mod):
        return c.call("torch.tanh", args[0])
'''


def test_the_qa_repro_gets_the_hint(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """/tmp/qa_ext/t8.yaml: `mode: on` was E112 found True, no hint."""
    install(tmp_path / "site", "p_switch", {"p_switch/__init__.py": PLUGIN}, ["switch = p_switch"])
    specs = {v: "vibench: 1\nname: T\ninputs: {x: {shape: [B, 1, L]}}\nnodes:\n  d:\n    block: switch\n"
             f"    in: x\n    mode: {v}\noutputs: {{y: d}}\n" for v in ("on", "'on'", "ON")}
    run = run_python(f"""
        import json
        import vibench

        out = {{}}
        for value, text in {specs!r}.items():
            try:
                vibench.check(text=text)
                out[value] = "ok"
            except vibench.SpecError as err:
                out[value] = [d.to_json() for d in err.diagnostics]
        print(json.dumps(out))
    """, [tmp_path / "site"], tmp_path)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    out = json.loads(run.stdout.splitlines()[-1])
    assert out["'on'"] == "ok"
    hints = {"on": 'write "on" in quotes: YAML reads on as true',  # the word written is a choice
             "ON": f'YAML reads ON as true; {_LISTED} ("on" or '
                   '"true" reads as true too, the nearest)'}
    for value, hint in hints.items():
        (d,) = out[value]
        assert (d["code"], d["line"], d["found"]) == ("E112", 8, "True"), d
        assert d["hint"] == hint, d
