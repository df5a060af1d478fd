"""A rename rule's time on one key is bounded on both sides: the compiler refuses a pattern whose
repetitions multiply (E210 at the pattern: `.*.*.*!` takes a key's length cubed from each of its
characters, and the spec's author chose the power), and both loaders refuse a checkpoint key over
1,024 characters before a rule runs on it (a hostile checkpoint carried keys of 200,000). With the
library's rules and an ordinary checkpoint nothing changes."""

from __future__ import annotations

import ast
import contextlib
import json
import re
import textwrap
import types
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

import vibench
from tests.helpers import TINY_REFERENCE_SPEC
from vibench.compiler import rename_rules
from vibench.compiler.cli import EXIT_SPEC, main
from vibench.compiler.rename_rules import rename_problem
from vibench.runtime import checkpoint
from vibench.runtime.checkpoint import ReferenceCheckpointError
from vibench.runtime.checkpoint import load_reference_state_dict as runtime_loader

ROOT = Path(__file__).resolve().parents[1]
MAX_KEY = 1024
STEPS = "the pattern can take more than 16,793,600 steps on a key of 1,024 characters"


def _spec(renames: str) -> str:
    return ("vibench: 1\nname: Tiny\nparams: {width: 3}\ninputs: {x: {shape: [B, 2]}}\n"
            "nodes: {head: {block: linear, in: x, out_features: \"${width}\"}}\noutputs: {y: head}\n"
            f"reference:\n  model: CNN/Tiny\n  state_dict_renames:\n{renames}")


@pytest.mark.parametrize("pattern", [
    ".*" * 12 + "!",  # the QA repro: minutes on a 50-character key
    ".*.*!",  # two overlapping repetitions: a key's length squared from every character
    "\\w*\\w*\\.x",
    ".*[^.]*\\.x",  # the second stops at a dot, but runs over the key once for each length of the first
    "a?" * 12 + "a" * 12 + "!",  # no repetition of more than one: each `a?` doubles the ways
    ".{0,40}" * 4 + "!",  # bounded repetitions multiply too
    "(a?)*!",
    "(?=.*.*!)",  # inside an assertion
    "^.*.*.*!",  # anchored: tried from the first character only, but a key's length cubed from there
    "^(.*?)\\.(.*?)\\.(.*)$",
    "(?m)^(.*)\\.(.*)$",  # MULTILINE: `^` matches after every line break, so it is no anchor
])
def test_a_pattern_whose_repetitions_multiply_is_e210_at_the_pattern(pattern: str) -> None:
    assert rename_problem(pattern, "x") is not None
    text = _spec(f"    - [{json.dumps(pattern)}, \"x\"]\n")
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=text)
    (diag,) = err.value.diagnostics
    assert diag.code == "E210" and diag.message.startswith("`reference.state_dict_renames`: ")
    assert diag.pos is not None and (diag.pos.line, diag.pos.col) == (10, 8)  # the pattern
    if STEPS in diag.message:  # (`(a?)*` is also a nested repetition, named so)
        assert "Write one `.*` at most, anchor the rule with `^`" in diag.message and "`[^.]*`" in diag.message


def test_a_computed_pattern_is_bounded_too() -> None:
    text = _spec("    \"${[['.*' * width + '!', 'x']]}\"\n")
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=text)
    (diag,) = err.value.diagnostics
    assert diag.code == "E210" and STEPS in diag.message and diag.found == "['.*.*.*!', 'x']"


@pytest.mark.parametrize("pattern", [
    ".*!", ".*\\.(weight|bias)$", "^(\\w+)\\.(\\w+)\\.conv$", "[^.]*\\.[^.]*\\.[^.]*\\.[^.]*\\.x",
    "(?:a|b|c|d).*\\.x", ".{0,1000}!", ".*?!", "(?i)^[^.]*\\.x",
    # anchored with `^` (or `\A`): the matcher starts at the first character only, so two `.*` are fine
    "^(.*)\\.(.*)$", "^(.*)_(.*)$", "^model\\.(.*)\\.bn\\.(.*)$", "^(.*)\\.conv(\\d)\\.(.*)$", "^(.+?)\\.(.+)$",
    "^.*attn.*$", "\\A(.*)\\.(.*)\\Z",
])
def test_one_overlapping_repetition_and_rules_that_stop_at_dots_are_accepted(pattern: str) -> None:
    assert rename_problem(pattern, "x") is None


def _rules(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [r[0] for r in node.get("state_dict_renames", []) if isinstance(r, list) and r
                 and isinstance(r[0], str)] if isinstance(node.get("state_dict_renames"), list) else []
        return found + [p for k, v in node.items() if k != "state_dict_renames" for p in _rules(v)]
    return [p for v in node for p in _rules(v)] if isinstance(node, list) else []


def test_every_library_and_golden_rule_is_within_the_bound() -> None:
    """The specs' written rules and every compiled model's (computed ones and a component's, scoped to
    its node, included), as the golden files carry them."""
    patterns = {p for f in sorted((ROOT / "vibench" / "specs").rglob("*.yaml"))
                for doc in yaml.safe_load_all(f.read_text()) for p in _rules(doc)}
    for f in sorted((ROOT / "tests" / "golden").rglob("*.py")):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "REFERENCE_STATE_DICT_RENAMES"
                                                    for t in node.targets):
                patterns |= {p for p, _ in ast.literal_eval(node.value)}
    assert len(patterns) > 100
    assert {p: rename_problem(p, "x") for p in patterns if rename_problem(p, "x")} == {}


def test_the_bounds_agree() -> None:
    assert rename_rules.MAX_KEY == checkpoint.MAX_KEY_LENGTH == MAX_KEY
    helper = Path(rename_rules.__file__).parent / "codegen" / "reference_loader.py"
    assert f"len(k) > {MAX_KEY}" in helper.read_text() and f"at most {MAX_KEY:,} characters" in helper.read_text()


TINY = TINY_REFERENCE_SPEC


def _emitted() -> types.ModuleType:
    module = types.ModuleType("emitted_bounds")
    exec(compile(vibench.compile_spec(text=TINY).source, "emitted_bounds", "exec"), module.__dict__)
    return module


@pytest.mark.parametrize("where", ["model.py", "runtime"])
@pytest.mark.parametrize("length", [1025, 200_000])
def test_a_key_over_1024_characters_is_refused_by_both_loaders_with_the_model_unchanged(where: str,
                                                                                       length: int) -> None:
    module = _emitted()
    model = module.Tiny()
    loader = module.load_reference_state_dict if where == "model.py" else runtime_loader
    before = {k: v.clone() for k, v in model.state_dict().items()}
    long = "network." + "k" * (length - len("network."))
    weights = {"network.classifier.weight": torch.ones(2, 3), "network.classifier.bias": torch.ones(2),
               long: torch.zeros(1)}
    with pytest.raises(ReferenceCheckpointError if where == "runtime" else KeyError) as caught:
        loader(model, weights, strict=False)  # would load the rest and leave the long key aside
    message = str(caught.value)
    assert "keys have at most 1,024 characters" in message and "nothing was loaded" in message
    assert f"({length:,} characters)" in message and len(message) < 600  # the key clipped
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert isinstance(caught.value, ValueError)
    del weights[long]
    weights["network." + "k" * (MAX_KEY - len("network."))] = torch.zeros(1)  # 1,024: still a key
    with pytest.warns(UserWarning, match="unexpected") if where == "runtime" else contextlib.nullcontext():
        assert list(loader(model, weights, strict=False)[1]) == ["k" * (MAX_KEY - len("network."))]


def test_a_long_key_is_refused_before_a_rule_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[str] = []
    real = re.compile

    def counting(pattern: Any, flags: int = 0) -> Any:
        compiled = real(pattern, flags)
        return types.SimpleNamespace(sub=lambda r, k: ran.append(k) or compiled.sub(r, k))

    monkeypatch.setattr(checkpoint, "re", types.SimpleNamespace(compile=counting))
    model = vibench.build(text=TINY)
    with pytest.raises(ReferenceCheckpointError, match="at most 1,024 characters"):
        checkpoint.convert_reference_state_dict({"a" * 2000: torch.zeros(1)}, [["^classifier[.]", "head."]])
    checkpoint.convert_reference_state_dict({"a" * 1024: torch.zeros(1)}, [["^classifier[.]", "head."]])
    assert ran == ["a" * 1024]
    ran.clear()  # (the rule runs where it should)
    with pytest.raises(ReferenceCheckpointError, match="at most 1,024 characters"):
        runtime_loader(model, {"network." + "a" * 2000: torch.zeros(1)})
    assert ran == []


def test_the_qa_repro_ends_with_e210(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`.*` twelve times and a `!` against the model's own keys: the compiler ran for minutes."""
    model = textwrap.dedent("""\
        vibench: 1
        name: R
        inputs: {x: {shape: [B, 4]}}
        nodes:
          fully_connected_classifier_one_2: {block: linear, in: x, out_features: 3}
        outputs: {y: fully_connected_classifier_one_2}
    """)
    spec = tmp_path / "r12.yaml"
    rule = '    - [".*.*.*.*.*.*.*.*.*.*.*.*!", "x"]\n'
    spec.write_text(model + "reference:\n  model: CNN/R\n  state_dict_renames:\n" + rule)
    ckpt = tmp_path / "ck.pt"
    torch.save(vibench.build(text=model).state_dict(), ckpt)  # the model's own keys, as the repro's
    out = tmp_path / "out.py"
    assert main([str(spec), "-o", str(out), "--weights", str(ckpt), "--weights-prefix", ""]) == EXIT_SPEC
    err = capsys.readouterr().err
    assert "error[E210]" in err and STEPS in err and "r12.yaml:10:8" in err
    assert not out.exists()
