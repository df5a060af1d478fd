"""Editor support, checked with the real yaml-language-server over LSP (tests/lsp/).

Each behaviour is asserted by position on three kinds of spec: an example, a library-style template
and a generated 200-node spec. The documents are opened at their own paths with probe nodes added
in memory, so each finds the committed schema through its own ``# yaml-language-server`` modeline.
What is expected comes from the block registry and the pydantic models, never from the schema.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import vibench
from tests.lsp.client import LanguageServer, file_uri
from tests.lsp.server import ROOT, SCHEMA_LEVEL, marked
from vibench.compiler import registry
from vibench.schemas.document import NODE_KEYS, SpecDocument
from vibench.schemas.jsonschema import build_schema

EXAMPLE = ROOT / "examples" / "resnet18_1d.yaml"
LIBRARY_FIXTURE = ROOT / "tests" / "editor_cases" / "library"
TEMPLATE = LIBRARY_FIXTURE / "demo" / "TinyNet.yaml"
LIBRARY_SPECS = sorted((ROOT / "vibench" / "specs").rglob("*.yaml"))
BLOCKS = registry.all_blocks()
DOCUMENT_KEYS = {f.alias or name for name, f in SpecDocument.model_fields.items()}
PROPERTY = 10  # LSP CompletionItemKind


def big_spec(n: int = 200) -> str:
    """A valid spec of ``n`` nodes: a chain of conv / norm / activation / residual stages."""
    lines = ["# yaml-language-server: $schema=../vibench/schemas/spec.schema.json", "vibench: 1",
             "name: Big", "inputs:", "  x: {shape: [B, 8, L]}", "nodes:"]
    prev = "x"
    for i in range(n):
        kind = i % 4
        if kind == 0:
            lines.append(f"  n{i}: {{block: conv1d, in: {prev}, out_channels: 8, kernel_size: 3, padding: 1}}")
        elif kind == 1:
            lines.append(f"  n{i}: {{block: batch_norm1d, in: {prev}}}")
        elif kind == 2:
            lines.append(f"  n{i}: {{block: gelu, in: {prev}, approximate: tanh}}")
        else:
            lines.append(f"  n{i}: {{block: add, in: [{prev}, n{i - 3}]}}")
        prev = f"n{i}"
    lines += ["outputs:", f"  y: {prev}", ""]
    return "\n".join(lines)


# Specs under test: (path the document is opened at, its text).
SPECS = {
    "example": (EXAMPLE, EXAMPLE.read_text()),
    "library-style": (TEMPLATE, TEMPLATE.read_text()),
    "200-nodes": (ROOT / "examples" / "_generated_200_nodes.yaml", big_spec()),
}
# Library specs that define nodes get the same probes (templates that only `extends:` have none).
SPECS.update({f"library:{p.relative_to(ROOT / 'vibench' / 'specs')}": (p, p.read_text()) for p in LIBRARY_SPECS
              if "\nnodes:\n" in p.read_text()})


def with_probe(text: str, probe: str) -> str:
    """``text`` with ``probe`` (block-style lines at node indentation) first under ``nodes:``."""
    lines = text.split("\n")
    at = lines.index("nodes:") + 1
    return "\n".join(lines[:at] + probe.strip("\n").split("\n") + lines[at:])


def language(path: Path) -> str:
    return "json" if path.suffix == ".json" else "yaml"


def complete(server: LanguageServer, path: Path, text: str) -> dict[str, list[dict]]:
    """Completion items at every ``⟨mark⟩`` of ``text`` opened as ``path``."""
    clean, marks = marked(text)
    uri = file_uri(path)
    server.open(uri, clean, language(path))
    try:
        return {name: server.completion(uri, *pos) for name, pos in marks.items()}
    finally:
        server.close(uri)


def docs(item: dict) -> str:
    doc = item.get("documentation") or ""
    return doc["value"] if isinstance(doc, dict) else doc


def labels(items: list[dict]) -> set[str]:
    return {i["label"] for i in items}


def keys(items: list[dict]) -> set[str]:
    """The property names offered (not the values or snippets)."""
    return {i["label"] for i in items if i.get("kind") == PROPERTY}


# --------------------------------------------------------------------------------------------
# completion
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", SPECS)
def test_block_names_complete_with_their_descriptions(yaml_server: LanguageServer, spec: str) -> None:
    path, text = SPECS[spec]
    lines = text.split("\n")
    # replace an existing name (a `block:` key, not the words "block: lstm" inside a doc string)
    existing = re.search(r"(?:\{|^[ -]*)block: (" + "|".join(BLOCKS) + r")\b", text, re.M)
    assert existing or spec.startswith("library:"), f"{spec} has no catalogue node to edit"
    if existing:
        start = existing.start(1) - len("block: ")  # where the key begins
        line = text[:start].count("\n")
        col = start - text.rfind("\n", 0, start) - 1 + len("block: ") + 1
        lines[line] = lines[line][:col] + "⟨replace⟩" + lines[line][col:]
    probed = with_probe("\n".join(lines), "  probe:\n    block: ⟨new⟩\n    in: x")
    found = complete(yaml_server, path, probed)
    for mark in found:
        by_label = {i["label"]: i for i in found[mark]}
        assert set(BLOCKS) <= set(by_label), f"{mark}: missing {sorted(set(BLOCKS) - set(by_label))}"
        for name, block in BLOCKS.items():
            assert block.description in docs(by_label[name]), (mark, name, docs(by_label[name]))


def _param_expectations(name: str) -> dict[str, list[str]]:
    """For each parameter of block ``name``: texts its completion documentation must hold."""
    out = {}
    for field, info in BLOCKS[name].Params.model_fields.items():
        texts = [info.description or ""]
        if info.is_required():
            texts.append("; required")
        elif info.get_default(call_default_factory=True) is not None:
            texts.append(f"; default `{json.dumps(info.get_default(call_default_factory=True))}`")
        if info.annotation in (int, float, bool, str):
            texts.append(f"`{info.annotation.__name__}`")
        for bound in info.metadata:
            for attr, sign in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
                if getattr(bound, attr, None) is not None:
                    texts.append(f"{sign} {getattr(bound, attr)}")
        out[field] = texts
    return out


@pytest.mark.parametrize("block", BLOCKS)
def test_only_the_chosen_blocks_parameters_complete(yaml_server: LanguageServer, block: str) -> None:
    """Exactly this block's keys (no other block's, e.g. relu6 or conv_transpose1d), documented."""
    path, text = SPECS["example"]
    found = complete(yaml_server, path, with_probe(text, f"  probe:\n    block: {block}\n    ⟨keys⟩"))["keys"]
    fields = BLOCKS[block].Params.model_fields
    assert keys(found) == set(fields) | set(NODE_KEYS[1:])
    by_label = {i["label"]: i for i in found if i.get("kind") == PROPERTY}
    for field, texts in _param_expectations(block).items():
        for piece in texts:
            assert piece in docs(by_label[field]), (field, piece, docs(by_label[field]))


@pytest.mark.parametrize("spec", SPECS)
def test_parameter_completion_in_each_spec(yaml_server: LanguageServer, spec: str) -> None:
    path, text = SPECS[spec]
    probe = ("  probe_a:\n    block: conv1d\n    in: x\n    out_channels: 4\n    ⟨conv⟩\n"
             "  probe_b:\n    block: conv_transpose1d\n    ⟨deconv⟩")
    found = complete(yaml_server, path, with_probe(text, probe))
    conv = set(BLOCKS["conv1d"].Params.model_fields)
    deconv = set(BLOCKS["conv_transpose1d"].Params.model_fields)
    assert keys(found["conv"]) == (conv | set(NODE_KEYS[1:])) - {"in", "out_channels"}
    assert "output_padding" not in labels(found["conv"])
    assert keys(found["deconv"]) == deconv | set(NODE_KEYS[1:])
    stride = next(i for i in found["conv"] if i["label"] == "stride")
    assert stride["insertText"] == "stride: ${1:1}"  # the default is the placeholder


def test_block_names_sharing_a_prefix_do_not_leak(yaml_server: LanguageServer, tmp_path: Path) -> None:
    """`lin` is a prefix of `linear`: each offers only its own parameters (anchored `pattern`)."""
    from pydantic import Field

    from vibench.compiler.blocks.base import Block
    from vibench.schemas.blocks import BlockParams

    class LinParams(BlockParams):
        width: int = Field(ge=1, description="Only `lin` has this.")

    class Lin(Block):
        """A test block whose name is a prefix of `linear`."""

        name = "lin"
        Params = LinParams

    schema = build_schema(blocks={**BLOCKS, "lin": Lin()})
    (tmp_path / "prefix.schema.json").write_text(json.dumps(schema))
    text = ("# yaml-language-server: $schema=prefix.schema.json\nvibench: 1\nname: P\ninputs: {x: {shape: [B, 4]}}\n"
            "nodes:\n  a:\n    block: lin\n    ⟨lin⟩\n  b:\n    block: linear\n    ⟨linear⟩\noutputs: {y: b}\n")
    found = complete(yaml_server, tmp_path / "prefix.yaml", text)
    assert keys(found["lin"]) == {"width"} | set(NODE_KEYS[1:])
    assert keys(found["linear"]) == set(BLOCKS["linear"].Params.model_fields) | set(NODE_KEYS[1:])


@pytest.mark.parametrize("spec", SPECS)
def test_new_node_snippets_insert_the_required_keys(yaml_server: LanguageServer, spec: str) -> None:
    path, text = SPECS[spec]
    found = complete(yaml_server, path, with_probe(text, "  ⟨node⟩"))["node"]
    snippets = {i["label"]: i for i in found}
    for name, block in BLOCKS.items():
        item = snippets[f"new {name} node"]
        body = item["insertText"]
        assert body.startswith("${1:") and f"\n  block: {name}\n  in: ${{2:input}}" in body, body
        for field, info in block.Params.model_fields.items():
            assert (f"\n  {field}: " in body) == info.is_required(), (name, field, body)


def test_top_level_keys_complete(yaml_server: LanguageServer) -> None:
    text = "# yaml-language-server: $schema=../vibench/schemas/spec.schema.json\nvibench: 1\n⟨top⟩\n"
    found = complete(yaml_server, ROOT / "examples" / "_new.yaml", text)["top"]
    assert keys(found) == DOCUMENT_KEYS - {"vibench"}
    assert all(docs(i) for i in found)


def test_extends_names_and_with_parameters_complete(yaml_server: LanguageServer, tmp_path: Path) -> None:
    """The schema of a spec path lists its templates; `with:` offers the extended one's parameters."""
    from vibench.schemas.jsonschema import schema_text

    (tmp_path / "lib.schema.json").write_text(schema_text(search_path=[str(LIBRARY_FIXTURE)]))
    params = vibench.load_spec(str(TEMPLATE)).params
    head = "# yaml-language-server: $schema=lib.schema.json\nvibench: 1\nname: Mine\n"
    found = complete(yaml_server, tmp_path / "mine.yaml", head + "extends: ⟨name⟩\n")["name"]
    item = next(i for i in found if i["label"] == "demo/TinyNet")
    assert "A small 1D CNN" in docs(item)
    found = complete(yaml_server, tmp_path / "mine.yaml", head + "extends: demo/TinyNet\nwith:\n  width: 8\n  ⟨with⟩\n")
    assert keys(found["with"]) == set(params) - {"width"}
    depth = next(i for i in found["with"] if i["label"] == "depth")
    assert "Number of stages." in docs(depth) and ">= 1, <= 8" in docs(depth)


def test_committed_schema_lists_the_library_templates(yaml_server: LanguageServer) -> None:
    from vibench.compiler.library_index import template_names

    text = "# yaml-language-server: $schema=../vibench/schemas/spec.schema.json\nvibench: 1\nextends: ⟨name⟩\n"
    found = complete(yaml_server, ROOT / "examples" / "_new.yaml", text)["name"]
    assert set(template_names()) <= labels(found)


def test_isfm_slots_complete_with_their_components(yaml_server: LanguageServer) -> None:
    """`with:` of isfm/M_01_ISFM offers its parameters, and a slot offers the specs of its folder."""
    head = "# yaml-language-server: $schema=../vibench/schemas/spec.schema.json\nvibench: 1\nextends: isfm/M_01_ISFM\n"
    found = complete(yaml_server, ROOT / "examples" / "_isfm.yaml", head + "with:\n  backbone: ⟨slot⟩\n  ⟨with⟩\n")
    assert {"B_04_Dlinear", "B_06_TimesNet", "B_08_PatchTST", "B_09_FNO"} <= labels(found["slot"])
    assert not {"E_01_HSE", "H_01_Linear_cla"} & labels(found["slot"])  # nothing from another folder
    assert {"embedding", "task_head", "task_configs", "ensemble_backbones", "fusion_strategy"} <= keys(found["with"])


def test_per_template_schema(yaml_server: LanguageServer, tmp_path: Path) -> None:
    """`vibench-compile schema --template NAME` completes and checks that template's `with:`."""
    out = tmp_path / "tiny.schema.json"
    cli = Path(sys.executable).with_name("vibench-compile")
    run = subprocess.run([str(cli), "schema", "--template", "demo/TinyNet", "-I", str(LIBRARY_FIXTURE),
                          "-o", str(out)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    text = ("# yaml-language-server: $schema=tiny.schema.json\nvibench: 1\nextends: demo/TinyNet\n"
            "with:\n  depth: 9\n  ⟨with⟩\nnodes: {}\n")
    clean, marks = marked(text)
    uri = file_uri(tmp_path / "mine.yaml")
    yaml_server.open(uri, clean)
    try:
        offered = keys(yaml_server.completion(uri, *marks["with"]))
        lines = {d["range"]["start"]["line"] + 1: d["message"] for d in yaml_server.diagnostics(uri)}
    finally:
        yaml_server.close(uri)
    assert offered == set(vibench.load_spec(str(TEMPLATE)).params) - {"depth"}
    assert "maximum" in lines[5]  # depth: 9 > 8
    assert "not allowed" in lines[7]  # `nodes:` next to `extends:`


# --------------------------------------------------------------------------------------------
# hover
# --------------------------------------------------------------------------------------------


def test_hover_on_keys_and_block_names(yaml_server: LanguageServer) -> None:
    text = EXAMPLE.read_text()
    lines = text.split("\n")
    row = next(i for i, line in enumerate(lines) if line.startswith("  conv1: {block: conv1d"))
    block_row = next(i for i, line in enumerate(lines) if "block: Shortcut" in line)
    uri = file_uri(EXAMPLE)
    yaml_server.open(uri, text)
    try:
        def hover(r: int, needle: str) -> str:
            return yaml_server.hover(uri, r, lines[r].index(needle) + 1)

        conv = BLOCKS["conv1d"]
        for shown in (hover(row, "block"), hover(row, "conv1d")):
            assert shown.startswith("#### conv1d") and conv.description in shown
        out_channels = hover(row, "out_channels")
        assert "out\\_channels" in out_channels and "Output channels." in out_channels and "`int`" in out_channels
        assert "One entry per dimension" in hover(lines.index("inputs:") + 1, "shape")
        assert SpecDocument.model_fields["nodes"].description in hover(lines.index("nodes:"), "nodes")
        assert "composite block" in hover(block_row, "Shortcut")
    finally:
        yaml_server.close(uri)


# --------------------------------------------------------------------------------------------
# whole specs: no false alarms, and the 200-node latency
# --------------------------------------------------------------------------------------------


EXAMPLES = sorted(p for p in (ROOT / "examples").iterdir() if p.suffix in (".yaml", ".json"))
VALID = {**SPECS, **{f"examples/{p.name}": (p, p.read_text()) for p in EXAMPLES},
         **{f"library:{p.relative_to(ROOT / 'vibench' / 'specs')}": (p, p.read_text()) for p in LIBRARY_SPECS}}


@pytest.mark.parametrize("spec", VALID)
def test_valid_specs_get_no_diagnostics(yaml_server: LanguageServer, spec: str) -> None:
    path, text = VALID[spec]
    uri = file_uri(path)
    yaml_server.open(uri, text, language(path))
    try:
        assert yaml_server.diagnostics(uri) == []
    finally:
        yaml_server.close(uri)
    try:  # the compiler agrees, at the schema level (a template may still need --set values)
        if spec == "200-nodes":
            vibench.check(text=text)
        else:
            vibench.check(str(path), search_path=[str(LIBRARY_FIXTURE)])
    except vibench.SpecError as err:
        assert not SCHEMA_LEVEL & set(err.codes), err


def probe_200_nodes() -> tuple[Path, str, dict[str, tuple[int, int]]]:
    """The 200-node spec with a block-name probe in its last node and a parameter probe after it."""
    path, text = SPECS["200-nodes"]
    lines = text.split("\n")
    last = max(i for i, line in enumerate(lines) if line.startswith("  n"))
    probe = lines[last].index("block: ") + len("block: ")
    lines[last] = lines[last][:probe] + "⟨value⟩" + lines[last][probe:]
    lines.insert(last + 1, "  tail:\n    block: conv1d\n    ⟨keys⟩")
    clean, marks = marked("\n".join(lines))
    return path, clean, marks


def test_completion_works_on_200_nodes(yaml_server: LanguageServer) -> None:
    """Completion deep in a 200-node spec offers every block, then conv1d's parameters (its latency is
    measured by benchmarks/editor_latency.py)."""
    path, clean, marks = probe_200_nodes()
    uri = file_uri(path)
    yaml_server.open(uri, clean)
    try:
        yaml_server.diagnostics(uri)
        names = labels(yaml_server.completion(uri, *marks["value"]))
        params = keys(yaml_server.completion(uri, *marks["keys"]))
    finally:
        yaml_server.close(uri)
    assert set(BLOCKS) <= names
    assert {"out_channels", "kernel_size", "stride"} <= params and "out_features" not in params


def test_json_specs_work_through_dollar_schema(yaml_server: LanguageServer) -> None:
    """A JSON spec names its schema with `"$schema"`: the same completion, hover and diagnostics."""
    path = ROOT / "examples" / "tiny_cnn.json"
    text = path.read_text()
    assert json.loads(text)["$schema"] == "../vibench/schemas/spec.schema.json"
    probed = text.replace('"conv2": {"block": "conv1d"', '"conv2": {"block": "⟨value⟩conv1d"')
    indent = " " * (text.index('{"block": "conv1d", "in": "act1"') - text.rfind("\n", 0, text.index('"conv2"')))
    probed = probed.replace('"padding": 1},', f'"padding": 1,\n{indent}⟨keys⟩\n    }},')
    found = complete(yaml_server, path, probed)
    assert set(BLOCKS) <= labels(found["value"])
    offered = set(BLOCKS["conv1d"].Params.model_fields) | set(NODE_KEYS[2:])  # all but `block`, `in` (given)
    assert keys(found["keys"]) == offered - {"out_channels", "kernel_size", "padding"}
    broken = text.replace('"block": "linear"', '"block": "lineer"')
    row = next(i for i, line in enumerate(broken.split("\n")) if "lineer" in line)
    # A uri of its own (beside the example, so that `$schema` resolves the same): yaml-language-server publishes
    # without a version, and the clearing of the completion document's diagnostics could arrive after this open
    # and pass for its diagnostics (seen once in CI with two test workers: [] instead of [21]).
    uri = file_uri(path.with_name("tiny_cnn_broken.json"))
    yaml_server.open(uri, broken, "json")
    try:
        assert [d["range"]["start"]["line"] for d in yaml_server.diagnostics(uri)] == [row]
        hover = yaml_server.hover(uri, row - 1, broken.split("\n")[row - 1].index("flatten") + 1)
        assert BLOCKS["flatten"].description in hover
    finally:
        yaml_server.close(uri)
