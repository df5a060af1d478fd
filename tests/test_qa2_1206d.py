"""A second QA pass on the day's fixes (1206d), checked here.

- the finite rule (b86e4df) refused a `constant_pad` of -inf before a max and a clamp bound of inf, values
  that mean something there: a block names the float parameters that may be infinite (NaN never passes);
- a bare name of a composite whose outputs start with numbered ones (`{from: c.*}` beside a named one) read
  piece 0 silently: E405, as for a chunk node;
- `--input` for an `optional: true` input nothing reads (M_01_ISFM's system_id with one num_classes) bound
  B silently: E305, as for an input switched off by its `when`;
- the E303 time-axis hint named an input the node does not read;
- a block's equality reads `L == 4`, not `4 == L`;
- vibench.testing wrote `{from: p.*}` for every for_each sink, whose outputs then clashed (`0`, `1`).
"""

from __future__ import annotations

import pytest

import vibench
from tests.test_language_1206d import _error
from vibench.testing.graph_parts import _Node, _Unit, _Value

ONE = """\
vibench: 1
name: T
inputs: {x: {shape: [B, 4, 8]}}
nodes:
  n: {block: BLOCK, in: x, SETTING}
  m: {block: max_pool1d, in: n, kernel_size: 3, stride: 1}
outputs: {y: m}
"""


@pytest.mark.parametrize(("block", "setting"), [
    ("constant_pad", "dim: 2, before: 1, after: 1, value: -.inf"),
    ("clamp", "min: 0.0, max: .inf"),
    ("clamp", "min: -.inf, max: 1.0"),
])
def test_an_infinity_that_means_something_is_taken(block: str, setting: str) -> None:
    vibench.check(text=ONE.replace("BLOCK", block).replace("SETTING", setting))


def test_a_pad_of_minus_infinity_before_a_max_is_the_max_pools_own_padding() -> None:
    torch = pytest.importorskip("torch")
    model = vibench.build(text=ONE.replace("BLOCK", "constant_pad").replace("SETTING",
                                                                          "dim: 2, before: 1, after: 1, value: -.inf"))
    x = torch.randn(2, 4, 8)
    assert torch.equal(model(x), torch.nn.functional.max_pool1d(x, 3, 1, padding=1))


@pytest.mark.parametrize(("block", "setting", "expected"), [
    ("constant_pad", "dim: 2, after: 1, value: .nan", "a number, or -inf or inf"),
    ("clamp", "max: .nan", "a number, or -inf or inf"),
    ("scale", "factor: .inf", "a finite number"),
])
def test_nan_never_passes_and_infinity_only_where_taken(block: str, setting: str, expected: str) -> None:
    d = _error(ONE.replace("BLOCK", block).replace("SETTING", setting))
    assert d.code == "E104" and d.expected == expected, d


MIXED = """\
vibench: 1
name: T
blocks:
  Both:
    inputs: {x: {shape: [B, C, L]}}
    nodes:
      c: {block: chunk, in: x, chunks: 2, dim: 2}
      r: {block: relu, in: x}
    outputs: {y: {from: c.*}, z: r}
inputs: {x: {shape: [B, 4, 8]}}
nodes:
  o: {block: Both, in: x}
  k: {block: relu, in: READ}
outputs: {k: k}
"""


def test_a_bare_name_of_a_composite_whose_outputs_start_numbered_is_e405() -> None:
    d = _error(MIXED.replace("READ", "o"))
    assert d.code == "E405" and "numbered outputs of node `o`" in d.message, d
    assert d.expected == "`o.0` or `o.1`, or `o.z`", d
    vibench.check(text=MIXED.replace("READ", "o.1"))
    vibench.check(text=MIXED.replace("READ", "o.z"))


def test_binding_an_optional_input_nothing_reads_is_e305() -> None:
    d = _error("vibench: 1\nextends: isfm/M_01_ISFM\n", params={"num_classes": 5}, inputs={"system_id": (4,)})
    assert d.code == "E305" and "`system_id`" in d.message and "nothing reads it" in d.message, d
    program = vibench.check("isfm/M_01_ISFM", inputs={"system_id": (4,)})  # per-system heads: it is taken
    assert "system_id" in [name for name, _ in program.root.inputs]


def test_the_time_axis_hint_is_about_the_input_the_node_reads() -> None:
    text = """\
vibench: 1
name: T
inputs:
  x: {shape: [B, L, 4], layout: BLC, as: BCL}
  z: {shape: [B, L, 3]}
nodes:
  a: {block: conv1d, in: x, out_channels: 8, kernel_size: 3}
  b: {block: conv1d, in: z, out_channels: 8, kernel_size: 1}
outputs: {a: a, b: b}
"""
    d = _error(text)
    assert d.code == "E303" and d.node == "b" and "time axis of input" not in (d.hint or ""), d


def test_a_blocks_equality_reads_with_the_size_first() -> None:
    text = """\
vibench: 1
name: Q
inputs: {x: {shape: [B, 4, L]}, z: {shape: [B, 4, C]}}
nodes:
  m: {block: matmul, in: [x, z]}
outputs: {m: m}
"""
    assert [c.text for c in vibench.check(text=text).root.constraints] == ["L == 4"]


def test_only_one_for_each_sink_is_read_whole() -> None:
    unit = _Unit("Fuzz")
    for name in ("p", "q"):
        unit.nodes.append(_Node(name, "relu", ["x0"], {}, {"for_each": [1, 2]}))
        unit.pool += [_Value(f"{name}.{k}", name, (2, 4), "float32", (None, None)) for k in (0, 1)]
    assert unit.sink_refs() == ["{from: p.*}", "q.0"]


# -- the cache and the command line (a second pass on f24f109 and deddfe5) ------------------------------------


@pytest.mark.parametrize("name", ["cnn/ResN\udcff", "a\nb"])
def test_schema_of_an_odd_template_name_is_a_one_line_usage_error(name: str,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from vibench.compiler.cli import main

    assert main(["schema", "--template", name]) == 2  # a non-UTF-8 byte was an internal UnicodeEncodeError
    first = capsys.readouterr().err.splitlines()[0]
    assert first.startswith("vibench-compile: usage error: unknown template `") and ("\\x" in first or "\\n" in first)


@pytest.mark.parametrize("spec", ["./cnn/ResNt", "/nowhere/cnn/ResNt"])
def test_a_path_gets_no_template_hint(spec: str, capsys: pytest.CaptureFixture[str]) -> None:
    from vibench.compiler.cli import main

    assert main([spec, "--check"]) == 2
    assert "did you mean" not in capsys.readouterr().err


def test_numpy_keys_are_the_values_they_hold() -> None:
    np = pytest.importorskip("numpy")
    program = vibench.check("isfm/M_01_ISFM", params={"num_classes": {np.int64(1): 4, np.int64(2): 6}})
    assert dict(program.root.params)["num_classes"] == {1: 4, 2: 6}


def test_an_any_value_no_spec_holds_says_which_part() -> None:
    text = ("vibench: 1\nname: T\nparams: {p: {type: any, default: 1}}\ninputs: {x: {shape: [B, 4]}}\n"
            "nodes: {a: {block: relu, in: x}}\noutputs: {y: a}\n")
    d = _error(text, params={"p": [1, b"x"]})
    assert d.code == "E202" and any("a bytes is no value a spec can hold" in n for n in d.notes), d


def test_warnings_from_the_cache_name_the_file_as_this_caller_does(tmp_path, monkeypatch, folder) -> None:
    import warnings

    spec = tmp_path / "spec.yaml"
    spec.write_text("vibench: 1\nname: W\nparams: {unused: 3}\ninputs: {x: {shape: [B, 4]}}\n"
                    "nodes: {a: {block: relu, in: x}}\noutputs: {y: a}\n")
    (tmp_path / "sub").mkdir()
    said = []
    for where, given in ((tmp_path, "spec.yaml"), (tmp_path / "sub", "../spec.yaml")):
        monkeypatch.chdir(where)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            vibench.build(given)
        said += [str(w.message) for w in caught if "W105" in str(w.message)]
    assert len(said) == 2 and "--> spec.yaml:3:" in said[0] and "--> ../spec.yaml:3:" in said[1], said


# -- e400413, second pass -----------------------------------------------------------------------------------


def test_a_sum_of_up_to_300_inputs_stays_a_scriptable_chain(tmp_path) -> None:
    """MAX_CHAIN was 100: models summing 101 to ~330 inputs, which TorchScript scripted, no longer scripted."""
    torch = pytest.importorskip("torch")
    from tests.helpers import load_file_module
    from vibench.compiler.blocks.arith import MAX_CHAIN

    assert MAX_CHAIN >= 300
    text = ("vibench: 1\nname: A\ninputs: {x: {shape: [B, 3]}}\nnodes:\n"
            '  c: {block: scale, in: x, factor: "${item + 1}", for_each: "${range(250)}"}\n'
            "  s: {block: add, in: c}\noutputs: {y: s}\n")
    path = tmp_path / "chain250.py"
    path.write_text(vibench.compile_spec(text=text).source)
    model = load_file_module(str(path), "chain250_1206d").A()
    x = torch.randn(2, 3)
    assert torch.equal(torch.jit.script(model)(x), model(x))


def test_wrapping_a_long_run_of_flags_is_linear(monkeypatch) -> None:
    """Regional indicators pair up from the start of the run: cutting 4,000 of them into lines walked back over
    the whole run for every character (quadratic: a doc of 20,000 flags took 50 s)."""
    from vibench.compiler.codegen import text

    calls = 0
    regional = text._regional

    def counted(ch: str) -> bool:
        nonlocal calls
        calls += 1
        return regional(ch)

    monkeypatch.setattr(text, "_regional", counted)
    pieces = text.cut_to_fit("\U0001f1ef" * 4000, 80)
    assert "".join(pieces) == "\U0001f1ef" * 4000 and all(len(p) % 2 == 0 for p in pieces[:-1])
    assert calls < 4000 * 200, calls  # a line's worth per character, not the run's


# -- several float dtypes among the inputs ----------------------------------------------------------------------

MIXED_FLOATS = """\
vibench: 1
name: Mx
inputs:
  x: {shape: [B, 8], dtype: float64}
  z: {shape: [B, 8], dtype: float16}
nodes:
  a: {block: BLOCK, in: x}
  b: {block: relu, in: z}
outputs: {a: a, b: b}
"""


def test_a_block_with_weights_given_another_float_dtype_than_the_models_is_e304() -> None:
    """x float64 and z float16: model.py leaves the module float32, and a linear on x compiled, then torch refused
    it ("mat1 and mat2 must have the same dtype")."""
    d = _error(MIXED_FLOATS.replace("BLOCK", "linear, out_features: 3"))
    assert d.code == "E304" and d.node == "a" and (d.expected, d.found) == ("float32", "float64"), d


def test_weightless_blocks_take_any_float_dtype() -> None:
    torch = pytest.importorskip("torch")
    model = vibench.build(text=MIXED_FLOATS.replace("BLOCK", "tanh"))  # no weights: each keeps its dtype
    a, b = model(torch.randn(2, 8, dtype=torch.float64), torch.randn(2, 8, dtype=torch.float16)).values()
    assert (a.dtype, b.dtype) == (torch.float64, torch.float16)


# -- a third pass (on 107c6cb) -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("dtype", "value"), [("int64", "-.inf"), ("int64", ".inf"), ("int64", "1e300"),
                                               ("int32", "3000000000"), ("int64", "0.5")])
def test_an_integer_tensor_is_padded_with_a_whole_number_it_holds(dtype: str, value: str) -> None:
    """`value: -.inf` on int64 was an internal OverflowError once infinity passed E104; 1e300 compiled and torch
    refused it in forward ("cannot be converted to type int64_t without overflow")."""
    text = (f"vibench: 1\nname: P\ninputs: {{x: {{shape: [B, 4], dtype: {dtype}}}}}\nnodes:\n"
            f"  p: {{block: constant_pad, in: x, dim: 1, after: 2, value: {value}}}\noutputs: {{y: p}}\n")
    d = _error(text)
    assert d.code == "E304" and "cannot be padded" in d.message and d.expected.startswith("a whole number"), d


def test_the_time_axis_hint_follows_the_value_back_through_nodes() -> None:
    text = """\
vibench: 1
name: T
inputs: {x: {shape: [B, L, 4], layout: BLC}}
nodes:
  d: {block: dropout, in: x, p: 0.1}
  n: {block: conv1d, in: d, out_channels: 8, kernel_size: 3}
outputs: {y: n}
"""
    d = _error(text)
    assert d.code == "E303" and "time axis of input `x`" in (d.hint or ""), d


@pytest.mark.parametrize(("z", "text"), [("[B, 16, 3]", "L * L == 16"), ("[B, L, 3]", "L == L * L")])
def test_an_equality_of_a_block_is_never_read_as_roots(z: str, text: str) -> None:
    """`16 == L * L` read `L == -4 or L == 4` (a size is never negative), `L == L * L` read `L == 0 or L == 1`."""
    spec = ("vibench: 1\nname: Q\ninputs: {x: {shape: [B, 2, L, L]}, z: {shape: " + z + "}}\nnodes:\n"
            "  f: {block: flatten, in: x, start_dim: 2}\n  m: {block: matmul, in: [f, z]}\noutputs: {y: m}\n")
    assert [c.text for c in vibench.check(text=spec).root.constraints] == [text]


def test_a_schema_of_a_template_whose_name_is_not_utf8_is_written(tmp_path, monkeypatch) -> None:
    import json
    import os

    from vibench.compiler.cli import main

    lib = tmp_path / "odd"
    lib.mkdir()
    (lib / os.fsdecode(b"n\xffx.yaml")).write_text("vibench: 1\nname: N\ninputs: {x: {shape: [B, 4]}}\n"
                                                   "nodes: {a: {block: relu, in: x}}\noutputs: {y: a}\n")
    monkeypatch.chdir(tmp_path)
    assert main(["schema", "--spec-path", "odd", "--template", os.fsdecode(b"n\xffx"), "-o", "odd.json"]) == 0
    schema = json.loads((tmp_path / "odd.json").read_bytes().decode("utf-8"))  # UTF-8, the byte escaped
    assert schema["$id"].endswith("/n%FFx.schema.json") and schema["description"].endswith("extend `n\\xffx`.")


def test_a_bare_name_of_mixed_outputs_offers_the_named_ones_too() -> None:
    d = _error(MIXED.replace("READ", "o").replace("chunks: 2", "chunks: 1"))
    assert d.code == "E405" and d.expected == "`o.0`, or `o.z`", d


@pytest.mark.parametrize(("encoding", "character"), [("utf-16", 108), ("utf-8", 112), ("utf-32", 106)])
def test_definition_in_another_file_is_in_the_clients_encoding(tmp_path, encoding: str, character: int) -> None:
    """`Blk:` after two emoji on its line: the server said character 106 (code points) whatever was agreed."""
    from vibench.lsp.catalog import Catalog
    from vibench.lsp.navigation import _unit_location

    (tmp_path / "lib.yaml").write_text(
        "vibench: 1\nname: L\ninputs: {x: {shape: [B, 3]}}\nnodes: {h: {block: relu, in: x}}\noutputs: {y: h}\n"
        'blocks: {A: {doc: "\U0001f600\U0001f600", inputs: {x: {shape: [B, 3]}}, nodes: {h: {block: relu, in: x}}, '
        "outputs: {y: h}}, Blk: {inputs: {x: {shape: [B, 3]}}, nodes: {h: {block: relu, in: x}}, outputs: {y: h}}}\n",
        encoding="utf-8")
    (location,) = _unit_location(Catalog([]), "./lib.yaml#Blk", str(tmp_path), encoding) or []
    assert (location.range.start.line, location.range.start.character) == (5, character)
