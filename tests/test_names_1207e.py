"""Names of a copy's loop variables, exact literals, and the hints about names (QA 1207e).

- A shape symbol named `i`, `item` or `key` passed `--check`, and model.py wrote `nn.Linear(i, i + 1)` with no `i`
  (a NameError at construction); inside a `repeat` copy `${i}` read the copy index instead. Such a symbol is now
  E106 at the symbol, in the words a parameter or `let` of that name gets.
- E112's hint for `out_features: i` on a node without copies said "`out_features` takes text ... write `${i}`":
  it takes no text, and `${i}` fails too. It now says which copies have the name and what the node has.
- A composite used with `m: 0.0` and `m: -0.0` became one class writing `momentum=0.0` for both: literals are now
  compared exactly (types all the way down, floats by their bits).
- `out_features: itme` on a `for_each` node suggested no `item`; `default: b` naming a `let` said only "not
  integer". The copy's loop names are suggested, and the E210 says a default cannot read a `let`.
- A parameter whose name was only written as text (`act: {type: str, default: relu}`, `with: {act: relu}` for a
  `str`) counted as read: it is now W105.
"""

import ast

import pytest

import vibench
from vibench.compiler.codegen.formula import same_value
from vibench.compiler.codegen.unify import differences

LOOP_WORDS = "is reserved for the copies of `repeat`/`for_each`"


def _errors(text: str, code: str) -> list:
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=text)
    return [d for d in err.value.diagnostics if d.code == code]


def _composite(symbol: str, node: str) -> str:
    return (f"vibench: 1\nname: T\ninputs: {{x: {{shape: [B, 4]}}}}\nblocks:\n  Blk:\n"
            f"    inputs: {{x: {{shape: [B, {symbol}]}}}}\n    nodes:\n      f: {node}\n"
            "      g: {block: relu, in: f}\n"
            "    outputs: {y: g}\nnodes:\n  a: {block: Blk, in: x}\n  b: {block: Blk, in: a}\noutputs: {y: b}\n")


@pytest.mark.parametrize(("symbol", "node"), [
    ("i", '{block: linear, in: x, out_features: "${i + 1}"}'),  # model.py: nn.Linear(i, i + 1), no `i`
    ("i", '{block: linear, in: x, out_features: "${i + 1}", repeat: 2}'),  # `i` was the copy index
    ("item", '{block: linear, in: x, out_features: "${item + 1}"}'),
    ("key", '{block: linear, in: x, out_features: "${key + 1}"}'),
])
def test_a_loop_name_as_a_shape_symbol_is_e106_at_the_symbol(symbol: str, node: str) -> None:
    (d,) = _errors(_composite(symbol, node), "E106")
    assert d.message == f"shape symbol name `{symbol}` {LOOP_WORDS}"
    assert (d.pos.line, d.pos.col) == (6, 29)
    assert d.hint == f"rename it, e.g. `{symbol}_`"


def test_the_shape_symbols_words_are_a_parameters() -> None:
    (param,) = _errors("vibench: 1\nname: T\nparams: {i: 3}\ninputs: {x: {shape: [B, 4]}}\n"
                       "nodes:\n  f: {block: linear, in: x, out_features: 2}\noutputs: {y: f}\n", "E106")
    (symbol,) = _errors(_composite("i", '{block: linear, in: x, out_features: "${i + 1}"}'), "E106")
    assert symbol.message.replace("shape symbol", "parameter") == param.message
    assert symbol.hint == param.hint


@pytest.mark.parametrize("shape", ["[B, i]", '"${[\'B\', s]}"'])  # written, or given by a `${...}`
def test_a_models_own_symbol_i_is_refused(shape: str) -> None:
    text = (f"vibench: 1\nname: T\nparams: {{s: {{type: str, default: i}}}}\ninputs: {{x: {{shape: {shape}}}}}\n"
            "nodes:\n  f: {block: linear, in: x, out_features: i, repeat: 2}\noutputs: {y: f}\n")
    (d,) = _errors(text, "E106")
    assert d.message == f"shape symbol name `i` {LOOP_WORDS}" and d.pos.line == 4


def test_an_output_promises_no_loop_name_either() -> None:
    text = ("vibench: 1\nname: T\ninputs: {x: {shape: [B, 4]}}\nnodes:\n  f: {block: linear, in: x, out_features: 4}\n"
            "outputs: {y: {from: f, shape: [B, key]}}\n")
    (d,) = _errors(text, "E106")
    assert d.message == f"shape symbol name `key` {LOOP_WORDS}" and (d.pos.line, d.pos.col) == (6, 35)


def test_build_refuses_the_symbol_before_any_module_exists() -> None:
    with pytest.raises(vibench.SpecError) as err:  # it was a NameError in the constructor
        vibench.build(text=_composite("i", '{block: linear, in: x, out_features: "${i + 1}"}'))
    assert [d.code for d in err.value.diagnostics] == ["E106"]


def _e112_hint(nodes: str, head: str = "") -> list[str | None]:
    text = f"vibench: 1\nname: T\n{head}inputs: {{x: {{shape: [B, 4]}}}}\nnodes:\n{nodes}outputs: {{y: h}}\n"
    return [d.hint for d in _errors(text, "E112")]


def test_a_loop_name_on_a_node_without_copies_says_where_it_exists() -> None:
    (hint,) = _e112_hint("  h: {block: linear, in: x, out_features: i}\n")
    assert hint == ("a plain name reads a parameter, `let` or loop variable, and `i` exists only in the copies of "
                    "`repeat`/`for_each`: node `h` has neither")


@pytest.mark.parametrize(("name", "where"), [("item", "`for_each`"), ("key", "a `for_each` over a mapping")])
def test_a_for_each_name_on_a_repeat_node_says_what_its_copies_have(name: str, where: str) -> None:
    (hint,) = _e112_hint(f"  h: {{block: linear, in: x, repeat: 2, out_features: {name}}}\n")
    assert hint == (f"a plain name reads a parameter, `let` or loop variable, and `{name}` exists only in the copies "
                    f"of {where}: the copies of node `h` have only `i`")


def test_a_for_each_name_on_a_plain_node_says_it_has_no_for_each() -> None:
    (hint,) = _e112_hint("  h: {block: linear, in: x, out_features: item}\n")
    assert hint is not None and hint.endswith("`item` exists only in the copies of `for_each`: node `h` has no "
                                              "`for_each`")


def test_a_misspelt_loop_name_is_suggested() -> None:
    (hint,) = _e112_hint("  each: {block: linear, in: x, for_each: [1, 2], out_features: itme}\n"
                         "  h: {block: concat, in: [each.0, each.1], dim: 1}\n")
    assert hint == "a plain name reads a parameter, `let` or loop variable; none is named `itme` (did you mean `item`?)"


def test_a_parameters_text_hint_is_kept() -> None:
    (hint,) = _e112_hint("  h: {block: linear, in: x, out_features: widht}\n", "params: {width: 3}\n")
    assert hint is not None and hint.endswith("none is named `widht` (did you mean `width`?)")


def test_a_default_naming_a_let_says_a_default_cannot_read_one() -> None:
    text = ("vibench: 1\nname: T\nparams:\n  n: {type: int, default: b}\nlet:\n  b: 3\ninputs: {x: {shape: [B, 8]}}\n"
            "nodes:\n  fc: {block: linear, in: x, out_features: n}\noutputs: {y: fc}\n")
    (d,) = _errors(text, "E210")
    assert d.hint == ("`b` is a `let` value, and a parameter's default cannot read one (`let` values are computed from "
                      "the parameters): write the value itself, or make `b` a parameter")
    (other,) = _errors(text.replace("default: b}", "default: c}"), "E210")  # no `let` of that name: as before
    assert other.hint == "change the default, or the `type`/bounds it must meet"


def test_zero_and_minus_zero_are_two_uses_of_the_class() -> None:
    text = ("vibench: 1\nname: Z\ninputs: {x: {shape: [B, 4, L]}}\nblocks:\n  Blk:\n"
            "    params: {m: {type: float, default: 0.1}}\n    inputs: {x: {shape: [B, C, L]}}\n"
            "    nodes:\n      bn: {block: batch_norm1d, in: x, momentum: m}\n      ad: {block: add, in: [bn, x]}\n"
            "    outputs: {y: ad}\n"
            "nodes:\n  a: {block: Blk, in: x, m: 0.0}\n  b: {block: Blk, in: a, m: -0.0}\noutputs: {y: b}\n")
    source = vibench.compile_spec(text=text).source
    assert "momentum=m)" in source and "Blk(m=0.0)" in source and "Blk(m=-0.0)" in source


def test_values_are_compared_exactly() -> None:
    assert not same_value(0.0, -0.0) and not same_value([1], [1.0]) and not same_value([1], (1,))
    assert not same_value([True], [1]) and not same_value({0.0: 1}, {-0.0: 1}) and not same_value([[0.0]], [[-0.0]])
    assert not same_value({"a": 1, "b": 2}, {"b": 2, "a": 1})  # a mapping's order is the model's
    assert same_value(float("nan"), float("nan")) and same_value([1, "a", None], [1, "a", None])
    trees = [ast.parse(f"f({v})", mode="eval").body for v in ("[1]", "[1.0]")]
    assert differences(trees) == {("args", 0): [[1], [1.0]]}


def _warned(text: str) -> list[str]:
    return [d.message for d in vibench.check(text=text).warnings if d.code == "W105"]


STR_BLOCK = ("blocks:\n  Blk:\n    params: {act: {type: str, default: gelu}}\n    inputs: {x: {shape: [B, C]}}\n"
             "    nodes:\n      a: {block: isfm_activation, in: x, name: \"${act}\"}\n    outputs: {y: a}\n")


def test_a_name_written_as_text_into_a_with_is_no_read() -> None:
    text = ("vibench: 1\nname: T\nparams:\n  relu: {type: int, default: 3}\ninputs: {x: {shape: [B, 4]}}\n"
            f"{STR_BLOCK}nodes:\n  b: {{block: Blk, in: x, with: {{act: relu}}}}\noutputs: {{y: b}}\n")
    assert _warned(text) == ["parameter `relu` is declared but never used"]


def test_a_name_written_as_a_text_default_is_no_read() -> None:
    text = ("vibench: 1\nname: T\nparams:\n  relu: {type: int, default: 3}\n  act: {type: str, default: relu}\n"
            "inputs: {x: {shape: [B, 4]}}\nnodes:\n  a: {block: isfm_activation, in: x, name: \"${act}\"}\n"
            "outputs: {y: a}\n")
    assert _warned(text) == ["parameter `relu` is declared but never used"]


def test_names_that_read_a_parameter_still_count() -> None:
    text = ("vibench: 1\nname: T\nparams:\n  m: 3\n  n: {type: int, default: m}\n  w: 4\n"
            "inputs: {x: {shape: [B, 4]}}\nnodes:\n  f: {block: linear, in: x, out_features: n}\n"
            "  h: {block: linear, in: f, with: {out_features: w}}\noutputs: {y: h}\n")
    assert _warned(text) == []


@pytest.mark.parametrize("default", ['"${b + 1}"', '"${max(b, 2)}"'])
def test_a_default_reading_a_let_in_an_expression_says_so(default: str) -> None:
    """`default: "${b + 1}"` for a `let` b was E204 "unknown name `b`" with the hint "names defined here: `n`"."""
    (d,) = _errors(f"vibench: 1\nname: L3\nparams:\n  n: {{type: int, default: {default}}}\nlet:\n  b: 3\n"
                   "inputs: {x: {shape: [B, 8]}}\nnodes:\n  fc: {block: linear, in: x, out_features: n}\n"
                   "outputs: {y: fc}\n", "E204")
    assert d.pos is not None and (d.pos.line, d.pos.col) == (4, 27)
    assert "reads `b`, a `let` value" in d.message and d.hint is not None and "cannot read one" in d.hint


def test_a_default_may_call_a_function_beside_a_let() -> None:
    program = vibench.check(text="vibench: 1\nname: L4\nparams:\n  n: {type: int, default: \"${max(2, 3)}\"}\n"
                            "let:\n  b: 3\ninputs: {x: {shape: [B, 8]}}\n"
                            "nodes:\n  fc: {block: linear, in: x, out_features: n}\noutputs: {y: fc}\n")
    assert [str(t) for _, _, t in program.root.outputs] == ["[B, 3]"]
