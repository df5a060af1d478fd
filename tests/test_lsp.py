"""vibench-lsp, driven over real LSP JSON-RPC (tests/lsp/client.py; the server runs as
``python -m vibench.lsp`` in a subprocess).

Each capability is asserted on a multi-node spec (a composite, a multi-output node, a parameter) by
exact items and ranges; what is expected comes from the compiler, the block registry and the spec
library, never from the server. Every wait is for a notification or answer, with a generous
timeout: nothing depends on timing. The last tests check the tolerant outline the features read the
text with, directly.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("pygls", reason="vibench-lsp needs the `lsp` extra (pygls): pip install -r requirements-dev.txt")

from tests.lsp.client import LanguageServer, file_uri  # noqa: E402
from tests.lsp.server import ROOT, marked  # noqa: E402
from tests.lsp.vibench_lsp import start_vibench_server  # noqa: E402
from vibench.compiler import registry  # noqa: E402
from vibench.compiler.symbolic import fmt_shape  # noqa: E402
from vibench.schemas.document import NODE_KEYS  # noqa: E402

BLOCKS = registry.all_blocks()
PROBE = """\
vibench: 1
name: Probe
doc: A probe model for the language server tests.
params:
  width: {type: int, default: 8, ge: 1, doc: Channels of the stem.}
blocks:
  ConvAct:
    doc: A convolution and a ReLU.
    params: {cout: {type: int, doc: Output channels.}}
    inputs: {x: {shape: [B, C, L]}}
    nodes:
      conv: {block: conv1d, in: x, out_channels: "${cout}", kernel_size: 3, padding: 1}
      act: {block: relu, in: ⟨inner_ref⟩conv}
    outputs: {y: act}
inputs:
  ⟨input⟩x: {shape: [B, 4, L], doc: Raw signal.}
nodes:
  ⟨stem⟩stem: {block: ⟨conv1d⟩conv1d, in: x, out_channels: "${width}", ⟨kernel⟩kernel_size: 5, stride: 2}
  body: {block: ⟨composite⟩ConvAct, in: stem, cout: 16}
  seq: {block: transpose, in: body, dim0: 1, dim1: 2}
  rnn: {block: lstm, in: seq, hidden_size: 32}
  pool: {block: mean, in: ⟨port_ref⟩rnn.out, dim: 1}
  fc: {block: linear, in: ⟨ref⟩pool, out_features: 3}
outputs:
  logits: fc
"""


def check(text: str):
    import vibench

    return vibench.check(text=text)


@dataclass
class Opened:
    uri: str
    text: str
    marks: dict[str, tuple[int, int]]
    diagnostics: list[dict]


TINY_NET = """\
vibench: 1
name: TinyNet
doc: A tiny template on the spec path of the language server tests.
params:
  width: {type: int, default: 8, ge: 1, doc: Hidden width.}
  expected: {type: int, default: 8, doc: Features the head expects.}
inputs: {x: {shape: [B, 4]}}
nodes:
  hidden: {block: linear, in: x, out_features: "${width}"}
  head: {block: linear, in: hidden, in_features: "${expected}", out_features: 2}
outputs: {y: head}
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lsp")


@pytest.fixture(scope="module")
def spec_path(folder: Path) -> Path:
    """A folder of the server's spec search path (set through `workspace/didChangeConfiguration`)."""
    library = folder / "library"
    (library / "mine").mkdir(parents=True)
    (library / "mine" / "TinyNet.yaml").write_text(TINY_NET)
    return library


@pytest.fixture(scope="module")
def lsp(spec_path: Path):
    server = start_vibench_server(settings={"vibench": {"specPath": [str(spec_path)]}})
    yield server
    server.shutdown()


_NUMBER = itertools.count()


def open_doc(lsp: LanguageServer, folder: Path, text: str, suffix: str = ".yaml") -> Opened:
    """Write ``text`` (without its ⟨marks⟩) to a new file, open it, and wait for its first check."""
    clean, marks = marked(text)
    path = folder / f"doc{next(_NUMBER)}{suffix}"
    path.write_text(clean)
    uri = file_uri(path)
    lsp.open(uri, clean, "json" if suffix == ".json" else "yaml")
    return Opened(uri, clean, marks, lsp.diagnostics(uri))


def labels(items: list[dict]) -> set[str]:
    return {i["label"] for i in items}


def doc_text(item: dict) -> str:
    doc = item.get("documentation") or ""
    return doc["value"] if isinstance(doc, dict) else doc


def rng(line: int, start: int, end: int) -> dict:
    return {"start": {"line": line, "character": start}, "end": {"line": line, "character": end}}


def key_range(text: str, line_prefix: str, key: str) -> dict:
    """The range of ``key`` on the line that starts with ``line_prefix``."""
    lines = text.split("\n")
    number = next(i for i, line in enumerate(lines) if line.startswith(line_prefix))
    col = lines[number].index(key)
    return rng(number, col, col + len(key))


# --------------------------------------------------------------------------------------------
# diagnostics
# --------------------------------------------------------------------------------------------


def test_a_valid_spec_has_no_diagnostics(lsp: LanguageServer, folder: Path) -> None:
    assert open_doc(lsp, folder, PROBE).diagnostics == []


def test_a_shape_error_appears_at_its_node_and_clears_when_fixed(lsp: LanguageServer, folder: Path) -> None:
    doc = open_doc(lsp, folder, PROBE)
    broken = doc.text.replace("fc: {block: linear, in: pool,", "fc: {block: linear, in: pool, in_features: 64,")
    expected = _compiler_diagnostics(broken)
    assert [d.code for d in expected] == ["E301"]
    lsp.change(doc.uri, broken)
    found = lsp.diagnostics(doc.uri)
    fc_line = next(i for i, line in enumerate(broken.split("\n")) if line.startswith("  fc:"))
    assert [(d["code"], d["range"]["start"]["line"], d["severity"], d["source"]) for d in found] == \
        [("E301", fc_line, 1, "vibench")]
    pos = expected[0].pos
    assert found[0]["range"]["start"] == {"line": pos.line - 1, "character": pos.col - 1}
    assert found[0]["message"].startswith(expected[0].message)
    assert f"expected: {expected[0].expected}" in found[0]["message"]
    lsp.change(doc.uri, doc.text)
    assert lsp.diagnostics(doc.uri) == []


def _compiler_diagnostics(text: str) -> list:
    import vibench

    with pytest.raises(vibench.SpecError) as info:
        vibench.check(text=text)
    return list(info.value.diagnostics)


def test_did_you_mean_diagnostics_get_a_quick_fix(lsp: LanguageServer, folder: Path) -> None:
    doc = open_doc(lsp, folder, PROBE.replace("{block: linear,", "{block: lineer,"))
    line = next(i for i, text in enumerate(doc.text.split("\n")) if text.startswith("  fc:"))
    col = doc.text.split("\n")[line].index("lineer")
    assert [(d["code"], d["range"]) for d in doc.diagnostics] == [("E110", rng(line, col, col + 6))]
    assert "hint: did you mean `linear`?" in doc.diagnostics[0]["message"]
    actions = lsp.code_actions(doc.uri, doc.diagnostics)
    assert [(a["title"], a["kind"], a["isPreferred"]) for a in actions] == \
        [("Replace `lineer` with `linear`", "quickfix", True)]
    assert actions[0]["edit"]["changes"] == {doc.uri: [{"range": rng(line, col, col + 6), "newText": "linear"}]}
    lsp.change(doc.uri, doc.text.replace("lineer", "linear"))
    assert lsp.diagnostics(doc.uri) == []


def test_a_misspelt_reference_is_fixed_in_place(lsp: LanguageServer, folder: Path) -> None:
    doc = open_doc(lsp, folder, PROBE.replace("in: ⟨port_ref⟩rnn.out", "in: rnm.out"))
    line = next(i for i, text in enumerate(doc.text.split("\n")) if text.startswith("  pool:"))
    col = doc.text.split("\n")[line].index("rnm.out")
    assert [(d["code"], d["range"]["start"]) for d in doc.diagnostics] == [("E401", {"line": line, "character": col})]
    actions = lsp.code_actions(doc.uri, doc.diagnostics)
    assert actions[0]["edit"]["changes"][doc.uri] == [{"range": rng(line, col, col + 3), "newText": "rnn"}]


def test_warnings_are_published_as_warnings(lsp: LanguageServer, folder: Path) -> None:
    config = ("model:\n  type: CNN\n  name: ResNet1D\n  input_dim: 1\n  num_classes: 4\n  block_typ: basic\ntask:\n"
              "  name: classification\n")
    doc = open_doc(lsp, folder, config)
    assert [(d["code"], d["severity"], d["range"]["start"]["line"]) for d in doc.diagnostics] == [("W103", 2, 5)]
    assert "did you mean `block_type`?" in doc.diagnostics[0]["message"]


def test_an_error_inside_a_template_is_shown_at_the_reference(lsp: LanguageServer, folder: Path,
                                                             spec_path: Path) -> None:
    """`mine/TinyNet` is found on the configured spec path; an error its `with:` causes inside it is
    shown on the setting it comes from (`width: 6`), with the template's node as related information;
    one that no setting explains is shown on `extends:`, likewise linked."""
    doc = open_doc(lsp, folder, "vibench: 1\nextends: mine/TinyNet\nwith: {width: 8}\n")
    assert doc.diagnostics == []
    lsp.change(doc.uri, "vibench: 1\nextends: mine/TinyNet\nwith: {width: 6}\n")
    (found,) = lsp.diagnostics(doc.uri)
    template = spec_path / "mine" / "TinyNet.yaml"
    head_line = TINY_NET.split("\n").index(next(x for x in TINY_NET.split("\n") if x.startswith("  head:")))
    assert (found["code"], found["range"]) == ("E301", rng(2, 14, 15))
    assert f"{template}:{head_line + 1}:" in found["message"]  # the note naming the template's node
    (related,) = found["relatedInformation"]
    assert related["location"]["uri"] == template.as_uri()
    assert related["location"]["range"]["start"]["line"] == head_line
    # an error no setting explains (the head expects 5 features whatever `width` is): on `extends:`
    (folder / "Broken.yaml").write_text(TINY_NET.replace('"${expected}"', "5"))
    broken = open_doc(lsp, folder, "vibench: 1\nextends: ./Broken.yaml\nwith: {width: 6}\n")
    (found,) = [d for d in broken.diagnostics if d["code"] == "E301"]  # (and the template's W105)
    assert (found["code"], found["range"]) == ("E301", rng(1, 9, 22))
    assert found["message"].startswith("in ") and f"Broken.yaml:{head_line + 1}:" in found["message"]
    (related,) = found["relatedInformation"]
    assert related["location"]["range"]["start"]["line"] == head_line


def test_yaml_that_is_not_a_spec_is_left_alone(lsp: LanguageServer, folder: Path) -> None:
    doc = open_doc(lsp, folder, "name: CI\non: [push]\njobs:\n  test: {runs-on: ubuntu-latest, steps: [⟨here⟩]}\n")
    assert doc.diagnostics == []
    assert lsp.completion(doc.uri, *doc.marks["here"]) == []


# --------------------------------------------------------------------------------------------
# completion
# --------------------------------------------------------------------------------------------


def test_block_names_complete_with_their_descriptions(lsp: LanguageServer, folder: Path) -> None:
    from vibench.compiler.library_index import template_names

    doc = open_doc(lsp, folder, PROBE.replace("  seq: {block: transpose,", "  seq: {block: tr⟨here⟩,"))
    items = lsp.completion(doc.uri, *doc.marks["here"])
    assert labels(items) == set(BLOCKS) | {"ConvAct"} | set(template_names()) | {"mine/TinyNet"}
    by_label = {i["label"]: i for i in items}
    line, col = doc.marks["here"]
    assert by_label["transpose"]["textEdit"] == {"range": rng(line, col - 2, col), "newText": "transpose"}
    for name, block in BLOCKS.items():
        assert by_label[name]["detail"] == block.description
    assert by_label["ConvAct"]["detail"] == "A convolution and a ReLU."
    resolved = lsp.resolve(by_label["conv1d"])
    for field in BLOCKS["conv1d"].Params.model_fields:
        assert f"`{field}`" in doc_text(resolved)


def test_a_number_parameter_completes_the_specs_parameter_names(lsp: LanguageServer, folder: Path) -> None:
    doc = open_doc(lsp, folder, PROBE.replace('out_channels: "${width}"', "out_channels: wi⟨here⟩"))
    items = lsp.completion(doc.uri, *doc.marks["here"])
    assert "width" in labels(items)
    assert {i["detail"] for i in items if i["label"] == "width"} == {"parameter of this spec"}


def test_the_servers_node_keys_are_the_languages() -> None:
    from vibench.lsp.document import NODE_KEYS as SERVER_NODE_KEYS

    assert SERVER_NODE_KEYS == NODE_KEYS


def test_a_slot_value_of_a_nodes_template_block_hovers_and_jumps_to_the_component(lsp: LanguageServer,
                                                                                   folder: Path) -> None:
    """`backbone: B_08_PatchTST` in a node whose block is isfm/M_01_ISFM: as under `with:` (nothing before)."""
    doc = open_doc(lsp, folder, "vibench: 1\nname: Two\ninputs: {x: {shape: [B, 1024, 2]}}\nnodes:\n"
                   "  m: {block: isfm/M_01_ISFM, in: x, backbone: B_08_Patch⟨here⟩TST}\noutputs: {y: m.logits}\n")
    line, col = doc.marks["here"]
    assert "PatchTST" in lsp.hover(doc.uri, line, col)
    (target,) = lsp.definition(doc.uri, line, col)
    assert target["uri"].endswith("/isfm/backbone/B_08_PatchTST.yaml")


@pytest.mark.parametrize(("key", "offered"), [("when", "flag"), ("checkpoint", "flag"), ("repeat", "width"),
                                               ("for_each", "sizes")])
def test_a_node_key_that_takes_a_name_completes_the_specs_parameter_names(lsp: LanguageServer, folder: Path,
                                                                           key: str, offered: str) -> None:
    """`when: flag`, `checkpoint: flag` (and true/false), `repeat: width`, `for_each: sizes`: the spec's names of
    the type the key takes (`repeat: flag` would be E211)."""
    text = PROBE.replace("kernel_size: 5, stride: 2}", f"kernel_size: 5, stride: 2, {key}: ⟨here⟩}}").replace(
        "  width: {type: int, default: 8, ge: 1, doc: Channels of the stem.}\n",
        "  width: {type: int, default: 8, ge: 1, doc: Channels of the stem.}\n  flag: false\n"
        "  sizes: {type: \"list[int]\", default: [1, 2]}\n")
    doc = open_doc(lsp, folder, text)
    got = labels(lsp.completion(doc.uri, *doc.marks["here"])) & {"width", "flag", "sizes", "true", "false"}
    assert got == {offered} | ({"true", "false"} if key in ("when", "checkpoint") else set())


def test_a_text_parameter_offers_no_parameter_names(lsp: LanguageServer, folder: Path) -> None:
    doc = open_doc(lsp, folder, PROBE.replace("kernel_size: 5, stride: 2}", "kernel_size: 5, stride: 2, "
                                              "padding_mode: ⟨here⟩}"))
    assert "width" not in labels(lsp.completion(doc.uri, *doc.marks["here"]))


def test_a_nodes_keys_complete_with_its_blocks_parameters(lsp: LanguageServer, folder: Path) -> None:
    doc = open_doc(lsp, folder, PROBE.replace("kernel_size: 5, stride: 2}", "kernel_size: 5, stride: 2, ⟨here⟩}")
                   .replace("cout: 16}", "cout: 16, ⟨composite_key⟩}"))
    items = lsp.completion(doc.uri, *doc.marks["here"])
    written = {"block", "in", "out_channels", "kernel_size", "stride"}
    assert labels(items) == (set(BLOCKS["conv1d"].Params.model_fields) | set(NODE_KEYS)) - written
    padding = next(i for i in items if i["label"] == "padding")
    field = BLOCKS["conv1d"].Params.model_fields["padding"]
    assert padding["detail"] == "int | 'same' | 'valid' = 0"
    assert field.description in doc_text(padding) and "default `0`" in doc_text(padding)
    line, col = doc.marks["here"]
    assert padding["textEdit"] == {"range": rng(line, col, col), "newText": "padding: "}
    composite = lsp.completion(doc.uri, *doc.marks["composite_key"])
    assert labels(composite) == set(NODE_KEYS) - {"block", "in"}  # `cout` is written
    fresh = open_doc(lsp, folder, PROBE.replace("cout: 16}", "}\n  extra:\n    block: ConvAct\n    ⟨key⟩"))
    cout = next(i for i in lsp.completion(fresh.uri, *fresh.marks["key"]) if i["label"] == "cout")
    assert cout["detail"] == "int (required)" and "Output channels." in doc_text(cout)


def test_node_references_complete_with_their_shapes(lsp: LanguageServer, folder: Path) -> None:
    """Completion reads the current (broken) text and the shapes of the last good check."""
    program = check(marked(PROBE)[0])
    doc = open_doc(lsp, folder, PROBE)
    edited, marks = marked(PROBE.replace("in: ⟨ref⟩pool", "in: po⟨here⟩").replace("logits: fc", "logits: ⟨output⟩")
                           .replace("in: ⟨inner_ref⟩conv", "in: [⟨inner⟩]"))
    lsp.change(doc.uri, edited)
    assert lsp.diagnostics(doc.uri)  # the edited text does not compile
    doc = Opened(doc.uri, edited, marks, [])
    items = lsp.completion(doc.uri, *doc.marks["here"])
    assert labels(items) == {"x", "stem", "body", "seq", "rnn", "rnn.out", "rnn.h_n", "rnn.c_n", "pool"}
    by_label = {i["label"]: i for i in items}
    root = program.root
    for node in root.nodes:
        if node.name != "fc":
            assert by_label[node.name]["detail"] == f"node {fmt_shape(node.outputs[0][1].shape)}"
    assert by_label["rnn.h_n"]["detail"] == f"output `h_n` of rnn {fmt_shape(root.node('rnn').output('h_n').shape)}"
    assert by_label["x"]["detail"] == "input [B, 4, L]"
    assert min(items, key=lambda i: i["sortText"])["label"] == "pool"  # the node just before
    line, col = doc.marks["here"]
    assert by_label["pool"]["textEdit"] == {"range": rng(line, col - 2, col), "newText": "pool"}
    assert labels(lsp.completion(doc.uri, *doc.marks["output"])) == labels(items) | {"fc"}
    assert labels(lsp.completion(doc.uri, *doc.marks["inner"])) == {"x", "conv"}  # the composite's own
    stale = lsp.hover(doc.uri, doc.marks["here"][0] - 1, 3)  # `pool:`, the line above, as last checked
    assert f"- parameters: {root.node('pool').param_count:,}" in stale
    assert "_as of the last successful check; the spec has changed since_" in stale


def test_references_complete_in_json_specs(lsp: LanguageServer, folder: Path) -> None:
    text = (ROOT / "examples" / "tiny_cnn.json").read_text()
    text = text.replace('"in": "conv1"', '"in": "co⟨here⟩"', 1)
    assert "⟨here⟩" in text
    doc = open_doc(lsp, folder, text, suffix=".json")
    items = lsp.completion(doc.uri, *doc.marks["here"])
    assert {"x", "conv1"} <= labels(items)
    line, col = doc.marks["here"]
    assert next(i for i in items if i["label"] == "conv1")["textEdit"]["range"] == rng(line, col - 2, col)


def test_templates_with_parameters_and_slot_values_complete(lsp: LanguageServer, folder: Path) -> None:
    from vibench.compiler.library_index import template_names
    from vibench.compiler.resolve import Library, slot_components

    doc = open_doc(lsp, folder, "vibench: 1\nextends: cnn/ResNet1D⟨extends⟩\nwith:\n  num_classes: 4\n  ⟨with⟩\n")
    assert labels(lsp.completion(doc.uri, *doc.marks["extends"])) == set(template_names()) | {"mine/TinyNet"}
    library = Library()
    resnet, _ = library.load(library.find("cnn/ResNet1D", None, None), None)
    items = lsp.completion(doc.uri, *doc.marks["with"])
    assert labels(items) == {p.name for p in resnet.params} - {"num_classes"}
    isfm = open_doc(lsp, folder, "vibench: 1\nextends: isfm/M_01_ISFM\nwith: {backbone: B_0⟨slot⟩, "
                                 "ensemble_backbones: [⟨list⟩]}\n")
    components = set(slot_components("isfm/backbone", Library()))
    assert labels(lsp.completion(isfm.uri, *isfm.marks["slot"])) == components
    assert labels(lsp.completion(isfm.uri, *isfm.marks["list"])) == components


def test_a_phm_config_completes_its_model_section(lsp: LanguageServer, folder: Path) -> None:
    from vibench.compiler.resolve import Library

    doc = open_doc(lsp, folder, "model:\n  type: CNN\n  name: Res⟨name⟩Net1D\n  input_dim: 1\n  num_classes: 4\n"
                                "  ⟨key⟩\ntask:\n  name: classification\n")
    library = Library()
    resnet, _ = library.load(library.find("cnn/ResNet1D", None, None), None)
    expected = {p.name for p in resnet.params} - {"num_classes", "input_dim"}
    assert labels(lsp.completion(doc.uri, *doc.marks["key"])) == expected
    names = labels(lsp.completion(doc.uri, *doc.marks["name"]))
    assert "ResNet1D" in names and all("/" not in n for n in names)


def test_document_keys_complete(lsp: LanguageServer, folder: Path) -> None:
    doc = open_doc(lsp, folder, PROBE.replace("outputs:\n  logits: fc", "outputs:\n  logits: fc\n⟨top⟩")
                   .replace("Raw signal.}", "Raw signal., ⟨input_key⟩}"))
    top = {"reference", "metadata", "let", "checks"}  # `extends:` (and `with:`) cannot join `nodes:` (E107)
    assert labels(lsp.completion(doc.uri, *doc.marks["top"])) == top
    assert labels(lsp.completion(doc.uri, *doc.marks["input_key"])) == {"dtype", "when", "optional", "layout", "as"}


# --------------------------------------------------------------------------------------------
# hover
# --------------------------------------------------------------------------------------------


def test_hover_on_a_node_shows_its_shape_parameters_and_flops(lsp: LanguageServer, folder: Path) -> None:
    doc = open_doc(lsp, folder, PROBE)
    root = check(doc.text).root
    stem = root.node("stem")
    text = lsp.hover(doc.uri, *doc.marks["stem"])
    assert text.split("\n")[:4] == [
        "**stem**: `conv1d`",
        f"- output: `{fmt_shape(stem.outputs[0][1].shape)}`",
        f"- parameters: {stem.param_count:,}",
        f"- FLOPs: `{stem.flops}`",
    ]
    rnn = root.node("rnn")  # hovering a reference (`rnn.out`) shows the node it reads, every port
    text = lsp.hover(doc.uri, *doc.marks["port_ref"])
    for port, tensor in rnn.outputs:
        assert f"- output `{port}`: `{fmt_shape(tensor.shape)}`" in text
    assert f"- parameters: {rnn.param_count:,}" in text
    inner = lsp.hover(doc.uri, *doc.marks["inner_ref"])  # a composite's node, per use
    assert inner.startswith("**conv**: `conv1d`") and "in `ConvAct` (cout=`16`):" in inner


def test_hover_on_an_input_shows_its_constraints(lsp: LanguageServer, folder: Path) -> None:
    doc = open_doc(lsp, folder, PROBE)
    (constraint,) = check(doc.text).root.constraints
    text = lsp.hover(doc.uri, *doc.marks["input"])
    assert text.split("\n")[:4] == ["**x** (input)", "- shape: `[B, 4, L]` float32", "- constraints:",
                                    f"  - `{constraint.text}` (stem): {constraint.reason}"]
    assert text.endswith("Raw signal.")


def test_hover_on_blocks_parameters_and_templates(lsp: LanguageServer, folder: Path) -> None:
    import inspect

    doc = open_doc(lsp, folder, PROBE)
    text = lsp.hover(doc.uri, *doc.marks["conv1d"])
    assert text.startswith("**conv1d** (block, ") and inspect.cleandoc(BLOCKS["conv1d"].long_description) in text
    field = BLOCKS["conv1d"].Params.model_fields["kernel_size"]
    assert lsp.hover(doc.uri, *doc.marks["kernel"]) == f"**kernel_size**: `int`, >= 1; required\n\n{field.description}"
    composite = lsp.hover(doc.uri, *doc.marks["composite"])
    assert composite.startswith("**ConvAct**\n\nA convolution and a ReLU.")
    assert "- `cout`: `int`, required — Output channels." in composite
    template = open_doc(lsp, folder, "vibench: 1\nextends: cnn/Res⟨extends⟩Net1D\n"
                                     "with: {num_classes: 4, ⟨p⟩block_type: basic}\n")
    program = check(template.text)
    text = lsp.hover(template.uri, *template.marks["extends"])
    assert f"{program.root.param_count:,} parameters" in text and "**cnn/ResNet1D**" in text
    assert lsp.hover(template.uri, *template.marks["p"]).startswith("**block_type**: `str`")


# --------------------------------------------------------------------------------------------
# navigation
# --------------------------------------------------------------------------------------------


def test_go_to_definition(lsp: LanguageServer, folder: Path) -> None:
    from vibench.compiler.resolve import LIBRARY_DIR

    doc = open_doc(lsp, folder, PROBE.replace("in: stem, cout", "in: ⟨stem_ref⟩stem, cout")
                   .replace("⟨conv1d⟩conv1d, in: x,", "⟨conv1d⟩conv1d, in: ⟨x_ref⟩x,"))
    here = [{"uri": doc.uri, "range": None}]
    for mark, line_prefix, key in (("ref", "  pool:", "pool"), ("port_ref", "  rnn:", "rnn"),
                                   ("stem_ref", "  stem:", "stem"), ("x_ref", "  x:", "x"),
                                   ("inner_ref", "      conv:", "conv"), ("composite", "  ConvAct:", "ConvAct")):
        here[0]["range"] = key_range(doc.text, line_prefix, key)
        assert lsp.definition(doc.uri, *doc.marks[mark]) == here, mark
    template = open_doc(lsp, folder, "vibench: 1\nextends: isfm/M_01⟨extends⟩_ISFM\n"
                                     "with: {backbone: B_08⟨slot⟩_PatchTST}\n")
    start = {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}
    library = Path(LIBRARY_DIR)
    assert lsp.definition(template.uri, *template.marks["extends"]) == \
        [{"uri": (library / "isfm" / "M_01_ISFM.yaml").as_uri(), "range": start}]
    assert lsp.definition(template.uri, *template.marks["slot"]) == \
        [{"uri": (library / "isfm" / "backbone" / "B_08_PatchTST.yaml").as_uri(), "range": start}]
    (folder / "base_model.yaml").write_text((ROOT / "tests" / "phm_cases" / "base_model.yaml").read_text())
    config = open_doc(lsp, folder, "base_configs:\n  model: base⟨base⟩_model.yaml\nmodel:\n  num_classes: 4\n")
    assert lsp.definition(config.uri, *config.marks["base"]) == \
        [{"uri": (folder / "base_model.yaml").as_uri(), "range": start}]


def test_document_symbols(lsp: LanguageServer, folder: Path) -> None:
    doc = open_doc(lsp, folder, PROBE)
    symbols = lsp.document_symbols(doc.uri)
    root = check(doc.text).root
    top = [(s["name"], s["kind"], s["detail"]) for s in symbols]
    assert top == [("width", 14, "parameter"), ("x", 13, "input")] + [
        (n.name, 12, f"{n.block.rsplit('#', 1)[-1]} " + "; ".join(fmt_shape(t.shape) for _, t in n.outputs))
        for n in root.nodes] + [("logits", 8, "output"), ("ConvAct", 5, "composite block")]
    stem = symbols[2]
    assert stem["selectionRange"] == key_range(doc.text, "  stem:", "stem")
    line = stem["selectionRange"]["start"]["line"]
    assert stem["range"] == {"start": {"line": line, "character": 2},
                             "end": {"line": line, "character": len(doc.text.split("\n")[line])}}
    composite = symbols[-1]
    assert [(c["name"], c["kind"]) for c in composite["children"]] == \
        [("cout", 14), ("x", 13), ("conv", 12), ("act", 12), ("y", 8)]
    lines = doc.text.split("\n")
    first = next(i for i, t in enumerate(lines) if t.startswith("  ConvAct:"))
    assert composite["range"]["start"]["line"] == first
    assert composite["range"]["end"]["line"] == next(i for i, t in enumerate(lines) if t.startswith("    outputs:"))


# --------------------------------------------------------------------------------------------
# the process: entry points and the torch boundary
# --------------------------------------------------------------------------------------------


def test_the_server_never_imports_torch() -> None:
    """The features and a full check run without torch, like the compiler (tests/test_boundary.py)."""
    code = textwrap.dedent(f"""
        import sys
        from vibench.lsp import checking, completion, hover, navigation
        from vibench.lsp.catalog import Catalog
        from vibench.lsp.document import Document
        from vibench.lsp.server import create_server
        create_server()
        text = open({str(ROOT / 'examples' / 'resnet18_1d.yaml')!r}).read()
        doc = Document("file:///probe.yaml", "/tmp/probe.yaml", text)
        doc.record(checking.check(text, doc.path, 1, []))
        assert doc.program is not None
        catalog = Catalog()
        offset = text.index("in: layer1") + 5
        assert completion.complete(doc, catalog, offset) and hover.hover(doc, catalog, offset)
        navigation.symbols(doc)
        print("TORCH:", sorted(m for m in sys.modules if m == "torch" or m.startswith("torch.")))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "TORCH: []" in proc.stdout


def test_the_tests_docs_editor_md_cites_exist() -> None:
    """docs/editor.md names, for each capability of vibench-lsp, the test that checks it."""
    import re

    text = (ROOT / "docs" / "editor.md").read_text()
    section = text[text.index("## vibench-lsp"):text.index("## The JSON Schema")]
    cited = set(re.findall(r"`(test_\w+)`", section))
    assert len(cited) >= 10
    assert not cited - set(globals()), sorted(cited - set(globals()))


def test_the_entry_point_answers_version() -> None:
    proc = subprocess.run([sys.executable, "-m", "vibench.lsp", "--version"], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip().startswith("vibench-lsp ")


def test_without_pygls_the_entry_point_says_what_to_install(tmp_path: Path) -> None:
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text("import sys\nsys.modules['pygls'] = None\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    proc = subprocess.run([sys.executable, "-m", "vibench.lsp"], capture_output=True, text=True, cwd=ROOT, env=env,
                          timeout=120)
    assert proc.returncode == 2 and "pip install 'vibench[lsp]'" in proc.stderr


# --------------------------------------------------------------------------------------------
# the outline the features read the text with (no server)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "role", "path", "word"), [
    ("nodes:\n  conv:\n    block: conv1d\n    ⟨⟩", "key", ("nodes", "conv"), ""),
    ("nodes:\n  conv:\n    blo⟨⟩", "key", ("nodes", "conv"), "blo"),
    ("nodes:\n  conv:\n    block: ⟨⟩", "value", ("nodes", "conv", "block"), ""),
    ("nodes:\n  n5: {block: conv1d, in: n⟨⟩", "value", ("nodes", "n5", "in"), "n"),
    ("nodes:\n  n5: {block: conv1d, in: [a, ⟨⟩", "value", ("nodes", "n5", "in", 1), ""),
    ("nodes:\n  n5: {block: conv1d, in: {x: ⟨⟩", "value", ("nodes", "n5", "in", "x"), ""),
    ("nodes:\n  n5: {block: conv1d, ⟨⟩", "key", ("nodes", "n5"), ""),
    ('nodes:\n  n5: {block: "con⟨⟩', "value", ("nodes", "n5", "block"), "con"),
    ('nodes:\n  n5: {block: "⟨⟩"}', "value", ("nodes", "n5", "block"), ""),  # a quote the editor closed
    ("nodes:\n  n5: {block: relu, in: ['⟨⟩']}", "value", ("nodes", "n5", "in", 0), ""),
    ('{"nodes": {"a": {"in": "⟨⟩"}}}', "value", ("nodes", "a", "in"), ""),
    ('nodes:\n  n5: {block: ""⟨⟩}', "none", ("nodes", "n5"), ""),  # after the closing quote
    ('{"nodes": {"a": {"in": "n⟨⟩"}}}', "value", ("nodes", "a", "in"), "n"),
    ("nodes:\n  a:\n    in:\n    - x\n    - y⟨⟩", "value", ("nodes", "a", "in", 1), "y"),
    ("doc: |\n  text: here\nnodes:\n  a: {in: ⟨⟩", "value", ("nodes", "a", "in"), ""),
    ("extends: cnn/Res⟨⟩", "value", ("extends",), "cnn/Res"),
    ("vibench: 1  # a comment\n⟨⟩", "key", (), ""),
])
def test_the_outline_places_the_cursor(text: str, role: str, path: tuple, word: str) -> None:
    from vibench.lsp.outline import cursor_at

    clean = text.replace("⟨⟩", "")
    cursor = cursor_at(clean, text.index("⟨⟩"))
    assert (cursor.role, cursor.path, cursor.word) == (role, path, word)


@pytest.mark.parametrize("path", ["examples/resnet18_1d.yaml", "examples/tiny_cnn.json",
                                  "tests/phm_cases/experiment.yaml", "tests/broken/multi_resolve.yaml"])
def test_the_features_answer_at_every_position(path: str) -> None:
    """Completion, hover and definition never fail, wherever the cursor is (in-process, no server)."""
    from vibench.lsp import checking, completion, hover, navigation
    from vibench.lsp.catalog import Catalog
    from vibench.lsp.document import Document

    file = ROOT / path
    text = file.read_text(encoding="utf-8")
    doc = Document(file.as_uri(), str(file), text)
    doc.record(checking.check(text, doc.path, 1, []))
    checking.problems(doc.last, doc.outline, doc.lines)
    navigation.symbols(doc)
    catalog = Catalog()
    for offset in range(0, len(text) + 1, 5):
        completion.complete(doc, catalog, offset)
        hover.hover(doc, catalog, offset)
        navigation.definition(doc, catalog, offset)


def test_the_cursor_read_from_an_earlier_outline_is_the_same() -> None:
    """Resuming at the cursor's line from an outline (of this text or an earlier version) gives what
    reading the whole text gives, at every offset."""
    from vibench.lsp.outline import cursor_at, outline

    text = marked(PROBE)[0]
    earlier = outline(text.replace("hidden_size: 32", "hidden_size: 64, num_layers: 2"))
    current = outline(text)
    for offset in range(len(text) + 1):
        for whole in (False, True):
            expected = cursor_at(text, offset, whole_word=whole)
            assert cursor_at(text, offset, whole_word=whole, base=current) == expected, offset
            assert cursor_at(text, offset, whole_word=whole, base=earlier) == expected, offset


def test_the_outline_reads_every_spec_like_the_loader() -> None:
    """Keys, scalar values and key positions agree with the compiler's loader on every example and
    library spec."""
    from vibench.compiler.load import load_text
    from vibench.lsp.outline import outline

    files = sorted((ROOT / "examples").glob("*.yaml")) + sorted((ROOT / "examples").glob("*.json"))
    files += sorted((ROOT / "vibench" / "specs").rglob("*.yaml"))
    for path in files:
        text = path.read_text()
        loaded = load_text(text)
        _agrees(text, outline(text), loaded.data, loaded.root, (), path.name)


def _agrees(text: str, found, value, loc, prefix: tuple, name: str) -> None:
    if isinstance(value, dict):
        assert [str(k) for k in found.keys(prefix)] == [str(k) for k in value], (name, prefix)
        for key, child in value.items():
            key_pos, child_loc = loc.children[key]
            start = found.entry((*prefix, str(key))).key_span[0]
            line = text.count("\n", 0, start) + 1
            assert (line, start - text.rfind("\n", 0, start)) == key_pos, (name, prefix, key)
            _agrees(text, found, child, child_loc, (*prefix, str(key)), name)
    elif isinstance(value, list):
        for index, (child, child_loc) in enumerate(zip(value, loc.children, strict=True)):
            _agrees(text, found, child, child_loc, (*prefix, index), name)
    elif isinstance(value, str) and "\n" not in value:
        span = found.entry(prefix).value_span
        if text[span[0]] not in "|>":  # block scalars' text is not kept
            assert found.value(prefix) == value, (name, prefix)
