"""An error inside a composite block's body names the call it comes from (12-06, fifth pass).

The body is shared by every call, so its position (`comp2.yaml:10:35`, `lin`) said nothing of which call
gave the bad value: of `a`, `b` and `c` calling `Blk`, only `b` (n = 0) fails, and the error named neither
`b` nor its line. E307/E309 over a limit inside a block named "node `conv1`" of the block, not its call
(`layer1`). Each call the failure passes through now adds a note, outermost first; a body is checked once
per set of values (and input sizes it needs known), so the note names the first call with them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import vibench
from vibench.compiler import cli
from vibench.compiler.diagnostics import Diagnostic

ROOT = Path(__file__).resolve().parent.parent
RESNET = ROOT / "examples" / "resnet18_1d.yaml"

BLK = """\
vibench: 1
name: C
blocks:
  Blk:
    params:
      n: {type: int}
    inputs:
      x: {shape: [B, F]}
    nodes:
      lin: {block: linear, in: x, out_features: "${n}"}
    outputs: {y: lin}
inputs:
  x: {shape: [B, 8]}
nodes:
  lin: {block: linear, in: x, out_features: 8}
  a: {block: Blk, in: lin, n: 5}
  b: {block: Blk, in: a, n: "${5 - 5}"}
  c: {block: Blk, in: b, n: 3}
  d: {block: Blk, in: a, n: 0}
outputs: {y: c, z: d}
"""

NESTED = """\
vibench: 1
name: N
blocks:
  Inner:
    params:
      n: {type: int}
    inputs:
      x: {shape: [B, F]}
    nodes:
      lin: {block: linear, in: x, out_features: "${n}"}
    outputs: {y: lin}
  Outer:
    params:
      m: {type: int}
    inputs:
      x: {shape: [B, F]}
    nodes:
      first: {block: Inner, in: x, n: 4}
      second: {block: Inner, in: first, n: "${m - 2}"}
    outputs: {y: second}
inputs:
  x: {shape: [B, 8]}
nodes:
  p: {block: Outer, in: x, m: 6}
  q: {block: Outer, in: p, m: 2}
  r: {block: Outer, in: q, m: 2}
outputs: {y: r}
"""

SIZES = """\
vibench: 1
name: S
blocks:
  Shrink:
    params:
      n: {type: int}
    inputs:
      x: {shape: [B, F]}
    nodes:
      lin: {block: linear, in: x, out_features: "${F - n}"}
    outputs: {y: lin}
inputs:
  x: {shape: [B, 8]}
nodes:
  a: {block: Shrink, in: x, n: 3}
  b: {block: Shrink, in: a, n: 3}
  c: {block: Shrink, in: b, n: 3}
outputs: {y: c}
"""


def _errors(spec: str | Path, **kw: object) -> list[Diagnostic]:
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(str(spec), **kw)  # type: ignore[arg-type]
    return [d for d in info.value.diagnostics if d.severity == "error"]


def _write(tmp_path: Path, name: str, text: str) -> Path:
    spec = tmp_path / name
    spec.write_text(text, encoding="utf-8")
    return spec


def test_an_error_in_a_block_body_names_the_call_that_gave_the_value(tmp_path: Path) -> None:
    """`b` (line 17) gives n = 0; `d` gives n = 0 too and shares `b`'s checked body, which the note says by
    calling `b` the first call with these values. The model's own node `lin` is not the body's `lin`."""
    spec = _write(tmp_path, "comp2.yaml", BLK)
    (d,) = _errors(spec)
    assert (d.code, d.node, d.found) == ("E104", "lin", "0")
    assert d.pos is not None and (d.pos.line, d.pos.col) == (10, 35)  # still where the value is computed
    assert d.notes == (f"in `b` at {spec}:17:3, the first call of `Blk` with n = 0",)


def test_the_call_note_is_in_the_text_and_the_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _write(tmp_path, "comp2.yaml", BLK)
    note = f"in `b` at {spec}:17:3, the first call of `Blk` with n = 0"
    assert cli.main([str(spec), "--check"]) == cli.EXIT_SPEC
    assert f"= note: {note}" in capsys.readouterr().err
    assert cli.main([str(spec), "--check", "--format", "json"]) == cli.EXIT_SPEC
    captured = capsys.readouterr()
    (entry,) = json.loads(captured.out or captured.err)["diagnostics"]
    assert (entry["code"], entry["node"], entry["notes"]) == ("E104", "lin", [note])


def test_nested_calls_are_listed_outermost_first(tmp_path: Path) -> None:
    """`q` (m = 2) calls `second` with n = 0; `r` repeats `q`'s values, so its body is `q`'s, not named again."""
    spec = _write(tmp_path, "nested.yaml", NESTED)
    (d,) = _errors(spec)
    assert d.code == "E104" and d.pos is not None and d.pos.line == 10
    assert d.notes == (f"in `q` at {spec}:25:3, the first call of `Outer` with m = 2 and input size F = 4",
                       f"in `second` at {spec}:19:7, the first call of `Inner` with n = 0")


def test_the_input_sizes_a_body_needs_known_tell_calls_with_the_same_values_apart(tmp_path: Path) -> None:
    """All three calls give n = 3; the body reads its input's width, so each width is its own check: `c`'s
    (F = 2) fails, and the note says so rather than calling `c` the first call with n = 3."""
    spec = _write(tmp_path, "sizes.yaml", SIZES)
    (d,) = _errors(spec)
    assert (d.code, d.found) == ("E104", "-1")
    assert d.notes == (f"in `c` at {spec}:17:3, the first call of `Shrink` with n = 3 and input size F = 2",)


def test_an_error_at_the_call_itself_gets_no_call_note(tmp_path: Path) -> None:
    """A parameter the block lacks is reported at the call's own key (no note needed); with `b` fixed,
    `d` (n = 0, line 19) is the first call that checks the body with n = 0, and its note names `d`."""
    spec = _write(tmp_path, "typo.yaml", BLK.replace('n: "${5 - 5}"', "n: 4, m: 1"))
    body, unknown = _errors(spec)  # (in source order: the body's line 10 first)
    assert (unknown.code, unknown.node, unknown.notes) == ("E111", "b", ())
    assert body.code == "E104" and body.notes == (f"in `d` at {spec}:19:3, the first call of `Blk` with n = 0",)


def test_parameter_budget_inside_a_block_names_the_call() -> None:
    """`--max-params 1000`: the first BasicBlock's conv1 (64 x 64 x 3 weights) is over it; the error is at
    the block's `conv1` (line 24) and its note names `layer1`, the first copy of its `repeat`."""
    (d,) = _errors(RESNET, max_params=1000)
    assert d.code == "E307" and d.message == "node `conv1` has more parameters than the budget"
    assert d.pos is not None and d.pos.line == 24
    assert d.notes == (f"in `layer1` (copy 1 of 2) at {RESNET}:59:3, the first call of `BasicBlock` with cout = 64 "
                       "and input size C = 64",)


def test_parameter_budget_so_far_inside_a_block_says_it_counts_the_block() -> None:
    """The running count is the block's (the model's stem comes on top at its caller)."""
    (d,) = _errors(RESNET, max_params=20000)
    assert d.code == "E307" and d.message == "the model exceeds the parameter budget at node `conv2`"
    assert d.found == "12,288 in this node, 24,704 so far in block `BasicBlock`"
    assert d.notes[0].startswith("in `layer1` (copy 1 of 2) at ")


def test_activation_limit_inside_a_block_names_the_call() -> None:
    """`--max-activation 100`: the stem and layer1 (64 channels) fit, layer2's first conv1 (128) does not."""
    (d,) = _errors(RESNET, max_activation=100)
    assert d.code == "E309" and d.pos is not None and d.pos.line == 24
    assert d.notes == (f"in `layer2` (copy 1 of 2) at {RESNET}:60:3, the first call of `BasicBlock` with cout = 128, "
                       "stride = 2 and input size C = 64",)


def test_a_library_components_error_names_its_calls_and_stays_at_the_users_key(tmp_path: Path) -> None:
    """PatchTST's heads must divide its width 128: the error stays at the user's `num_heads` key (the blame
    trials compare code, position, node and message, not notes), and its notes list the calls from the
    user's node `m` down to the attention layer that splits the heads."""
    text = ("vibench: 1\nname: Mine\ninputs:\n  x: {shape: [B, 1024, 2]}\nnodes:\n  m:\n    block: isfm/M_01_ISFM\n"
            "    in: x\n    with: {backbone: B_08_PatchTST, num_heads: 7}\noutputs:\n  y: m\n")
    spec = _write(tmp_path, "mine.yaml", text)
    errors = _errors(spec)
    assert errors and {d.code for d in errors} == {"E302"}
    for d in errors:
        assert d.pos is not None and (d.pos.file, d.pos.line, d.pos.col) == (str(spec), 9, 37)
        calls = [n for n in d.notes if n.startswith("in `")]
        assert calls[0] == (f"in `m` at {spec}:6:3, the first call of `M_01_ISFM` with "
                            'backbone = "B_08_PatchTST", num_heads = 7')
        assert calls[1].startswith("in `backbone` at ") and "the first call of `B_08_PatchTST`" in calls[1]
        assert calls[-1].startswith("in `attention` at ") and "num_heads = 7" in calls[-1]
        assert d.notes.index(calls[-1]) == len(calls) - 1  # the calls first, then the error's own notes


def test_a_block_that_uses_itself_is_named_at_the_call_that_recurses(tmp_path: Path) -> None:
    """E206 is at the inner call (line 8) already: only the outer call `top` is a note."""
    spec = _write(tmp_path, "rec.yaml", "vibench: 1\nname: R\nblocks:\n  A:\n    inputs:\n      x: {shape: [B, F]}\n"
                  "    nodes:\n      inner: {block: A, in: x}\n    outputs: {y: inner}\ninputs:\n  x: {shape: [B, 8]}\n"
                  "nodes:\n  top: {block: A, in: x}\noutputs: {y: top}\n")
    (d,) = _errors(spec)
    assert d.code == "E206" and d.pos is not None and d.pos.line == 8
    assert d.notes == (f"in `top` at {spec}:13:3, the first call of `A` with its default values",)


def _nested(depth: int) -> str:
    """Blocks B0 ... B{depth - 1}, each calling the next; the last one's linear has no outputs."""
    lines = ["vibench: 1", "name: D", "blocks:"]
    for i in range(depth):
        call = f"{{block: B{i + 1}, in: x}}" if i < depth - 1 else '{block: linear, in: x, out_features: 0}'
        lines += [f"  B{i}:", "    inputs:", "      x: {shape: [B, F]}", "    nodes:", f"      n{i}: {call}",
                  f"    outputs: {{y: n{i}}}"]
    return "\n".join(lines + ["inputs:", "  x: {shape: [B, 8]}", "nodes:", "  top: {block: B0, in: x}",
                              "outputs: {y: top}", ""])


@pytest.mark.parametrize(("depth", "listed", "deeper"), [(8, 8, False), (12, 8, True)])
def test_deep_chains_list_the_outermost_calls(tmp_path: Path, depth: int, listed: int, deeper: bool) -> None:
    """Eight calls at most (the library nests four deep), then one note for the rest, which the error's own
    notes would otherwise push past the twenty a diagnostic keeps."""
    spec = _write(tmp_path, "deep.yaml", _nested(depth))
    (d,) = _errors(spec)
    assert d.code == "E104"
    names = ["top"] + [f"n{i}" for i in range(listed - 1)]
    assert [n.split("`")[1] for n in d.notes[:listed]] == names
    assert d.notes[listed:] == (("in calls nested more than 8 deep, not listed",) if deeper else ())
