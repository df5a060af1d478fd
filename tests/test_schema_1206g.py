"""The JSON Schema against the compiler, QA of 1206g.

1. A template parameter with a non-finite bound (``le: .inf``, ``ge: -.inf``, ``ge: .nan``) made
   ``vibench-compile schema`` write ``Infinity`` (no JSON): the bounds are written as JSON can hold them, and
   the writer refuses a non-finite number (``allow_nan=False``).
2. ``propertyNames: {type: string}`` refused the integer keys of a ``dict[int, int]`` parameter
   (``num_classes: {1: 10}``), which the compiler takes.
3. A bare ``with:`` (null) after ``extends:`` was flagged ("Expected \\"with\\"").
4. A node's ``with:`` mapping checked its keys, not its values (``with: {out_features: true}``).
5. A block's float parameter took ``.nan`` and ``.inf`` (the compiler's E104).

What the schema accepts is compared with the compiler (``check_value``, or a check of the whole spec), with
the `jsonschema` package, and, where the editor is concerned, with the real yaml-language-server reading the
schema this checkout generates (as tests/test_lsp_1206d.py does).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.lsp.client import LanguageServer, file_uri
from vibench.compiler.cli import main
from vibench.compiler.param_types import check_value
from vibench.schemas.jsonschema import build_schema, schema_text
from vibench.schemas.template_schema import load_template

INF = float("inf")
NAN = yaml.safe_load(".nan")  # the loader's one NaN: a `.nan` choice takes the `.nan` a spec writes (`in` is `is`)

BOUNDS = """\
vibench: 1
name: Bounded
params:
  upper_inf: {type: float, default: 1.0, le: .inf}
  lower_inf: {type: int, default: 2, ge: -.inf}
  below_inf: {type: float, default: 1.0, lt: .inf}
  above_minus_inf: {type: "float | None", default: null, gt: -.inf}
  at_inf: {type: "float | None", default: null, ge: .inf}
  past_inf: {type: "float | None", default: null, gt: .inf}
  nan_bound: {type: "float | None", default: null, ge: .nan}
  finite: {type: float, default: 0.5, ge: 0, le: 1}
  both: {type: "int | float", default: 1, ge: 0, gt: -.inf}
  picked: {type: float, default: 1.0, choices: [1.0, .inf, -.inf, .nan, 20.0]}
  picked_bounded: {type: float, default: 1.0, choices: [1.0, .inf, .nan, 20.0], le: 10}
  inf_default: {type: float, default: .inf}
inputs: {x: {shape: [B, 4]}}
nodes:
  d: {block: dropout, in: x}
outputs: {y: d}
"""


def _no_constants(name: str) -> Any:
    raise AssertionError(f"`{name}` is no JSON")


@pytest.fixture
def bounded(tmp_path: Path) -> Path:
    folder = tmp_path / "lib"
    (folder / "fam").mkdir(parents=True)
    (folder / "fam" / "Bounded.yaml").write_text(BOUNDS)
    return folder


# --------------------------------------------------------------------------------------------
# 1. non-finite bounds
# --------------------------------------------------------------------------------------------


def test_the_schema_command_writes_json_for_non_finite_bounds(bounded: Path, tmp_path: Path) -> None:
    for extra in ([], ["--template", "fam/Bounded"]):
        out = tmp_path / "out.schema.json"
        assert main(["schema", "-I", str(bounded), *extra, "-o", str(out)]) == 0
        text = out.read_text(encoding="utf-8")
        json.loads(text, parse_constant=_no_constants)  # before: `"maximum": Infinity`
        jsonschema.Draft202012Validator.check_schema(json.loads(text))


def test_the_writer_refuses_a_number_that_is_no_json(monkeypatch: pytest.MonkeyPatch) -> None:
    from vibench.schemas import jsonschema as module

    monkeypatch.setattr(module, "build_schema", lambda *args, **kwargs: {"maximum": INF})
    with pytest.raises(ValueError, match="not JSON compliant"):
        module.schema_text()


VALUES = [-INF, -1.7976931348623157e308, -3, -0.5, 0, 0.5, 1, 1.0, 5.0, 20.0, 1e300, INF, NAN, None]


def test_non_finite_bounds_and_choices_accept_what_the_compiler_accepts(bounded: Path) -> None:
    """Every parameter of BOUNDS, every value: the schema's verdict is the compiler's (``check_value``)."""
    info = load_template("fam/Bounded", [str(bounded)])
    assert info.params is not None
    validator = jsonschema.Draft202012Validator(build_schema(template="fam/Bounded", search_path=[str(bounded)]))
    for decl in info.params:
        for value in VALUES:
            if isinstance(value, float) and value.is_integer() and "float" not in decl.type:
                continue  # `4.0` for an int: JSON Schema compares values (docs/editor.md, "Integral floats")
            doc = {"vibench": 1, "extends": "fam/Bounded", "with": {decl.name: value}}
            errors = list(validator.iter_errors(doc))
            compiler = check_value(decl, value)[1] is None
            assert (not errors) == compiler, (decl.name, value, [e.message for e in errors])


def test_non_finite_bounds_and_defaults_are_described_as_declared(bounded: Path) -> None:
    schema = build_schema(template="fam/Bounded", search_path=[str(bounded)])
    params = schema["properties"]["with"]["properties"]
    last_line = {name: p["markdownDescription"].rsplit("\n", 1)[-1] for name, p in params.items()}
    assert last_line["upper_inf"].startswith("`float`; default `1.0`")  # `le: .inf` bounds no number
    assert last_line["below_inf"].startswith("`float`, < inf;")
    assert last_line["at_inf"].startswith("`float | None`, >= inf;")
    assert last_line["picked"].startswith("`1.0 | 20.0 | .inf | -.inf | .nan`;")
    assert last_line["nan_bound"].startswith("`float | None`, no number is within its bounds;")
    assert "default `.inf`" in last_line["inf_default"]  # not "computed from other parameters"


# --------------------------------------------------------------------------------------------
# 2. integer keys
# --------------------------------------------------------------------------------------------

KEYED = """\
vibench: 1
name: Keyed
params:
  by_int: {type: "dict[int, int]", default: {1: 1}}
  by_str: {type: "dict[str, int]", default: {a: 1}}
  by_either: {type: "dict[int | str, int]", default: {1: 1}}
  either_dict: {type: "int | dict[str, int] | dict[int, int]", default: 3}
inputs: {x: {shape: [B, 4]}}
nodes:
  d: {block: dropout, in: x}
outputs: {y: d}
"""


def test_mapping_keys_are_those_the_compiler_accepts(tmp_path: Path) -> None:
    (tmp_path / "fam").mkdir()
    (tmp_path / "fam" / "Keyed.yaml").write_text(KEYED)
    info = load_template("fam/Keyed", [str(tmp_path)])
    assert info.params is not None
    validator = jsonschema.Draft202012Validator(build_schema(search_path=[str(tmp_path)]))
    for decl in info.params:
        for key in (1, -2, "1", "a", True, 1.5, None):
            value = {key: 3}
            doc = {"vibench": 1, "extends": "fam/Keyed", "with": {decl.name: value}}
            errors = list(validator.iter_errors(doc))
            assert (not errors) == (check_value(decl, value)[1] is None), (decl.name, key, errors)
    with_params = build_schema(template="fam/Keyed", search_path=[str(tmp_path)])["properties"]["with"]["properties"]
    assert "`dict[int, int]`" in with_params["by_int"]["markdownDescription"]
    assert "`dict[int | str, int]`" in with_params["by_either"]["markdownDescription"]


def test_a_library_template_takes_integer_system_ids() -> None:
    validator = jsonschema.Draft202012Validator(build_schema())
    good = yaml.safe_load("vibench: 1\nextends: isfm/M_01_ISFM\nwith: {num_classes: {1: 10, 2: 4}}\n")
    assert not list(validator.iter_errors(good))
    bad = yaml.safe_load("vibench: 1\nextends: isfm/M_01_ISFM\nwith: {num_classes: {true: 10}}\n")
    assert list(validator.iter_errors(bad))


def test_a_block_declaring_integer_keys_gets_them() -> None:
    """A block whose parameter takes integer keys says so as pydantic does (the keys of its type, or the
    ``json_schema_input_type`` of a validator that converts them); the schema then takes them."""
    from pydantic import Field, field_validator

    from vibench.compiler.blocks.base import Block
    from vibench.schemas.blocks import BlockParams

    def as_text(value: object) -> object:
        return {str(k): v for k, v in value.items()} if isinstance(value, dict) else value

    class KeyedParams(BlockParams):
        counts: dict[str, int] = Field(description="Per system id.")
        widths: dict[int, int] = Field(default_factory=dict, description="Per system id.")
        _keys = field_validator("counts", mode="before", json_schema_input_type=dict[int | str, int])(as_text)

    class KeyedBlock(Block):
        """A block keyed by system id."""

        name = "keyed"
        Params = KeyedParams

    validator = jsonschema.Draft202012Validator(build_schema(blocks={"keyed": KeyedBlock()}))
    head = "vibench: 1\nname: M\ninputs: {x: {shape: [B, 4]}}\noutputs: {y: d}\nnodes:\n  d: {block: keyed, in: x, "
    for body, ok in (("counts: {1: 2, '3': 4}", True), ("counts: {true: 2}", False), ("counts: {1: 2}, widths: {1: 2}",
                     True), ("counts: {1: 2}, widths: {a: 2}", False), ("with: {counts: {1: 2}}", True)):
        errors = list(validator.iter_errors(yaml.safe_load(head + body + "}\n")))
        assert (not errors) == ok, (body, errors)


# --------------------------------------------------------------------------------------------
# 3, 4, 5: jsonschema
# --------------------------------------------------------------------------------------------

HEAD = "vibench: 1\nname: M\nparams: {width: 8}\ninputs: {x: {shape: [B, 4]}}\nnodes:\n"


def model(node: str) -> str:
    return HEAD + f"  d: {{{node}}}\noutputs: {{y: d}}\n"


CASES = {
    # 3. `with:` left empty after `extends:`
    "empty_with": ("vibench: 1\nextends: cnn/ResNet1D\nwith:\n", True),
    # 4. a node's `with:` values
    "with_wrong_type": (model("block: linear, in: x, with: {out_features: true}"), False),
    "with_out_of_range": (model("block: linear, in: x, with: {out_features: 0}"), False),
    "with_good": (model("block: linear, in: x, with: {out_features: 3}"), True),
    "with_a_name": (model("block: linear, in: x, with: {out_features: width}"), True),
    "with_an_expression": (model("block: linear, in: x, with: {out_features: '${width * 2}'}"), True),
    "with_a_name_of_the_wrong_type": (model("block: linear, in: x, with: {out_features: 3, bias: 1}"), False),
    # 5. floats a block refuses
    "dropout_nan": (model("block: dropout, in: x, p: .nan"), False),
    "layer_norm_inf": (model("block: layer_norm, in: x, eps: .inf"), False),
    "layer_norm_minus_inf": (model("block: layer_norm, in: x, eps: -.inf"), False),
    "leaky_relu_nan": (model("block: leaky_relu, in: x, negative_slope: .nan"), False),
    "leaky_relu_nan_in_with": (model("block: leaky_relu, in: x, with: {negative_slope: .nan}"), False),
    "leaky_relu_finite": (model("block: leaky_relu, in: x, negative_slope: -0.2"), True),
    "leaky_relu_large": (model("block: leaky_relu, in: x, negative_slope: 1.0e+300"), True),
    "clamp_infinite": (model("block: clamp, in: x, min: -.inf, max: .inf"), True),
    "clamp_nan": (model("block: clamp, in: x, max: .nan"), False),
}


def compiler_lines(text: str, path: Path) -> set[int]:
    from vibench.lsp.checking import check

    checked = check(text, str(path), None, [])
    return {d.pos.line for d in checked.diagnostics if d.severity == "error" and d.pos is not None}


@pytest.mark.parametrize("name", CASES)
def test_the_schema_and_the_compiler_agree(name: str, tmp_path: Path) -> None:
    text, ok = CASES[name]
    assert (not compiler_lines(text, tmp_path / "spec.yaml")) == ok, "the compiler's verdict changed"
    errors = list(jsonschema.Draft202012Validator(build_schema()).iter_errors(yaml.safe_load(text)))
    assert (not errors) == ok, [e.message for e in errors]


def test_an_empty_with_passes_the_per_template_schema_and_a_number_does_not() -> None:
    for schema in (build_schema(template="cnn/ResNet1D"), build_schema()):
        validator = jsonschema.Draft202012Validator(schema)
        assert not list(validator.iter_errors({"vibench": 1, "extends": "cnn/ResNet1D", "with": None}))
        assert list(validator.iter_errors({"vibench": 1, "extends": "cnn/ResNet1D", "with": {"nope": 1}}))
        assert list(validator.iter_errors({"vibench": 1, "extends": "cnn/ResNet1D", "with": 3}))


def test_non_finite_values_are_refused_with_the_compilers_reason() -> None:
    schema = build_schema()
    slope = next(a for a in schema["$defs"]["Node"]["oneOf"] if a["title"] == "leaky_relu")["properties"]
    member = slope["negative_slope"]["anyOf"][0]
    assert "E104" in member["then"]["errorMessage"] and member["then"]["enum"] == []
    for value in (NAN, INF, -INF):
        assert list(jsonschema.Draft202012Validator(member).iter_errors(value)), value
    assert not list(jsonschema.Draft202012Validator(member).iter_errors(-1.7976931348623157e308))
    assert math.isfinite(-1.7976931348623157e308)


# --------------------------------------------------------------------------------------------
# the same with yaml-language-server
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def schema_server(tmp_path_factory: pytest.TempPathFactory):
    """yaml-language-server reading the schema this checkout generates (the committed file may be older)."""
    from tests.lsp.server import ROOT, ensure_installed

    folder = tmp_path_factory.mktemp("schema_1206g")
    (folder / "spec.schema.json").write_text(schema_text(), encoding="utf-8")
    node_bin, script = ensure_installed()
    settings = {"yaml": {"validate": True, "hover": True, "completion": True, "format": {"enable": False},
                         "schemaStore": {"enable": False}}}
    server = LanguageServer([node_bin, str(script), "--stdio"], settings=settings, cwd=str(ROOT), timeout=120.0)
    server.initialize(file_uri(folder))
    yield server, folder
    server.shutdown()


SERVER_CASES = {
    **CASES,
    "system_ids": ("vibench: 1\nextends: isfm/M_01_ISFM\nwith: {num_classes: {1: 10, 2: 4}}\n", True),
    "system_ids_1_1": ("vibench: 1\nextends: isfm/M_01_ISFM\nwith: {num_classes: {1_0: 10, 0b11: 4}}\n", True),
    "system_ids_text": ("vibench: 1\nextends: isfm/M_01_ISFM\nwith: {num_classes: {'1': 10}}\n", True),
    "system_ids_bool": ("vibench: 1\nextends: isfm/M_01_ISFM\nwith: {num_classes: {true: 10}}\n", False),
}


def _opened(server: LanguageServer, folder: Path, name: str, text: str) -> tuple[str, str]:
    text = "# yaml-language-server: $schema=spec.schema.json\n" + text
    path = folder / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    server.open(file_uri(path), text)
    return file_uri(path), text


@pytest.mark.parametrize("name", SERVER_CASES)
def test_the_server_and_the_compiler_agree(schema_server: tuple[LanguageServer, Path], name: str) -> None:
    server, folder = schema_server
    uri, text = _opened(server, folder, name, SERVER_CASES[name][0])
    diagnostics = server.diagnostics(uri)
    flagged = {d["range"]["start"]["line"] + 1 for d in diagnostics}
    assert flagged == compiler_lines(text, folder / f"{name}.yaml"), (text, diagnostics)
    assert not any('Expected "with"' in d["message"] for d in diagnostics), diagnostics


def test_the_server_names_the_types_a_with_takes(schema_server: tuple[LanguageServer, Path]) -> None:
    server, folder = schema_server
    uri, _ = _opened(server, folder, "with_a_number", "vibench: 1\nextends: cnn/ResNet1D\nwith: 3\n")
    messages = [(d["range"]["start"]["line"], d["message"]) for d in server.diagnostics(uri)]
    assert messages and all(line == 3 for line, _ in messages), messages
    assert not any('"with"' in message for _, message in messages), messages  # before: 'Expected "with".'


def test_the_server_says_why_a_float_is_refused(schema_server: tuple[LanguageServer, Path]) -> None:
    server, folder = schema_server
    uri, _ = _opened(server, folder, "why", model("block: leaky_relu, in: x, with: {negative_slope: .nan}"))
    (diagnostic,) = server.diagnostics(uri)
    assert diagnostic["message"].startswith("A finite number: NaN or infinity") and "E104" in diagnostic["message"]
    # hover on the value is the parameter's, and lists no "allowed values"
    line = diagnostic["range"]["start"]["line"]
    hover = server.hover(uri, line, diagnostic["range"]["start"]["character"] + 1)
    assert hover.startswith("#### negative\\_slope: float") and "Allowed Values" not in hover, hover


def test_with_completes_and_hovers_the_blocks_parameters(schema_server: tuple[LanguageServer, Path]) -> None:
    """The values of a node's `with:` are the node's own parameters' schemas (by reference): hover and
    completion show them as on the node's own keys."""
    server, folder = schema_server
    uri, text = _opened(server, folder, "complete", model("block: linear, in: x, with: {out_features: 3, bias: }"))
    line = text.split("\n").index(next(t for t in text.split("\n") if "with:" in t))
    at = text.split("\n")[line].index("bias: ") + len("bias: ")
    labels = {item["label"] for item in server.completion(uri, line, at)}
    assert {"true", "false"} <= labels, labels
    hover = server.hover(uri, line, text.split("\n")[line].index("out_features") + 2)
    assert hover.startswith("#### out\\_features: int") and ">= 1" in hover, hover
