"""Block parameters are checked exactly like template parameters: no bool for an int, no string for a
number or a bool, no float for an int (E112 with the value and the type); a list is a tuple."""

from __future__ import annotations

import pytest

import vibench

NODE = ("vibench: 1\nname: M\ninputs: {{x: {{shape: [B, 4, L]}}}}\nnodes:\n"
        "  n: {{block: conv1d, in: x, {params}}}\noutputs: {{y: n}}\n")


@pytest.mark.parametrize(("params", "field", "found"), [
    ("out_channels: 8, kernel_size: true", "kernel_size", "True"),
    ("out_channels: true, kernel_size: 3", "out_channels", "True"),
    ("out_channels: 8, kernel_size: 3, stride: '2'", "stride", "'2'"),
    ("out_channels: 8, kernel_size: 3.0", "kernel_size", "3.0"),
    ("out_channels: 8, kernel_size: 3, bias: 'no'", "bias", "'no'"),
    ("out_channels: 8, kernel_size: 3, bias: 1", "bias", "1"),
])
def test_a_block_parameter_of_the_wrong_type_is_e112(params: str, field: str, found: str) -> None:
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=NODE.format(params=params))
    (d,) = err.value.diagnostics
    assert d.code == "E112" and f"`{field}`" in d.message
    assert d.found == found and d.pos is not None and d.pos.line == 5


def test_an_expression_giving_the_wrong_type_is_e112_too() -> None:
    text = "vibench: 1\nname: M\nparams: {k: true}\ninputs: {x: {shape: [B, 4, L]}}\n" \
           "nodes:\n  n: {block: conv1d, in: x, out_channels: 8, kernel_size: '${k}'}\noutputs: {y: n}\n"
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=text)
    assert [d.code for d in err.value.diagnostics] == ["E112"]


def test_an_int_is_a_float_and_a_list_is_a_tuple() -> None:
    program = vibench.check(text="vibench: 1\nname: M\ninputs: {x: {shape: [B, 4, L]}}\nnodes:\n"
                                 "  d: {block: dropout, in: x, p: 0}\n"
                                 "  r: {block: reshape, in: d, shape: [0, 2, -1]}\noutputs: {y: r}\n")
    assert program.root.node("d").copies[0].params.p == 0.0
    assert program.root.node("r").copies[0].params.shape == (0, 2, -1)


@pytest.mark.parametrize(("layers", "code", "found"), [
    ("[3, 0, 1]", "E104", "0 (item 1 of [3, 0, 1])"),  # a zero-wide Linear (and BatchNorm1d(0) fails in forward)
    ("[3, true, 1]", "E112", "True (item 1 of [3, True, 1])"),
])
def test_an_item_of_a_list_parameter_is_named(layers: str, code: str, found: str) -> None:
    text = ("vibench: 1\nname: M\ninputs: {x: {shape: [B, 4]}}\nnodes:\n"
            f"  m: {{block: isfm_mlp, in: x, layers: {layers}, batch_norm: true}}\noutputs: {{y: m}}\n")
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=text)
    (d,) = err.value.diagnostics
    assert (d.code, d.found) == (code, found) and "`layers`" in d.message


@pytest.mark.parametrize(("structure", "code", "where", "found"), [
    ("inputs: {x: {shape: [B, 4.0, L]}}\nnodes: {n: {block: relu, in: x}}\noutputs: {y: n}\n",
     "E212", "a dimension must be", "4.0"),
    ("inputs: {x: {shape: [B, true, L]}}\nnodes: {n: {block: relu, in: x}}\noutputs: {y: n}\n",
     "E212", "a dimension must be", "true"),
    ("inputs: {x: {shape: [B, 4, L]}}\nnodes: {n: {block: relu, in: x}}\n"
     "outputs: {y: {from: n, shape: [B, 4.0, L]}}\n", "E212", "a promised dimension of output `y`", "4.0"),
    ("inputs: {x: {shape: [B, 4, L]}}\nnodes: {n: {block: relu, in: x, repeat: 2.0}}\noutputs: {y: n}\n",
     "E102", "node `n` (`repeat`)", "number 2.0"),
    ("inputs: {x: {shape: [B, 4, L]}}\nnodes: {n: {block: relu, in: x, repeat: true}}\noutputs: {y: n}\n",
     "E102", "node `n` (`repeat`)", "boolean True"),
    ("inputs: {x: {shape: [B, 4, L]}}\nnodes: {n: {block: relu, in: x, checkpoint: 1}}\noutputs: {y: n}\n",
     "E102", "node `n` (`checkpoint`)", "integer 1"),
    ("inputs: {x: {shape: [B, 4, L]}}\nnodes: {n: {block: relu, in: x}}\noutputs: {y: {from: n, when: 0}}\n",
     "E102", "`outputs.y.when`", "integer 0"),
])
def test_the_fields_of_the_spec_itself_are_strict_too(structure: str, code: str, where: str, found: str) -> None:
    # A shape of [B, 4.0, L] was read as [B, 4, L], `repeat: 2.0` as 2 and `checkpoint: 1` as true: the
    # spec's own fields took pydantic's lax conversions that block and template parameters refuse.
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text="vibench: 1\nname: M\n" + structure)
    (d,) = err.value.diagnostics
    assert d.code == code and where in d.message and d.found == found, d.render()


@pytest.mark.parametrize(("literal", "value"), [
    ("1e-5", 1e-5), ("1E3", 1000.0), ("1.5e2", 150.0), ("+2e-1", 0.2), ("-.5", -0.5), ("1.5e-1", 0.15),
])
def test_exponent_floats_are_numbers_as_in_yaml_1_2_and_json(literal: str, value: float) -> None:
    # YAML 1.1 (PyYAML) reads `1e-5` (no dot) and `1.5e2` (no sign) as strings: `eps: 1e-5`, the way
    # docs/blocks.md prints the default, was "expected number, found '1e-5'", in a JSON spec too.
    yaml_text = "vibench: 1\nname: M\ninputs: {x: {shape: [B, 4, L]}}\n" \
                f"nodes: {{a: {{block: leaky_relu, in: x, negative_slope: {literal}}}}}\noutputs: {{y: a}}\n"
    node = vibench.check(text=yaml_text).root.node("a").copies[0]
    assert node.params.negative_slope == value
    if not literal.startswith(("+", "-.")):  # JSON has no leading + and no bare fraction
        json_text = '{"vibench": 1, "name": "M", "inputs": {"x": {"shape": ["B", 4, "L"]}}, "nodes": {"a": ' \
                    f'{{"block": "leaky_relu", "in": "x", "negative_slope": {literal}}}}}, "outputs": {{"y": "a"}}}}'
        assert vibench.check(text=json_text).root.node("a").copies[0].params.negative_slope == value


def test_words_that_only_look_like_numbers_stay_strings() -> None:
    program = vibench.check(text="vibench: 1\nname: M\ninputs: {x: {shape: [B, 4, L]}}\n"
                                 "nodes: {a: {block: relu, in: x, doc: 1e}, b: {block: relu, in: a, doc: e5}}\n"
                                 "outputs: {y: b}\n")
    assert [n.doc for n in program.root.nodes] == ["1e", "e5"]
