"""`reference.state_dict_renames` rules are checked where the spec writes them: the emitted
`load_reference_state_dict` applies each with `re.sub` to every key of a checkpoint, and both the spec
and the checkpoint may come from someone else."""

from __future__ import annotations

import json

import pytest

import vibench
from vibench.compiler.rename_rules import MAX_PATTERN, rename_problem


def _spec(renames: str) -> str:
    return ("vibench: 1\nname: Tiny\nparams: {width: 3}\ninputs: {x: {shape: [B, 2]}}\n"
            "nodes: {head: {block: linear, in: x, out_features: \"${width}\"}}\noutputs: {y: head}\n"
            f"reference:\n  model: CNN/Tiny\n  state_dict_renames:\n{renames}")


@pytest.mark.parametrize(("pattern", "replacement", "words"), [
    ("^(a+)+$", "x", "a repetition that holds another repetition or alternatives"),
    ("^(\\w*\\.)*head", "x", "a repetition that holds another repetition or alternatives"),
    ("^(a|ab)*c", "x", "a repetition that holds another repetition or alternatives"),
    ("^(?=(a+)+)x", "x", "a repetition that holds another repetition or alternatives"),
    ("^classifier[.]", "head.\\2", "invalid replacement for this pattern: invalid group reference 2"),
    ("^(classifier)[.]", "\\g<name>.", "invalid replacement for this pattern: unknown group name 'name'"),
    ("^classifier[", "head.", "invalid regular expression: unterminated character set"),
    ("c" * (MAX_PATTERN + 1), "head.", f"the pattern has {MAX_PATTERN + 1:,} characters (at most {MAX_PATTERN})"),
])
def test_a_rule_that_cannot_load_safely_is_e210_at_its_pattern(pattern: str, replacement: str, words: str) -> None:
    """A replacement naming a group the pattern lacks was an re.error when the user loaded weights; a
    nested repetition took exponential time on a crafted key (`^(a+)+$` on 30 `a` and `!`: minutes)."""
    text = _spec(f"    - [{json.dumps(pattern)}, {json.dumps(replacement)}]\n")
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=text)
    (diag,) = err.value.diagnostics
    assert diag.code == "E210" and words in diag.message
    assert diag.message.startswith("`reference.state_dict_renames`: ")
    assert diag.pos is not None and (diag.pos.line, diag.pos.col) == (10, 8)  # the pattern


def test_a_computed_rule_is_checked_the_same_way() -> None:
    text = _spec("    \"${[['^(' + 'a' * width + '+)+$', 'x']]}\"\n")
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=text)
    (diag,) = err.value.diagnostics
    assert diag.code == "E210" and "a repetition that holds another repetition" in diag.message
    assert diag.found == "['^(aaa+)+$', 'x']"
    one_level = text.replace("'+)+$'", "')+$'")  # ^(aaa)+$: a repetition of a literal
    assert vibench.check(text=one_level).root.state_dict_renames == (("^(aaa)+$", "x"),)


@pytest.mark.parametrize(("pattern", "replacement"), [
    ("^conv_layers\\.(\\d+\\.)?", "layers.\\1conv."),  # the library's kinds of rules
    ("^(task_heads\\.classification\\.category_tokes)\\.(\\w+)$", "\\1.heads.\\2.tokens"),
    ("^(weight|bias)\\b", "universal_projection.\\1"),
    ("^(a|b)*c", "x"),  # one character per alternative: a character class, no backtracking between them
    ("^x{2,3}(y{1})+", "z"),  # a repetition of one item inside another is no nesting
])
def test_rules_of_one_level_are_accepted(pattern: str, replacement: str) -> None:
    assert rename_problem(pattern, replacement) is None
    text = _spec(f"    - [{json.dumps(pattern)}, {json.dumps(replacement)}]\n")
    assert vibench.check(text=text).root.state_dict_renames == ((pattern, replacement),)

