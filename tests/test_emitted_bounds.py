"""What a spec controls in model.py is bounded so that the file passes `ruff check` and `ruff format
--check` (QA, hostile inputs 2): floats of 1e16 and more were written `1e+16`; names of 100 characters,
metadata keys of 120 and metadata 27 levels deep overflowed 120 columns; the regenerate command left out
`-I`; a 1,025-character JSON key and look-alike shape symbols were not explained."""

from __future__ import annotations

import doctest
import json
import os
import shlex
import subprocess
import sys
import types
from pathlib import Path

import pytest

import vibench
from tests.parity import ROOT
from vibench.compiler.codegen import header
from vibench.compiler.resolve_decls import MAX_CLASS_NAME, MAX_NAME
from vibench.compiler.resolve_units import MAX_METADATA_DEPTH, MAX_METADATA_KEY

RUFF = os.path.join(os.path.dirname(sys.executable), "ruff")
CONFIG = os.path.join(ROOT, "pyproject.toml")


def _ruff_accepts(source: str, tmp_path: Path) -> types.ModuleType:
    """``source`` passes ruff check and ruff format --check, and imports (the module returned)."""
    path = tmp_path / "model.py"
    path.write_text(source, encoding="utf-8")
    for args in (["check"], ["format", "--check"]):
        done = subprocess.run([RUFF, *args, "--config", CONFIG, str(path)], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    module = types.ModuleType("emitted_bounds")
    exec(compile(source, str(path), "exec"), module.__dict__)
    return module


def _errors(spec: dict, tmp_path: Path, name: str = "spec.json") -> list:
    path = tmp_path / name
    path.write_text(json.dumps(spec, indent=1, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(vibench.SpecError) as err:
        vibench.compile_spec(str(path))
    return [d for d in err.value.diagnostics if d.severity == "error"]


# -- 1. floats --------------------------------------------------------------------------------


def test_large_floats_are_written_as_ruff_format_writes_them(tmp_path: Path) -> None:
    """`1e+16` in forward, METADATA and COMPILED_PARAMETERS: ruff writes `1e16`."""
    spec = {"vibench": 1, "name": "Sc", "params": {"gain": {"type": "float", "default": 1.5e300}},
            "inputs": {"x": {"shape": ["B", 4]}},
            "nodes": {"d": {"block": "scale", "in": "x", "factor": 1e16},
                      "e": {"block": "scale", "in": "d", "factor": "${gain}"}},
            "outputs": {"y": "e"}, "metadata": {"v": 1e308, "w": [-2.5e-308, 1e-05], "u": 1e22}}
    (tmp_path / "s.json").write_text(json.dumps(spec))
    source = vibench.compile_spec(str(tmp_path / "s.json")).source
    assert "x = x * 1e16" in source and "e+" not in source
    module = _ruff_accepts(source, tmp_path)
    assert module.Sc.METADATA == {"v": 1e308, "w": [-2.5e-308, 1e-05], "u": 1e22}
    assert module.Sc.COMPILED_PARAMETERS == {"gain": 1.5e300}


# -- 2. names and metadata ----------------------------------------------------------------------


def _ref(text: str) -> str:
    return "${" + text + "}"


def _named(n: int, cls: int) -> dict:
    """A spec whose every declared name (model, composite, node, input, output, port, parameter, let,
    for_each key, shape symbol) is ``n`` characters long (class names ``cls``)."""
    def name(prefix: str) -> str:
        return (prefix + "x" * n)[:n]

    model, block = ("M" + "x" * cls)[:cls], ("Blk" + "x" * cls)[:cls]
    node, node2, inp, inp2, out, port = (name(p) for p in ("node", "nodeb", "inp", "inq", "out", "port"))
    par, par2, let, sym = name("par"), name("parb"), name("let"), name("S")
    return {
        "vibench": 1, "name": model,
        "params": {par: {"type": "int", "default": 4, "ge": 1, "le": 8}, par2: {"type": "float", "default": 1e16}},
        "let": {let: _ref(f"{par} * 2")},
        "inputs": {inp: {"shape": ["B", 4, sym]}, inp2: {"shape": ["B", 4, sym]}},
        "blocks": {block: {
            "params": {par: {"type": "int", "default": 4}},
            "inputs": {inp: {"shape": ["B", "C", sym]}},
            "nodes": {node: {"block": "conv1d", "in": inp, "out_channels": _ref(par), "kernel_size": 1},
                      node2: {"block": "scale", "in": node, "factor": 1e16}},
            "outputs": {port: node2, out: node}}},
        "nodes": {
            node: {"block": block, "in": inp, par: _ref(let)},
            node2: {"block": "conv1d", "in": f"{node}.{port}", "out_channels": _ref(let), "kernel_size": 1},
            "sc": {"block": "scale", "in": node2, "factor": _ref(par2)},
            "total": {"block": "add", "in": [node2, "sc"]},
            "pool0": {"block": "adaptive_avg_pool1d", "in": "total", "output_size": 1},
            "pool": {"block": "flatten", "in": "pool0", "start_dim": 1},
            "heads": {"block": "linear", "for_each": {name("key"): 1, name("kez"): 2}, "in": "pool",
                      "out_features": "${item}"}},
        "outputs": {out: node2, name("outb"): "heads.*", "z": "sc", name("outc"): inp2},
        "metadata": {name("meta"): {name("meta"): 1e308}},
    }


def test_names_at_their_limit_compile_to_a_file_ruff_accepts(tmp_path: Path) -> None:
    (tmp_path / "n.json").write_text(json.dumps(_named(MAX_NAME, MAX_CLASS_NAME)))
    _ruff_accepts(vibench.compile_spec(str(tmp_path / "n.json")).source, tmp_path)


def _over(kind: str) -> tuple[dict, tuple]:
    """The spec of :func:`_named` with one ``kind`` of name one character over its limit, and where
    the error must point (the name's first line fragment)."""
    spec = _named(8, 8)
    long = "y" * (MAX_NAME + 1)
    if kind == "model":
        spec["name"] = "M" + "y" * MAX_CLASS_NAME
        return spec, (spec["name"],)
    if kind == "block":
        (old,) = spec["blocks"]
        spec["blocks"] = {"B" + "y" * MAX_CLASS_NAME: spec["blocks"][old]}
        spec["nodes"]["nodexxxx"]["block"] = "B" + "y" * MAX_CLASS_NAME
        return spec, ("B" + "y" * MAX_CLASS_NAME,)
    if kind == "node":
        spec["nodes"][long] = {"block": "relu", "in": "sc"}
    elif kind == "input":
        spec["inputs"][long] = {"shape": ["B", 4]}
    elif kind == "output":
        spec["outputs"][long] = "sc"
    elif kind == "port":
        spec["blocks"]["Blkxxxxx"]["outputs"][long] = "nodexxxx"
    elif kind == "parameter":
        spec["params"][long] = 3
    elif kind == "let":
        spec["let"][long] = 3
    elif kind == "symbol":
        spec["inputs"]["inpxxxxx"]["shape"][2] = long
        spec["inputs"]["inqxxxxx"]["shape"][2] = long
    return spec, (long,)


@pytest.mark.parametrize("kind", ["model", "block", "node", "input", "output", "port", "parameter", "let", "symbol"])
def test_a_name_over_its_limit_is_a_located_e106(tmp_path: Path, kind: str) -> None:
    spec, (name,) = _over(kind)
    errors = _errors(spec, tmp_path)
    ours = [d for d in errors if d.code == "E106" and "too long" in d.message]
    assert ours, [d.render() for d in errors]
    text = (tmp_path / "spec.json").read_text(encoding="utf-8").splitlines()
    assert all(d.pos is not None and text[d.pos.line - 1][d.pos.col - 1:].lstrip('"').startswith(name)
               for d in ours), [d.render() for d in ours]
    limit = MAX_CLASS_NAME if kind in ("model", "block") else MAX_NAME
    assert ours[0].expected == f"at most {limit} characters"


def test_a_for_each_key_over_the_limit_is_e106(tmp_path: Path) -> None:
    spec = _named(8, 8)
    spec["nodes"]["heads"]["for_each"] = {"k" * (MAX_NAME + 1): 1}
    (diag,) = _errors(spec, tmp_path)
    assert diag.code == "E106" and diag.expected == f"keys of at most {MAX_NAME} characters (node names)"
    assert diag.pos is not None and diag.pos.line > 1


def _metadata(depth: int, key: int, leaf: object) -> dict:
    value = leaf
    for level in range(depth):
        value = {(f"k{level}" + "x" * key)[:key]: value}
    return {"vibench": 1, "name": "N", "inputs": {"x": {"shape": ["B", 4]}},
            "nodes": {"h": {"block": "linear", "in": "x", "out_features": 3}}, "outputs": {"y": "h"},
            "metadata": value}


@pytest.mark.parametrize("leaf", [-2.2250738585072014e-308, -(2**62), [1.5e300, "x" * 300], "y" * 300])
def test_metadata_at_its_bounds_compiles_to_a_file_ruff_accepts(tmp_path: Path, leaf: object) -> None:
    depth = MAX_METADATA_DEPTH - (1 if isinstance(leaf, list) else 0)
    (tmp_path / "m.json").write_text(json.dumps(_metadata(depth, MAX_METADATA_KEY, leaf)))
    module = _ruff_accepts(vibench.compile_spec(str(tmp_path / "m.json")).source, tmp_path)
    value = module.N.METADATA
    for _ in range(depth):
        (value,) = value.values()
    assert value == leaf


def test_metadata_too_deep_or_with_a_key_too_long_is_a_located_e104(tmp_path: Path) -> None:
    (diag,) = _errors(_metadata(MAX_METADATA_DEPTH + 1, 4, 1), tmp_path)
    assert diag.code == "E104" and diag.expected == f"at most {MAX_METADATA_DEPTH} levels of mappings and lists"
    assert diag.found == f"a mapping at level {MAX_METADATA_DEPTH + 1}"
    text = (tmp_path / "spec.json").read_text().splitlines()
    assert diag.pos is not None and text[diag.pos.line - 1].strip() == '"k1xx": {'  # {"k0xx": 1}
    spec = _metadata(2, 4, 1)
    spec["metadata"]["k1xx"]["k" * (MAX_METADATA_KEY + 1)] = 2
    (diag,) = _errors(spec, tmp_path)
    assert diag.code == "E104" and diag.found == f"{MAX_METADATA_KEY + 1} characters"
    assert diag.pos is not None and text != (text := (tmp_path / "spec.json").read_text().splitlines())
    assert text[diag.pos.line - 1][diag.pos.col - 1:].startswith('"kkkk')
    spec["metadata"]["k1xx"] = {"tab\t" * 8: 1}  # 40 columns as model.py writes it (`\t`)
    (diag,) = _errors(spec, tmp_path)
    assert diag.code == "E104" and diag.found == "40 characters"


def test_metadata_a_parameter_makes_too_deep_is_e104(tmp_path: Path) -> None:
    spec = _metadata(1, 2, "${deep}")
    spec["params"] = {"deep": {"type": "any", "default": 1}}
    (tmp_path / "p.json").write_text(json.dumps(spec))
    deep: object = 1
    for _ in range(MAX_METADATA_DEPTH):
        deep = [deep]
    for run in (vibench.compile_spec, vibench.check):  # check too: it only failed when model.py was written
        with pytest.raises(vibench.SpecError) as err:
            run(str(tmp_path / "p.json"), params={"deep": deep})
        (diag,) = err.value.diagnostics
        assert diag.code == "E104" and "METADATA['k0'][0]" in diag.notes[0]
        assert diag.pos is not None and diag.pos.line == 1


# -- 3. the regenerate command ------------------------------------------------------------------


def test_the_regenerate_command_names_the_spec_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--spec-path lib` was left out: the command it printed failed with E205."""
    from vibench.compiler.cli import EXIT_OK, main

    (tmp_path / "my lib").mkdir()
    (tmp_path / "my lib" / "T.yaml").write_text(
        "vibench: 1\nname: T\nparams: {n: 3}\ninputs: {x: {shape: [B, 4]}}\n"
        "nodes: {h: {block: linear, in: x, out_features: '${n}'}}\noutputs: {y: h}\n")
    (tmp_path / "u.yaml").write_text("vibench: 1\nname: U\nextends: T\nwith: {n: 5}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VIBENCH_SPEC_PATH", raising=False)
    assert main(["u.yaml", "--spec-path", "my lib", "-o", "m.py", "--set", "n=6", "--no-inplace"]) == EXIT_OK
    first = Path("m.py").read_text()
    line = next(x for x in first.splitlines() if x.startswith("# Regenerate: "))
    assert line == "# Regenerate: vibench-compile u.yaml -I 'my lib' -o m.py --set n=6 --no-inplace"
    Path("m.py").unlink()
    assert main(shlex.split(line.removeprefix("# Regenerate: "))[1:]) == EXIT_OK
    assert Path("m.py").read_text() == first


def test_a_file_name_byte_that_is_not_utf8_is_quoted_as_that_byte() -> None:
    """`a\\xffb.yaml` (Python's `a\\udcffb.yaml`) was written `$'a\\udcffb.yaml'`, another file's name."""
    assert header.shell(os.fsdecode(b"a\xffb.yaml")) == "$'a\\xffb.yaml'"
    assert header.shell("x\x85\U000e0001") == "$'x\\u0085\\U000e0001'"
    for name in (b"a\xffb.yaml", "x\x85\U000e0001y\n'".encode()):
        word = header.shell(os.fsdecode(name))
        done = subprocess.run(["bash", "-c", f"printf %s {word}"], capture_output=True,
                              env={**os.environ, "LC_ALL": "C.UTF-8"})
        assert done.stdout == name
    assert doctest.testmod(header).failed == 0


# -- 4. a JSON key over YAML's limit; 5. look-alike shape symbols ---------------------------------


def test_a_json_key_over_1024_characters_says_why(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    spec = _named(8, 8)
    spec["nodes"]["a" * 1100] = {"block": "relu", "in": "sc"}
    path.write_text(json.dumps(spec, indent=1))
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(str(path))
    (diag,) = err.value.diagnostics
    assert diag.code == "E001"
    assert any("YAML (which reads JSON specs too) limits a key to 1,024 characters" in n for n in diag.notes)
    path.write_text(json.dumps(spec, indent=1).replace('"a' + "a" * 1099 + '": {', '"b": {"c": 1,'))
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(str(path))
    assert not any("1,024" in n for d in err.value.diagnostics for n in d.notes)


@pytest.mark.parametrize("other, normal", [("\uff2c", "L"), ("\u210c", "H")])
def test_a_shape_symbol_python_reads_as_another_is_e106(tmp_path: Path, other: str, normal: str) -> None:
    """`[B, 4, L]` next to `[B, 4, Ｌ]`: two sizes that read alike (`Ｌ == 1 or L == Ｌ` in --check)."""
    spec = {"vibench": 1, "name": "S", "inputs": {"x": {"shape": ["B", 4, normal]}, "y": {"shape": ["B", 4, other]}},
            "nodes": {"h": {"block": "add", "in": ["x", "y"]}}, "outputs": {"z": "h"}}
    (diag,) = _errors(spec, tmp_path)
    assert diag.code == "E106" and diag.message == f"shape symbol name `{other}` reads as `{normal}` in Python"
    text = (tmp_path / "spec.json").read_text(encoding="utf-8").splitlines()
    assert diag.pos is not None and text[diag.pos.line - 1].strip() == f'"{other}"'
    spec["inputs"]["y"]["shape"][2] = "λ"
    (diag,) = _errors(spec, tmp_path)
    assert diag.code == "E106" and diag.message == "shape symbol name `λ` is not ASCII"


def test_second_structures_of_a_block_at_the_name_limits_give_a_file_ruff_accepts(tmp_path: Path) -> None:
    """A block used with other values gets classes named after the difference (`<Block>_<param>_<value>`);
    with a block and a parameter name at their limits that name is cut, so `self.<node> = <Class>()` (a
    bare call: nothing to split at) still fits, and cut names that meet get numbers."""
    block, param, node = "B" * MAX_CLASS_NAME, "p" * MAX_NAME, "n" * MAX_NAME
    values = [4.0, -1.5, -2.5, -3.5]
    nodes = {f"{node[:-1]}{k}": {"block": block, "in": f"{node[:-1]}{k - 1}" if k else "x", param: v}
             for k, v in enumerate(values)}
    spec = {"vibench": 1, "name": "Collide", "inputs": {"x": {"shape": ["B", 4]}},
            "blocks": {block: {"params": {param: {"type": "float", "default": 1.0}},
                               "inputs": {"u": {"shape": ["B", 4]}},
                               "nodes": {"s": {"block": "scale", "in": "u", "factor": "${" + param + "}"}},
                               "outputs": {"o": "s"}}},
            "nodes": nodes, "outputs": {"y": f"{node[:-1]}3"}}
    source = vibench.compile_spec(text=json.dumps(spec)).source
    classes = [line.split("(")[0].removeprefix("class ") for line in source.splitlines() if line.startswith("class ")]
    assert len(classes) == 5 and len(set(classes)) == 5  # four structures of the block, then the model
    module = _ruff_accepts(source, tmp_path)
    assert module.Collide()(__import__("torch").ones(2, 4)).shape == (2, 4)


BIG = """vibench: 1
name: Big
params:
  num_classes: {type: int, default: 4, ge: 1}
inputs:
  x: {shape: [B, 50000]}
nodes:
  wide: {block: linear, in: x, out_features: 50000}
  head: {block: linear, in: wide, out_features: "${num_classes}"}
outputs:
  logits: head
"""


def test_a_raised_size_limit_is_in_the_regenerate_command_and_the_probes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A model of 2.5e9 weights compiles with --max-params raised. The command it printed left the option
    out (running it failed with E307), and num_classes was probed under the default limit, so the class
    refused another value of it."""
    from vibench.compiler.cli import EXIT_OK, main

    (tmp_path / "big.yaml").write_text(BIG)
    monkeypatch.chdir(tmp_path)
    assert main(["big.yaml", "--max-params", "3000000000", "--max-activation", "4294967296", "-o", "m.py"]) == EXIT_OK
    first = Path("m.py").read_text()
    line = next(x for x in first.splitlines() if x.startswith("# Regenerate: "))
    assert line == "# Regenerate: vibench-compile big.yaml -o m.py --max-params 3000000000 --max-activation 4294967296"
    assert "def __init__(self, num_classes: int = 4, **fixed: object)" in first
    Path("m.py").unlink()
    assert main(shlex.split(line.removeprefix("# Regenerate: "))[1:]) == EXIT_OK
    assert Path("m.py").read_text() == first
    small = BIG.replace("50000", "5")
    assert "--max-" not in vibench.compile_spec(text=small).source
    lowered = vibench.compile_spec(text=small, max_nodes=10, max_params=10**6).source  # any value not the default
    assert "# Regenerate: vibench-compile - -o model.py --max-nodes 10 --max-params 1000000," in lowered
