"""Follow-on errors of a failed declaration, and axis roles through cuts along one axis.

A `let` (or parameter) whose declaration failed to parse was left out of its unit, so a `for_each: ks` or
`repeat: w` reading it was E211 as well, with the false hint "no parameter or `let` is named so". Now the
declaration's own error is the only one: the name is not reported again. A name that is declared nowhere is
still E211.

W107 (a conv reading time as its channels) was lost through `slice`, `split`, `chunk` and the other blocks that
cut, pad, join or smooth along one axis: the roles of the axes ended there, so a conv after them was silent.
These blocks keep the rank and every axis' meaning (only a size changes), so the roles go on through them.
"""

from __future__ import annotations

import pytest

import vibench
from tests.conftest import spec_text


def _errors(text: str) -> list:
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(text=text)
    return [d for d in info.value.diagnostics if d.severity == "error"]


def test_a_let_that_failed_to_parse_is_not_e211_where_it_is_read() -> None:
    text = spec_text("""
        vibench: 1
        name: Fan
        inputs: {x: {shape: [B, 4]}}
        let:
          ks: "${[n for q, r in [(1, 2)]]}"
          w: "${n +}"
        nodes:
          h: {block: linear, in: x, out_features: "${item}", for_each: ks}
          g: {block: linear, in: x, out_features: w, repeat: w}
        outputs: {y: g}
    """)
    errors = _errors(text)
    assert [d.code for d in errors] == ["E203", "E203"]
    assert "`let.ks`" in errors[0].message and "`let.w`" in errors[1].message


def test_a_parameter_whose_declaration_failed_is_not_e211_where_it_is_read() -> None:
    text = spec_text("""
        vibench: 1
        name: Fan
        params:
          n: {type: "list[int", default: 3}
          m: {default: "${zz +}"}
        inputs: {x: {shape: [B, 4]}}
        nodes:
          k: {block: linear, in: x, out_features: 3, repeat: n, when: m}
        outputs: {y: k}
    """)
    assert [d.code for d in _errors(text)] == ["E210", "E203"]


def test_a_failed_let_of_a_composite_block_is_not_e211_either() -> None:
    text = spec_text("""
        vibench: 1
        name: Fan
        inputs: {x: {shape: [B, 4]}}
        blocks:
          LinearStack:
            inputs: {x: {shape: [B, 4]}}
            let: {depth: "${2 +}"}
            nodes:
              lin: {block: linear, in: x, out_features: 4, repeat: depth}
            outputs: {y: lin}
        nodes:
          s: {block: LinearStack, in: x}
        outputs: {y: s}
    """)
    assert [d.code for d in _errors(text)] == ["E203"]


def test_a_name_declared_nowhere_is_still_e211_beside_a_failed_let() -> None:
    text = spec_text("""
        vibench: 1
        name: Fan
        inputs: {x: {shape: [B, 4]}}
        let: {w: "${n +}"}
        nodes:
          g: {block: linear, in: x, out_features: 4, repeat: depth}
        outputs: {y: g}
    """)
    errors = _errors(text)
    assert [d.code for d in errors] == ["E203", "E211"]
    assert "no parameter or `let` is named so" in (errors[1].hint or "")


ROLES = """vibench: 1
name: Roles
inputs:
  x: {shape: [B, 16, 8], layout: BLC}
nodes:
%s
  conv: {block: conv1d, in: %s, out_channels: 4, kernel_size: 1}
outputs: {y: conv}
"""

KEEPING = {
    "slice": ("s: {block: slice, in: x, dim: 1, start: 0, end: 8}", "s"),
    "split, first piece": ("s: {block: split, in: x, sizes: [8, 8], dim: 1}", "s.0"),
    "split, second piece": ("s: {block: split, in: x, sizes: [8, 8], dim: 1}", "s.1"),
    "chunk": ("c: {block: chunk, in: x, chunks: 2, dim: 1}", "c.0"),
    "constant_pad": ("p: {block: constant_pad, in: x, dim: 1, before: 2}", "p"),
    "concat": ("c: {block: concat, in: [x, x], dim: 1}", "c"),
    "moving_average": ("m: {block: moving_average, in: x, kernel_size: 3, dim: 1}", "m"),
    "series_decomposition": ("d: {block: series_decomposition, in: x, kernel_size: 3}", "d.trend"),
    "match_length": ("s: {block: slice, in: x, dim: 1, start: 0, end: 8}\n"
                     "  m: {block: match_length, in: {x: s, like: x}, dim: 1, like_dim: 1}", "m"),
}


@pytest.mark.parametrize("case", sorted(KEEPING))
def test_a_conv_after_a_cut_along_time_still_reads_time_as_channels(case: str) -> None:
    nodes, read = KEEPING[case]
    report = vibench.check(text=ROLES % ("  " + nodes, read))
    assert [d.node for d in report.warnings if d.code == "W107"] == ["conv"]


def test_a_cut_then_a_transpose_is_not_warned_about() -> None:
    nodes = ("  s: {block: slice, in: x, dim: 1, start: 0, end: 8}\n"
             "  t: {block: transpose, in: s, dim0: 1, dim1: 2}")
    assert [d for d in vibench.check(text=ROLES % (nodes, "t")).warnings if d.code == "W107"] == []


def test_joining_inputs_whose_roles_differ_gives_no_roles() -> None:
    nodes = ("  t: {block: transpose, in: x, dim0: 1, dim1: 2}\n"
             "  s: {block: slice, in: t, dim: 2, start: 0, end: 8}\n"
             "  u: {block: slice, in: x, dim: 1, start: 0, end: 8}\n"
             "  c: {block: concat, in: [s, u], dim: 1}")
    assert [d for d in vibench.check(text=ROLES % (nodes, "c")).warnings if d.code == "W107"] == []
