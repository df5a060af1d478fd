"""The JSON Schema of the spec language: committed, current, deterministic, valid 2020-12, registry-driven.

How a YAML language server uses it is tested in test_editor.py; here the schema is checked as data
and with the `jsonschema` library.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.helpers import ROOT
from vibench.compiler import registry
from vibench.compiler.cli import main
from vibench.schemas.document import NODE_KEYS
from vibench.schemas.jsonschema import build_schema, schema_text

COMMITTED = Path(ROOT) / "vibench" / "schemas" / "spec.schema.json"
LIBRARY_FIXTURE = Path(ROOT) / "tests" / "editor_cases" / "library"
MODELINE = "# yaml-language-server: $schema="


def test_committed_schema_is_current() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == schema_text(), (
        "vibench/schemas/spec.schema.json is stale (the block registry, the document models or the spec "
        "library changed): run `make schema` and commit the result")


def test_schema_is_byte_identical_across_processes() -> None:
    """Same bytes under other hash seeds (no set or dict-hash order leaks into the file)."""
    code = "import sys; from vibench.schemas.jsonschema import schema_text; sys.stdout.write(schema_text())"
    outputs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")}
    assert outputs == {schema_text()}


def test_schema_is_draft_2020_12() -> None:
    schema = json.loads(COMMITTED.read_text())
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def _validator(schema: dict | None = None) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema or json.loads(COMMITTED.read_text()))


def _shipped_specs() -> list[Path]:
    root = Path(ROOT)
    return sorted([*(root / "examples").glob("*.yaml"), *(root / "examples").glob("*.json"),
                   *(root / "vibench" / "specs").rglob("*.yaml"), *(LIBRARY_FIXTURE.rglob("*.yaml"))])


@pytest.mark.parametrize("path", _shipped_specs(), ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_specs_validate_and_name_the_schema(path: Path) -> None:
    """Each shipped spec passes the schema and names it with a path that resolves from its folder."""
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    assert not list(_validator().iter_errors(data))
    if path.suffix == ".json":
        target = data["$schema"]
    else:
        first = text.splitlines()[0]
        assert first.startswith(MODELINE), f"{path.name} does not start with `{MODELINE}...`"
        target = first[len(MODELINE):].strip()
    assert (path.parent / target).resolve() == COMMITTED.resolve()


@pytest.mark.parametrize(("text", "where"), [
    ("nodes: {a: {block: lineer, in: x}}", ["nodes", "a"]),
    ("nodes: {a: {block: conv1d, in: x, out_channels: 8, kernel_size: 3, output_padding: 1}}", ["nodes", "a"]),
    ("nodes: {a: {block: linear, in: x, out_features: [4]}}", ["nodes", "a"]),
    ("nodes: {a: {block: dropout, in: x, p: 2}}", ["nodes", "a"]),
    ("nodes: {a: {block: linear, in: x}}", ["nodes", "a"]),
    ("nodes: {a: {block: linear, in: x, out_features: 2}}\nextra: 1", []),
])
def test_schema_rejects_what_the_compiler_rejects(text: str, where: list) -> None:
    doc = yaml.safe_load("vibench: 1\nname: M\ninputs: {x: {shape: [B, 4]}}\noutputs: {y: a}\n" + text)
    best = jsonschema.exceptions.best_match(_validator().iter_errors(doc))
    assert best is not None and list(best.absolute_path)[: len(where)] == where, best


@pytest.mark.parametrize("default", [8, 0.5, True, "relu", [1, 2], None])
def test_a_parameter_shorthand_the_compiler_accepts_passes_the_schema(default: object) -> None:
    """`width: <default>` declares a parameter of the default's type; `width: null` one of any type."""
    import vibench

    doc = {"vibench": 1, "name": "M", "params": {"width": default}, "inputs": {"x": {"shape": ["B", 4]}},
           "nodes": {"a": {"block": "relu", "in": "x"}}, "outputs": {"y": "a"}}
    vibench.check(text=json.dumps(doc))
    assert not list(_validator().iter_errors(doc))


@pytest.mark.parametrize("block", ["Stage", "cnn/ResNet1D", "./blocks.yaml#Res", "other.yaml", "${kind}"])
def test_block_names_resolved_when_compiling_are_accepted(block: str) -> None:
    doc = {"vibench": 1, "name": "M", "inputs": {"x": {"shape": ["B", 4]}}, "outputs": {"y": "a"},
           "nodes": {"a": {"block": block, "in": "x", "anything": [1, {"b": 2}]}}}
    assert not list(_validator().iter_errors(doc))


def test_every_registered_block_has_its_alternative() -> None:
    schema = build_schema()
    node = schema["$defs"]["Node"]
    names = [m["const"] for m in node["properties"]["block"]["anyOf"] if "const" in m]
    assert names == list(registry.all_blocks())
    for alternative, (name, block) in zip(node["oneOf"], registry.all_blocks().items(), strict=False):
        assert alternative["properties"]["block"]["enum"] == [name]
        assert alternative["properties"]["block"]["pattern"] == f"^{name}$"
        assert set(alternative["properties"]) == {"block", *NODE_KEYS[1:], *block.Params.model_fields}
        assert alternative["additionalProperties"] is False


def test_plugin_blocks_from_the_entry_point_are_included(monkeypatch: pytest.MonkeyPatch) -> None:
    """A block registered by a `vibench.blocks` entry point gets completion like a built-in one."""
    import importlib.metadata

    from pydantic import Field

    from vibench.compiler.blocks.base import Block
    from vibench.schemas.blocks import BlockParams

    class WaveletParams(BlockParams):
        levels: int = Field(3, ge=1, description="Decomposition levels.")

    class Wavelet(Block):
        """Discrete wavelet transform (a third-party block)."""

        name = "plugin_wavelet"
        Params = WaveletParams

        def infer(self, p, ins, ctx):  # a block without a shape rule is refused (W121)
            return ins

    class EntryPoint:
        def load(self) -> type[Block]:
            return Wavelet

    monkeypatch.setattr(registry, "_BLOCKS", dict(registry.all_blocks()))
    monkeypatch.setitem(registry._state, "plugins", False)
    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda group=None: [EntryPoint()] if group == "vibench.blocks" else [])
    schema = build_schema()
    node = schema["$defs"]["Node"]
    assert "plugin_wavelet" in [m.get("const") for m in node["properties"]["block"]["anyOf"]]
    alternative = next(a for a in node["oneOf"] if a.get("title") == "plugin_wavelet")
    assert "Decomposition levels." in alternative["properties"]["levels"]["markdownDescription"]
    doc = {"vibench": 1, "name": "M", "inputs": {"x": {"shape": ["B", 4]}}, "outputs": {"y": "a"},
           "nodes": {"a": {"block": "plugin_wavelet", "in": "x", "levels": 0}}}
    assert [e.validator for e in _validator(schema).iter_errors(doc)]  # levels >= 1


def test_schema_command_writes_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "spec.schema.json"
    assert main(["schema", "-o", str(out)]) == 0
    assert out.read_text() == schema_text()
    assert main(["schema"]) == 0
    assert capsys.readouterr().out == schema_text()


def test_schema_command_takes_dash_as_standard_output_and_refuses_an_empty_path(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["schema", "-o", "-"]) == 0  # as `-o -` for a spec: standard output, no file named `-`
    assert capsys.readouterr().out == schema_text() and not (tmp_path / "-").exists()
    assert main(["schema", "-o", ""]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "-o names no file (an empty path)" in err


def test_template_schema_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tiny.schema.json"
    assert main(["schema", "--template", "demo/TinyNet", "-I", str(LIBRARY_FIXTURE), "-o", str(out)]) == 0
    schema = json.loads(out.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    assert set(schema["properties"]["with"]["properties"]) == {"in_channels", "num_classes", "width", "depth",
                                                               "dropout"}
    ok = {"vibench": 1, "extends": "demo/TinyNet", "with": {"width": 8, "depth": "${stages}"}}
    assert not list(validator.iter_errors(ok))
    assert list(validator.iter_errors({**ok, "with": {"depth": 9}}))  # le: 8
    assert list(validator.iter_errors({**ok, "with": {"widht": 8}}))
    assert list(validator.iter_errors({**ok, "nodes": {}}))
    assert list(validator.iter_errors({**ok, "extends": "demo/Other"}))
    # the same template given as a file: `extends:` names it relative to the spec, any path goes
    assert main(["schema", "--template", str(LIBRARY_FIXTURE / "demo" / "TinyNet.yaml"), "-o", str(out)]) == 0
    validator = jsonschema.Draft202012Validator(json.loads(out.read_text()))
    assert not list(validator.iter_errors({**ok, "extends": "../lib/TinyNet.yaml"}))
    assert list(validator.iter_errors({**ok, "extends": "../lib/TinyNet.yaml", "with": {"depth": 9}}))
    capsys.readouterr()
    assert main(["schema", "--template", "demo/Missing"]) == 2
    assert "unknown template" in capsys.readouterr().err
    broken = tmp_path / "broken.yaml"
    broken.write_text("vibench: 1\nname: B\nparams: {w: {type: flaot}}\ninputs: {x: {shape: [B, 4]}}\n"
                      "nodes: {a: {block: relu, in: x}}\noutputs: {y: a}\n")
    assert main(["schema", "--template", str(broken)]) == 1
    assert "E210" in capsys.readouterr().err


def test_main_schema_lists_templates_on_the_spec_path() -> None:
    schema = build_schema(search_path=[str(LIBRARY_FIXTURE)])
    names = [m.get("const") for m in schema["properties"]["extends"]["anyOf"]]
    assert "demo/TinyNet" in names
    validator = _validator(schema)
    base = {"vibench": 1, "extends": "demo/TinyNet"}
    assert not list(validator.iter_errors({**base, "with": {"width": 4}}))
    assert list(validator.iter_errors({**base, "with": {"widht": 4}}))
    assert not list(validator.iter_errors({"vibench": 1, "extends": "./mine.yaml", "with": {"anything": 1}}))
