"""vibench-lsp's edits and offers, checked by what they produce: the text a quick fix leaves, the
names completion offers where the compiler would accept them, and the text it inserts.

Driven over real LSP JSON-RPC like tests/test_lsp.py. What is expected comes from the compiler
(a fixed spec compiles; a combination of top-level keys it refuses is not offered), the block
registry and the spec library, never from the server.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest

pytest.importorskip("pygls", reason="vibench-lsp needs the `lsp` extra (pygls): pip install -r requirements-dev.txt")

from tests.lsp.client import LanguageServer, file_uri  # noqa: E402
from vibench.compiler import registry  # noqa: E402

SPEC = """\
vibench: 1
name: Fixes
params:
  width: {type: int, default: 8}
inputs:
  x: {shape: [B, 4, 32]}
nodes:
  stem: {doc: "😀 stem", block: conv1d, in: x, out_channels: "${width}", kernel_size: 3}
  rnn: {block: lstm, in: stem, hidden_size: 4}
  head: {block: cnn/ResNet1D, in: x, num_classes: 3, input_dim: 4, layout: BCL}
  pool: {block: mean, in: rnn.out, dim: 1}
outputs:
  y: pool
  z: head
"""
TEMPLATE = "vibench: 1\nextends: cnn/ResNet1D\nwith: {num_classes: 3}\n"
CURSOR = "⟨⟩"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lsp_edits")


_NUMBER = itertools.count()


def open_text(lsp: LanguageServer, folder: Path, text: str, suffix: str = ".yaml") -> tuple[str, list[dict]]:
    """Open ``text`` as a new file; its uri and first diagnostics."""
    path = folder / f"doc{next(_NUMBER)}{suffix}"
    path.write_text(text, encoding="utf-8")
    uri = file_uri(path)
    lsp.open(uri, text, "json" if suffix.endswith(".json") else "yaml")
    return uri, lsp.diagnostics(uri)


def position(text: str, offset: int) -> tuple[int, int]:
    """The LSP (UTF-16) position of an offset of ``text``."""
    before = text[:offset].split("\n")
    return len(before) - 1, len(before[-1].encode("utf-16-le")) // 2


def apply(text: str, edits: list[dict]) -> str:
    """``text`` with LSP text edits (UTF-16 positions, one line each) applied."""
    lines = text.split("\n")
    for edit in sorted(edits, key=lambda e: (e["range"]["start"]["line"], e["range"]["start"]["character"]),
                       reverse=True):
        start, end = edit["range"]["start"], edit["range"]["end"]
        assert start["line"] == end["line"]
        units = lines[start["line"]].encode("utf-16-le")
        lines[start["line"]] = (units[:2 * start["character"]] + edit["newText"].encode("utf-16-le")
                                + units[2 * end["character"]:]).decode("utf-16-le")
    return "\n".join(lines)


def complete(lsp: LanguageServer, folder: Path, text: str, suffix: str = ".yaml") -> tuple[str, list[dict]]:
    """Completion at ``⟨⟩`` of ``text``: (the text without the mark, the items)."""
    offset = text.index(CURSOR)
    clean = text.replace(CURSOR, "", 1)
    uri, _ = open_text(lsp, folder, clean, suffix)
    return clean, lsp.completion(uri, *position(clean, offset))


def labels(items: list[dict]) -> list[str]:
    return sorted(i["label"] for i in items)


# --------------------------------------------------------------------------------------------
# quick fixes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "good", "bad"), [
    (SPEC, "in: rnn.out", "in: rnn.outt"),  # a misspelt port: the port is replaced, the node kept
    (SPEC.replace("in: rnn.out", "in: rnn.h_n"), "in: rnn.h_n", "in: rnn.h_m"),
    (SPEC, "in: rnn.out", "in: rnn.out.x"),  # a port path where a port goes
    (SPEC, "in: rnn.out", "in: rnm.out"),  # a misspelt node before its port
    (SPEC, "block: cnn/ResNet1D", "block: cnn/ResNt1D"),  # a library block: the whole name
    (SPEC, "block: lstm", "block: lstn"),
    (SPEC, "kernel_size: 3", "kernel_siz: 3"),  # on a line with an emoji before: UTF-16 positions
    (SPEC, '"${width}"', '"${wdth}"'),  # a name inside `${...}`, after the emoji
    (SPEC, "inputs:\n", "input:\n"),
    (TEMPLATE, "cnn/ResNet1D", "cnn/ResNet1d"),  # `extends:`: the whole name, not its folder twice
    (TEMPLATE, "num_classes", "num_clases"),
])
def test_a_quick_fix_leaves_the_suggested_name(lsp: LanguageServer, folder: Path, spec: str, good: str,
                                                bad: str) -> None:
    import vibench

    vibench.check(text=spec)
    assert spec.count(good) == 1
    broken = spec.replace(good, bad)
    uri, diagnostics = open_text(lsp, folder, broken)
    errors = [d for d in diagnostics if d["severity"] == 1 and "did you mean" in d["message"]]
    assert len(errors) == 1, diagnostics
    (action,) = lsp.code_actions(uri, errors)
    assert apply(broken, action["edit"]["changes"][uri]) == spec


# --------------------------------------------------------------------------------------------
# ports
# --------------------------------------------------------------------------------------------

ATTENTION = """\
vibench: 1
name: Attend
inputs:
  x: {shape: [B, 16, 8]}
nodes:
  att:
    block: multi_head_attention
    embed_dim: 8
    num_heads: 2
    in:
      query: x
      ⟨⟩
outputs:
  y: att
"""


def test_each_input_port_is_offered_and_described_once(lsp: LanguageServer, folder: Path) -> None:
    block = registry.all_blocks()["multi_head_attention"]
    assert block.optional_inputs and set(block.optional_inputs) <= set(block.inputs)
    text, items = complete(lsp, folder, ATTENTION)
    assert [i["label"] for i in items] == [p for p in block.inputs if p != "query"]
    uri, _ = open_text(lsp, folder, text)
    line = text.split("\n").index("    block: multi_head_attention")
    expected = "Inputs: " + ", ".join(f"`{p}`" + (" (optional)" if p in block.optional_inputs else "")
                                      for p in block.inputs) + ";"
    assert expected in lsp.hover(uri, line, 15)
    _, blocks = complete(lsp, folder, ATTENTION.replace("block: multi_head_attention", "block: multi⟨⟩")
                         .replace("      ⟨⟩\n", ""))
    resolved = lsp.resolve(next(i for i in blocks if i["label"] == "multi_head_attention"))
    doc = resolved["documentation"]
    assert expected in (doc["value"] if isinstance(doc, dict) else doc)


# --------------------------------------------------------------------------------------------
# completion inside an empty quoted string
# --------------------------------------------------------------------------------------------

SMALL = ("vibench: 1\nname: P\ninputs:\n  x: {shape: [B, 4, 32]}\nnodes:\n  stem: {block: BLOCK, in: IN}\n"
         "outputs:\n  y: stem\n")
SMALL_JSON = ('{\n  "vibench": 1,\n  "name": "P",\n  "inputs": {"x": {"shape": ["B", 4, 32]}},\n  "nodes": {\n'
              '    "stem": {"doc": "😀", "block": "conv1d", "in": "x", "out_channels": 8, "kernel_size": 3},\n'
              '    "fc": {"block": BLOCK, "in": IN}\n  },\n  "outputs": {"y": "fc"}\n}\n')


@pytest.mark.parametrize(("template", "block", "reference", "suffix"), [
    (SMALL, '"⟨⟩"', "x", ".yaml"),
    (SMALL, "'⟨⟩'", "x", ".yaml"),
    (SMALL, "relu", '"⟨⟩"', ".yaml"),
    (SMALL, "relu", "'⟨⟩'", ".yaml"),
    (SMALL, "relu", '["⟨⟩"]', ".yaml"),
    (SMALL_JSON, '"⟨⟩"', '"stem"', ".vibench.json"),
    (SMALL_JSON, '"relu"', '"⟨⟩"', ".vibench.json"),
])
def test_an_empty_quoted_string_completes_like_a_started_one(lsp: LanguageServer, folder: Path, template: str,
                                                            block: str, reference: str, suffix: str) -> None:
    """Editors close a quote as it is typed: `"|"` offers what `"s|"` offers, and the edit goes
    between the quotes."""
    spec = template.replace("BLOCK", block).replace("IN", reference)
    _, items = complete(lsp, folder, spec, suffix)
    _, expected = complete(lsp, folder, spec.replace(CURSOR, "s" + CURSOR), suffix)
    assert items and labels(items) == labels(expected)
    line, col = position(spec, spec.index(CURSOR))
    for item in items:
        assert item["textEdit"]["range"] == {"start": {"line": line, "character": col},
                                             "end": {"line": line, "character": col}}
        assert item["textEdit"]["newText"] == item["label"]


# --------------------------------------------------------------------------------------------
# what the compiler accepts
# --------------------------------------------------------------------------------------------


TOP_VALUES = {"extends": "cnn/ResNet1D", "with": "{num_classes: 3}", "inputs": "{z: {shape: [B, 4, 32]}}",
              "nodes": "{extra: {block: relu, in: x}}", "outputs": "{extra: x}",
              "blocks": "{Pass: {inputs: {x: {shape: [B, C]}}, nodes: {a: {block: relu, in: x}}, outputs: {y: a}}}",
              "let": "{depth: 2}", "checks": "[{that: true, message: never}]", "params": "{other: 1}",
              "reference": "{model: CNN/ResNet1D}", "metadata": "{a: 1}", "name": "Q", "doc": "A spec."}


def _combination_refused(text: str) -> bool:
    """Whether the compiler refuses ``text``'s top-level keys as a combination (E107)."""
    import vibench

    try:
        vibench.check(text=text)
    except vibench.SpecError as err:
        return any(d.code == "E107" and "cannot be combined" in d.message for d in err.diagnostics)
    return False


@pytest.mark.parametrize("written", [
    TEMPLATE,
    TEMPLATE.replace("with: {num_classes: 3}\n", ""),
    "vibench: 1\nwith: {num_classes: 3}\n",
    SMALL.replace("BLOCK", "relu").replace("IN", "x"),
    "vibench: 1\nname: P\nlet: {depth: 2}\n",
    "vibench: 1\nname: P\nparams: {width: 8}\n",
])
def test_top_level_keys_offered_are_those_the_compiler_combines(lsp: LanguageServer, folder: Path,
                                                               written: str) -> None:
    """A key not yet written is offered exactly when the compiler takes it with the keys written
    (and `extends:`, which a `with:` written or offered needs)."""
    from vibench.schemas.document import SpecDocument

    _, items = complete(lsp, folder, written + CURSOR)
    present = set(re.findall(r"^(\w+):", written, re.M))
    keys = {info.alias or name for name, info in SpecDocument.model_fields.items()} - {"$schema", "vibench"}
    expected = set()
    for key in keys - present:
        added = {key} | ({"extends"} if "with" in present | {key} else set())
        text = written + "".join(f"{k}: {TOP_VALUES[k]}\n" for k in sorted(added - present))
        if not _combination_refused(text):
            expected.add(key)
    assert set(labels(items)) == expected


COMPOSITES = """\
vibench: 1
name: P
blocks:
  Inner:
    inputs: {x: {shape: [B, C, L]}}
    nodes:
      a: {block: relu, in: x}
      b: {block: INNER, in: a}
    outputs: {y: b}
  Outer:
    inputs: {x: {shape: [B, C, L]}}
    nodes:
      a: {block: Inner, in: x}
    outputs: {y: a}
  Free:
    inputs: {x: {shape: [B, C, L]}}
    nodes:
      a: {block: relu, in: x}
    outputs: {y: a}
inputs:
  x: {shape: [B, 4, 16]}
nodes:
  n: {block: Outer, in: x}
outputs:
  y: n
"""


def _error_codes(text: str) -> set[str]:
    import vibench

    try:
        vibench.check(text=text)
    except vibench.SpecError as err:
        return {d.code for d in err.diagnostics}
    return set()


def test_a_composite_is_not_offered_where_it_would_use_itself(lsp: LanguageServer, folder: Path) -> None:
    """Under `Inner`, neither `Inner` (E206) nor `Outer`, which uses `Inner`, is offered; other
    composites and the catalogue are."""
    _, items = complete(lsp, folder, COMPOSITES.replace("INNER", CURSOR))
    offered = set(labels(items))
    assert "Free" in offered and "relu" in offered
    for name in ("Inner", "Outer", "Free"):
        assert (_error_codes(COMPOSITES.replace("INNER", name)) == {"E206"}) == (name not in offered), name
    _, top = complete(lsp, folder, COMPOSITES.replace("INNER", "relu").replace("{block: Outer,", f"{{block: {CURSOR},"))
    assert {"Inner", "Outer", "Free"} <= set(labels(top))


# --------------------------------------------------------------------------------------------
# JSON values
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("reference", "inserted"), [("⟨⟩", '"stem"'), ("st⟨⟩", '"stem"'), ('"st⟨⟩"', "stem")])
def test_a_json_value_is_inserted_as_a_json_string(lsp: LanguageServer, folder: Path, reference: str,
                                                   inserted: str) -> None:
    text, items = complete(lsp, folder, SMALL_JSON.replace("BLOCK", '"relu"').replace("IN", reference),
                           ".vibench.json")
    stem = next(i for i in items if i["label"] == "stem")
    assert stem["textEdit"]["newText"] == inserted
    assert json.loads(apply(text, [stem["textEdit"]]))["nodes"]["fc"]["in"] == "stem"


def test_a_json_boolean_is_inserted_bare(lsp: LanguageServer, folder: Path) -> None:
    spec = SMALL_JSON.replace("BLOCK", '"linear"').replace("IN", '"stem", "out_features": 3, "bias": ⟨⟩')
    text, items = complete(lsp, folder, spec, ".vibench.json")
    true = next(i for i in items if i["label"] == "true")
    assert json.loads(apply(text, [true["textEdit"]]))["nodes"]["fc"]["bias"] is True


# --------------------------------------------------------------------------------------------
# keys: with their colon, after a closing quote, quoted in JSON
# --------------------------------------------------------------------------------------------

KEYS = ("vibench: 1\nname: K\ninputs:\n  x: {shape: [B, 4]}\nnodes:\n"
        "  fc: {block: linear, in: x, out_features: 4, KEY}\noutputs:\n  y: fc\n")
KEYS_BLOCK = ("vibench: 1\nname: K\ninputs:\n  x: {shape: [B, 4]}\nnodes:\n  fc:\n    block: linear\n    in: x\n"
              "    out_features: 4\n    KEY\noutputs:\n  y: fc\n")
KEYS_JSON = ('{\n  "vibench": 1,\n  "name": "K",\n  "inputs": {"x": {"shape": ["B", 4]}},\n'
             '  "nodes": {"fc": {"block": "linear", "in": "x", "out_features": 4, KEY}},\n'
             '  "outputs": {"y": "fc"}\n}\n')


@pytest.mark.parametrize(("template", "key", "suffix", "written"), [
    (KEYS, '"⟨⟩"', ".yaml", '"bias": '),  # a quote the editor closed: the colon goes after it
    (KEYS, '"bi⟨⟩"', ".yaml", '"bias": '),
    (KEYS, "'bi⟨⟩'", ".yaml", "'bias': "),
    (KEYS, "bi⟨⟩", ".yaml", "bias: "),
    (KEYS, '"bi⟨⟩": false', ".yaml", '"bias": false'),  # a colon follows already: only the name changes
    (KEYS_BLOCK, '"⟨⟩"', ".yaml", '"bias": '),
    (KEYS_JSON, "bi⟨⟩", ".json", '"bias": '),  # typed without its quote in JSON: a JSON string, and its colon
    (KEYS_JSON, '"bi⟨⟩"', ".json", '"bias": '),
    (KEYS_JSON, '"⟨⟩"', ".json", '"bias": '),
    (KEYS_JSON, "bi⟨⟩: false", ".json", '"bias": false'),
])
def test_a_key_is_written_with_its_colon_after_its_quotes(lsp: LanguageServer, folder: Path, template: str,
                                                          key: str, suffix: str, written: str) -> None:
    """What a completed key leaves compiles once its value is typed (`false`, where none is written)."""
    import vibench

    text, items = complete(lsp, folder, template.replace("KEY", key), suffix)
    (bias,) = [i for i in items if i["label"] == "bias"]
    done = apply(text, [bias["textEdit"]])
    assert done == template.replace("KEY", written)
    finished = done.replace(written, written + "false") if written.endswith(": ") else done
    if suffix == ".json":
        assert json.loads(finished)["nodes"]["fc"]["bias"] is False
    vibench.check(text=finished)
