"""E302 ("impossible constraint") names the requirements that clash, not the arithmetic left of them.

What was wrong: a composite block's condition re-stated at its call showed what was left once the call's sizes
were put in. `H_04_VIB_pred`'s `L >= 16` against the `L == 8` that `B_04_Dlinear` needs read `found: L - 16 vs 0`
(the `L == 8` and its node were never named); `B_06_TimesNet`'s `P >= 10` on 8 tokens read `expected -2 >= 0`,
and `B_11_MomentumEncoder` around `B_03_FITS` `expected 15 == 0`. A divisibility that a pinned `L == 10` breaks
read `found: L`. A call's own constraint (its input fits the block's declared shape), already in the caller's
symbols, had the block's symbols put in as well: the block's `L` bound to 7 turned the caller's `L == 4` into
`3 == 0`, a false E302. And the hint of E_01_HSE_v2 with a prompt_dim of 9 proposed "a num_heads in {1, 3, 9}",
which its prompt attention writes as 4.

What is right now: `found` names the recorded constraints that break the condition (`>=`, `==` or `%`) and the
node that needs each (`L == 8`, needed by node `backbone`); a composite's condition that the sizes of one call
break alone reads as the block states it, with the sizes the call gives (`expected P >= 10`, `found: P = 8 at
this call (`embedding` gives input `x` [B, 8, 16])`); a call's own constraints are taken as they are; and a hint
at a number written in a composite block's body names the block's parameter that sizes the node's input
(`prompt_dim`), not the number.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import vibench
from vibench.compiler.diagnostics import Diagnostic, SpecError

SMALL = {"num_patches": 8, "output_dim": 16, "patch_size_L": 16}


def _error(text: str | None = None, path: Path | None = None) -> Diagnostic:
    with pytest.raises(SpecError) as info:
        vibench.check(str(path)) if path is not None else vibench.check(text=text)
    return info.value.diagnostics[0]


def _isfm(**settings: object) -> Diagnostic:
    return _error(json.dumps({"vibench": 1, "extends": "isfm/M_01_ISFM", "with": settings}))


def test_a_size_pinned_by_another_node_is_named_with_that_node() -> None:
    d = _isfm(embedding="E_com_00_PE", backbone="B_04_Dlinear", task_head="H_04_VIB_pred", num_patches=8,
              output_dim=32, hidden_dim=32, patch_size_L=16)
    assert d.code == "E302" and "H_04_VIB_pred" in d.message and d.expected == "L >= 16", d
    assert d.found is not None and d.found.startswith("`L == 8`, needed by node `backbone`: input `x` of "
                                                      "`B_04_Dlinear` fits"), d.found
    assert "no size of L in 8 <= L <= 8 meets it (`L == 8` from node `backbone`)" in d.notes


def test_a_condition_one_call_breaks_reads_as_the_block_states_it() -> None:
    d = _isfm(backbone="B_06_TimesNet", **SMALL)
    assert d.code == "E302" and d.expected == "P >= 10", d
    assert d.found == "P = 8 at this call (`embedding` gives input `x` [B, 8, 16])"
    assert any(n.startswith("the block states `P >= 10` at ") and "B_06_TimesNet.yaml" in n for n in d.notes)


def test_a_nested_input_that_does_not_fit_names_the_width_and_where_it_comes_from() -> None:
    d = _isfm(backbone="B_11_MomentumEncoder", base_encoder="B_03_FITS", **SMALL)
    assert d.code == "E302" and "input `x` of `B_03_FITS` fits" in d.message and d.expected == "D == 1", d
    assert d.found == "D = 16 at this call (`embedding` gives input `x` [B, 8, 16])"


def test_a_divisibility_a_pinned_size_breaks_names_the_pin() -> None:
    spec = """\
vibench: 1
name: ModPin
inputs: {x: {shape: [B, L, 3]}, u: {shape: [B, 10, 3]}}
nodes:
  a: {block: concat, in: [x, u], dim: 2}
  b: {block: rearrange, in: x, pattern: "b (l p) c -> b l p c", sizes: {p: 4}}
outputs: {y1: a, y2: b}
"""
    d = _error(spec)
    assert d.code == "E302" and d.node == "b" and d.expected == "L % 4 == 0", d
    assert d.found is not None and d.found.startswith("`L == 10`, needed by node `a`: "), d.found


def _write(folder: Path, **files: str) -> None:
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")


SPLIT = """\
vibench: 1
name: Split
inputs: {x: {shape: [B, L]}}
nodes: {r: {block: rearrange, in: x, pattern: "b (l p) -> b l p", sizes: {p: 4}}}
outputs: {y: r}
"""

WINDOW = """\
vibench: 1
name: Window
inputs: {x: {shape: [B, 1, T]}}
nodes: {c: {block: conv1d, in: x, out_channels: 2, kernel_size: 9}}
outputs: {y: c}
"""


def test_a_divisibility_one_call_breaks_reads_as_the_block_states_it(tmp_path: Path) -> None:
    _write(tmp_path, **{"split.yaml": SPLIT, "top.yaml": "vibench: 1\nname: Top\ninputs: {x: {shape: [B, 10]}}\n"
                        "nodes: {s: {block: ./split.yaml, in: x}}\noutputs: {y: s}\n"})
    d = _error(path=tmp_path / "top.yaml")
    assert d.code == "E302" and d.expected == "L % 4 == 0", d
    assert d.found == "L = 10 at this call (`x` gives input `x` [B, 10])"


def test_a_renamed_symbol_is_said_next_to_the_block_statement(tmp_path: Path) -> None:
    top = """\
vibench: 1
name: Top
inputs: {x: {shape: [B, 1, L]}}
nodes:
  pool: {block: max_pool1d, in: x, kernel_size: 4}
  tokens: {block: transpose, in: pool, dim0: 1, dim1: 2}
  table: {block: learned_positional_encoding, in: tokens, max_len: 5}
  back: {block: transpose, in: table, dim0: 1, dim1: 2}
  w: {block: ./window.yaml, in: back}
outputs: {y: w}
"""
    _write(tmp_path, **{"window.yaml": WINDOW, "top.yaml": top})
    d = _error(path=tmp_path / "top.yaml")
    assert d.code == "E302" and d.expected == "L >= 36", d
    assert d.found is not None and d.found.startswith("`L <= 23`, needed by node `table`: "), d.found
    assert any(n.startswith("the block states `T >= 9` at ") and n.endswith(
        ", with T = L // 4 at this call (`back` gives input `x` [B, 1, L // 4])") for n in d.notes), d.notes


def test_a_call_constraint_keeps_the_callers_symbols(tmp_path: Path) -> None:
    block = """\
vibench: 1
name: Two
inputs: {a: {shape: [B, L]}, b: {shape: [B, 4, C]}}
nodes: {fa: {block: linear, in: a, out_features: 3}}
outputs: {y: fa, z: b}
"""
    top = """\
vibench: 1
name: Top
inputs: {x: {shape: [B, 7]}, w: {shape: [B, L, 2]}}
nodes: {call: {block: ./two.yaml, in: {a: x, b: w}}}
outputs: {y: call.y}
"""
    _write(tmp_path, **{"two.yaml": block, "top.yaml": top})
    program = vibench.check(str(tmp_path / "top.yaml"))
    assert [c.text for c in program.root.constraints] == ["L == 4"]


FIXED_HEADS = """\
vibench: 1
name: Outer
params: {width: {type: int, default: 9}}
inputs: {x: {shape: [B, L, 2]}}
blocks:
  Mix:
    params: {width: {type: int}}
    inputs: {x: {shape: [B, L, C]}}
    nodes:
      up: {block: linear, in: x, out_features: width}
      att: {block: multi_head_attention, in: up, num_heads: 4}
    outputs: {y: att}
nodes: {mix: {block: Mix, in: x, width: width}}
outputs: {y: mix}
"""


def test_the_hint_names_the_parameter_that_sizes_a_fixed_head_count() -> None:
    """E_01_HSE_v2's prompt attention (4 heads) was the case found; its template now checks prompt_dim itself
    (E215 at the user's key, tests/test_library_checks.py), so a composite of the same form stands in for it."""
    d = _error(FIXED_HEADS)
    assert d.code == "E301" and d.node == "att", d
    assert d.hint is not None and "num_heads in" not in d.hint, d.hint
    assert d.hint.startswith("`num_heads` is 4 in block `Mix`") and "`width` (9 here)" in d.hint


def test_a_head_count_the_compiled_spec_writes_keeps_the_blocks_hint() -> None:
    spec = """\
vibench: 1
name: Heads
inputs: {x: {shape: [B, L, 9]}}
nodes: {att: {block: multi_head_attention, in: x, num_heads: 4}}
outputs: {y: att}
"""
    d = _error(spec)
    assert d.code == "E301" and d.hint is not None and d.hint.startswith("use a num_heads in {1, 3, 9}"), d
