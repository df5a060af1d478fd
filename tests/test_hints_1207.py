"""E112's hint "a plain name reads a parameter, `let` or loop variable; none is named `yes`" only where the node
wrote that plain name (its own key, or a `with:` written as a mapping): text a `${...}` computed, or that a
parameter or `let` the node's `with:` reads holds, was no name written to be read."""

import pytest

import vibench

PLAIN = "a plain name reads a parameter"


def _hint(node: str, head: str = "") -> str | None:
    text = (f"vibench: 1\nname: T\n{head}inputs: {{x: {{shape: [B, 6, 16]}}}}\n"
            f"nodes:\n  t: {node}\noutputs: {{y: t}}\n")
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=text)
    (d,) = [d for d in err.value.diagnostics if d.code == "E112"]
    return d.hint


@pytest.mark.parametrize("with_", [
    "\"${merge(cfg, dict([['bias', 'yes']]))}\"",  # the reported spec: the expression gives the text 'yes'
    "{out_features: 8, bias: \"${'yes'}\"}",
])
def test_text_an_expression_computed_gets_no_plain_name_hint(with_: str) -> None:
    hint = _hint(f"{{block: linear, in: x, with: {with_}}}",
                 "params:\n  cfg: {type: \"dict[str, any]\", default: {out_features: 8}}\n")
    assert hint is None or PLAIN not in hint


def test_a_nodes_own_key_computed_by_an_expression_gets_no_plain_name_hint() -> None:
    hint = _hint("{block: linear, in: x, out_features: 8, bias: \"${'yes'}\"}")
    assert hint is None or PLAIN not in hint


def test_text_a_let_holds_gets_no_plain_name_hint() -> None:
    # Under `let:` a plain name stays text: the hint's "reads a parameter" would not hold there.
    hint = _hint("{block: linear, in: x, with: lc}", "let:\n  lc: {out_features: 8, bias: yess}\n")
    assert hint is None or PLAIN not in hint


@pytest.mark.parametrize("node", [
    "{block: linear, in: x, out_features: 8, bias: yess}",
    "{block: linear, in: x, with: {out_features: 8, bias: yess}}",
])
def test_a_plain_name_the_node_wrote_keeps_the_hint(node: str) -> None:
    assert _hint(node) == f"{PLAIN}, `let` or loop variable; none is named `yess`"


def test_a_misspelt_name_the_node_wrote_is_named() -> None:
    hint = _hint("{block: linear, in: x, out_features: widht}", "params:\n  width: {type: int, default: 8}\n")
    assert hint == f"{PLAIN}, `let` or loop variable; none is named `widht` (did you mean `width`?)"


def test_a_parameters_name_in_a_written_with_for_a_text_field_says_how_to_read_it() -> None:
    # `activation` takes text, so `act` stays the text 'act'; the hint said "which takes no text".
    hint = _hint("{block: transformer_encoder_layer, in: x, nhead: 2, with: {activation: act}}",
                 "params:\n  act: {type: str, default: relu}\n")
    assert hint == "`activation` takes text, so `act` is the text 'act' here: write `${act}` to read `act`"
