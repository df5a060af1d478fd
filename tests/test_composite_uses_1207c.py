"""What each use of a composite block costs, bounded, and shared between its uses (QA of 12-07, resource cliffs).

* A composite's declarations were processed again for every copy that used it, with no bound: 1,000 parameters
  used by `repeat: 10000` was killed at 60 s (2 GB), 400 literal checks used 20,000 times too (a literal `that:`
  spends no expression step), 4,000 `let` values used 1,000 times took 8 s. Now the declarations processed
  (parameters, `let` values and checks per use, `with:` keys per copy) are counted, ten per allowed node, at least
  ``limits.MIN_DECLARATIONS``: E213 at the use past it.
* What does not change between uses is shared: a use binds only the parameters it sets and those their defaults
  read (the others are bound once per definition), a check is decided once per value of what it reads, and the
  copies of a node whose values read no loop variable share them (a `with:` of 10,000 keys was gathered again for
  each of 1,000 copies).
* "Did you mean" in the naming pass and in the checks of nodes not built shares one budget per pass (one lookup per
  name: 2,000 unknown `when:` names took 8 s).
"""

from __future__ import annotations

import difflib
import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import vibench
from vibench.compiler import lets, limits, node_values, params
from vibench.compiler.diagnostics import Diagnostic
from vibench.compiler.expr import parse_value
from vibench.compiler.ir import ParamDecl, Pos, UnitDef

HEAD = "vibench: 1\nname: Uses\ninputs: {x: {shape: [B, 4, L]}}\n"
BODY = "    inputs: {x: {shape: [B, C, L]}}\n    nodes:\n      d: {block: dropout, in: x, p: \"${j * 0.0001}\"}\n" \
       "    outputs: {y: d}\n"
SMALL = 10_000  # a node limit whose declarations are the floor, MIN_DECLARATIONS (100,000)


def _params(count: int) -> str:
    return "{j: 0, " + ", ".join(f"p{k}: 1" for k in range(count)) + "}"


def _errors(text: str, **kwargs: Any) -> list[Diagnostic]:
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(text=text, **kwargs)
    return [d for d in info.value.diagnostics if d.severity == "error"]


# -- the bound ------------------------------------------------------------------------------------------------


def test_the_floor_is_far_above_what_the_library_processes() -> None:
    from vibench.compiler import composite_uses

    # The library's models process at most 432 declarations (mlp/DenseNetMLP), 1.4 per node (measured).
    assert composite_uses.declaration_limit(SMALL) == limits.MIN_DECLARATIONS >= 100 * 432
    assert composite_uses.declaration_limit(limits.MAX_NODES) == 10 * limits.MAX_NODES


def test_the_parameters_of_every_use_count_and_the_use_past_the_limit_is_e213() -> None:
    text = HEAD + f"blocks:\n  Body:\n    params: {_params(1000)}\n" + BODY + \
        "nodes:\n  a: {block: Body, in: x, repeat: 200, j: i}\noutputs: {y: a}\n"
    errors = _errors(text, max_nodes=SMALL)
    assert len(errors) == 1
    d = errors[0]
    assert d.code == "E213" and d.node == "a" and d.pos is not None and (d.pos.line, d.pos.col) == (12, 3)
    assert d.message == "the model processes more declarations than allowed at copy 100 of 200 of node `a`"
    assert d.expected is not None and d.expected.startswith("at most 100,000 declarations processed")
    assert d.found == "100,100 so far; this use processes 1,001 parameters of block `Body`"
    assert d.hint is not None and "--max-nodes" in d.hint
    # The limit follows the node limit: ten per allowed node.
    assert vibench.check(text=text, max_nodes=20_100).root is not None


def test_literal_checks_count_though_they_spend_no_expression_step() -> None:
    checks = "".join(f"      - {{that: false, message: m{k}, severity: warning}}\n" for k in range(400))
    text = HEAD + "blocks:\n  Body:\n    params: {j: 0}\n    checks:\n" + checks + BODY + \
        "nodes:\n  a: {block: Body, in: x, repeat: 300, j: i}\noutputs: {y: a}\n"
    (d,) = _errors(text, max_nodes=SMALL)
    assert d.code == "E213" and d.message.endswith("at copy 250 of 300 of node `a`")
    assert d.found == "100,250 so far; this use processes 1 parameter, 400 checks of block `Body`"


def test_let_values_count() -> None:
    values = ", ".join(f"q{k}: {k}" for k in range(1000))
    text = HEAD + "blocks:\n  Body:\n    params: {j: 0}\n    let: {" + values + "}\n" + BODY + \
        "nodes:\n  a: {block: Body, in: x, for_each: \"${range(150)}\", j: item}\n" \
        "  c: {block: concat, in: a, dim: 1}\noutputs: {y: c}\n"
    (d,) = _errors(text, max_nodes=SMALL)
    assert d.code == "E213" and d.message.endswith("at copy 100 of 150 of node `a`")
    assert d.found == "100,100 so far; this use processes 1 parameter, 1,000 `let` values of block `Body`"


def test_the_keys_a_with_gives_each_copy_count_at_the_with() -> None:
    # `with:` reads the copy's item, so each copy gathers its 10,000 keys again.
    keys = ", ".join(f"k{k}: 1" for k in range(10_000))
    text = ("vibench: 1\nname: W\nlet:\n  m: {" + keys + "}\ninputs: {x: {shape: [B, 4, L]}}\nnodes:\n"
            "  a: {block: conv1d, in: x, out_channels: 4, kernel_size: 1, for_each: \"${range(20)}\","
            " with: \"${m if item >= 0 else m}\"}\n  c: {block: concat, in: a, dim: 1}\noutputs: {y: c}\n")
    (d,) = _errors(text, max_nodes=SMALL)
    assert d.code == "E213" and d.message.endswith("at the `with:` of copy 11 of node `a`")
    assert d.pos is not None and d.pos.line == 7 and d.found == "110,000 so far; this use processes the 10,000 " \
        "keys its `with:` gives"


def test_ordinary_composites_are_unchanged() -> None:
    # Parameters whose defaults read others, set or not, with a check that reads one of them: the values each copy
    # binds are those of binding them all at once.
    text = HEAD + ("blocks:\n  Body:\n    params:\n      j: 0\n      width: {type: int, default: \"${j + 2}\"}\n"
                   "      depth: 3\n      both: {type: int, default: \"${width * depth}\"}\n"
                   "    checks:\n      - {that: \"${j < 3}\", message: \"j is ${j}\", severity: warning, at: j}\n"
                   "    inputs: {x: {shape: [B, C, L]}}\n    nodes:\n"
                   "      d: {block: conv1d, in: x, out_channels: both, kernel_size: 1}\n    outputs: {y: d}\n"
                   "nodes:\n  a: {block: Body, in: x, repeat: 5, j: i, depth: 1}\noutputs: {y: a}\n")
    program = vibench.check(text=text)
    copies = program.root.nodes[0].copies
    assert [dict(c.params)["both"] for c in copies] == [2, 3, 4, 5, 6]
    assert [d.message for d in program.warnings if d.code == "W106"] == ["j is 3", "j is 4"]


# -- what uses share ------------------------------------------------------------------------------------------


def test_a_use_binds_only_the_parameters_it_sets(monkeypatch: pytest.MonkeyPatch) -> None:
    checked = [0]
    check_value = params.check_value

    def counted(*args: Any) -> Any:
        checked[0] += 1
        return check_value(*args)

    monkeypatch.setattr(params, "check_value", counted)
    text = HEAD + f"blocks:\n  Body:\n    params: {_params(1000)}\n" + BODY + \
        "nodes:\n  a: {block: Body, in: x, repeat: 50, j: i}\noutputs: {y: a}\n"
    assert len(vibench.check(text=text).root.nodes[0].copies) == 50
    assert checked[0] <= 1001 + 3 * 50, checked[0]  # binding all of them for each use: 50,050
    # Uses with the same values: a lookup.
    checked[0] = 0
    assert len(vibench.check(text=text.replace("j: i}", "j: 7}")).root.nodes[0].copies) == 50
    assert checked[0] <= 1001 + 3, checked[0]


def test_a_check_is_decided_once_per_value_of_what_it_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    written = [0]
    clip = lets.clip

    def counted(*args: Any) -> Any:
        written[0] += 1
        return clip(*args)

    monkeypatch.setattr(lets, "clip", counted)
    checks = "".join(f"      - {{that: false, message: m{k}, severity: warning}}\n" for k in range(50))
    text = HEAD + "blocks:\n  Body:\n    params: {j: 0}\n    checks:\n" + checks + BODY + \
        "nodes:\n  a: {block: Body, in: x, repeat: 100, j: i}\noutputs: {y: a}\n"
    program = vibench.check(text=text)
    assert len([d for d in program.warnings if d.code == "W106"]) == 50
    assert written[0] <= 2 * 50, written[0]  # 5,000 when each use wrote them again


def test_the_copies_of_a_node_whose_values_read_no_loop_variable_share_them(monkeypatch: pytest.MonkeyPatch) -> None:
    gathered = [0]
    settings_of = node_values._settings

    def counted(read: Any) -> Any:
        gathered[0] += 1
        return settings_of(read)

    monkeypatch.setattr(node_values, "_settings", counted)
    keys = ", ".join(f"k{k}: 1" for k in range(2_000))
    text = ("vibench: 1\nname: W\nlet:\n  m: {" + keys + "}\ninputs: {x: {shape: [B, 4, L]}}\nnodes:\n"
            "  a: {block: conv1d, in: x, out_channels: 4, kernel_size: 1, for_each: \"${range(300)}\", with: m}\n"
            "outputs: {y: a}\n")
    errors = _errors(text, max_nodes=SMALL)  # 2,000 keys for each of 300 copies would be 600,000
    assert {d.code for d in errors} == {"E111"}
    assert gathered[0] == 1


# -- binding shared parameters gives what binding them all gives ----------------------------------------------


class _Owner:
    def __init__(self) -> None:
        self.param_memo: dict[tuple[object, ...], Any] = {}


NAMES = ["a", "b", "c", "d", "e"]


@st.composite
def _declarations(draw: st.DrawFn) -> tuple[ParamDecl, ...]:
    out = []
    for k, name in enumerate(NAMES):
        kind = draw(st.sampled_from(["plain", "reads", "required", "bad", "bounded", "unknown"]))
        pos = Pos("u.yaml", k + 1, 3)
        if kind == "reads":
            read = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=2))
            default = parse_value("${" + " + ".join(read) + " + 1}", Pos("u.yaml", k + 1, 9))
            out.append(ParamDecl(name, "int", default, pos=pos))
        elif kind == "unknown":  # an unknown name: its "did you mean" lists every parameter
            out.append(ParamDecl(name, "int", parse_value("${zz + 1}", Pos("u.yaml", k + 1, 9)), pos=pos))
        elif kind == "required":
            out.append(ParamDecl(name, "int", None, required=True, pos=pos))
        elif kind == "bad":
            out.append(ParamDecl(name, "int", "text", pos=pos))
        elif kind == "bounded":
            out.append(ParamDecl(name, "int", 2, ge=1, le=5, pos=pos))
        else:
            out.append(ParamDecl(name, "int", k, pos=pos))
    return tuple(out)


@settings(max_examples=150, deadline=None)
@given(_declarations(), st.lists(st.dictionaries(st.sampled_from([*NAMES, "zz"]),
                                                 st.one_of(st.integers(-1, 9), st.just("x")), max_size=3),
                                 min_size=1, max_size=4))
def test_a_shared_binding_is_the_binding_of_all_the_parameters(decls: tuple[ParamDecl, ...],
                                                               uses: list[dict[str, Any]]) -> None:
    from vibench.compiler import composite_uses

    block = UnitDef("Body", "Body", None, decls, (), (), (), "u.yaml", None)
    owner = _Owner()
    for values in itertools.chain(uses, uses):  # each twice: the second from the memo
        positions: dict[str, Pos | None] = {k: Pos("m.yaml", 9, 4 + n) for n, k in enumerate(values)}
        given = {k: (v, positions[k]) for k, v in values.items()}
        expected = params.bind_params(decls, given, env={}, where="block `Body`", unknown_code="E111",
                                      call_pos=Pos("m.yaml", 9, 3), origin=lambda k: "")
        found = composite_uses.bind_use(owner, block, values, positions, Pos("m.yaml", 9, 3),  # type: ignore[arg-type]
                                        origin=lambda k: "")
        assert found == expected


# -- "did you mean" ----------------------------------------------------------------------------------------------


def _lookups(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    count = [0]
    close = difflib.get_close_matches

    def counted(*args: Any, **kwargs: Any) -> Any:
        count[0] += 1
        return close(*args, **kwargs)

    monkeypatch.setattr(difflib, "get_close_matches", counted)
    return count


def test_names_that_read_nothing_share_one_did_you_mean_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    lookups = _lookups(monkeypatch)
    values = ", ".join(f"value{k}: true" for k in range(400))
    nodes = "".join(f"  n{k}: {{block: relu, in: x, when: valu{k}}}\n" for k in range(400))
    text = "vibench: 1\nname: Flags\nlet: {" + values + "}\ninputs: {x: {shape: [B, 4]}}\nnodes:\n" + nodes + \
        "outputs: {y: n0}\n"
    errors = _errors(text)
    assert len(errors) == 400 and {d.code for d in errors} == {"E211"}
    assert errors[0].hint == "did you mean `value0`?"
    assert lookups[0] <= 250, lookups[0]  # 100,000 comparisons among 400 names; one lookup per name: 400


def test_the_keys_of_nodes_not_built_share_one_did_you_mean_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    lookups = _lookups(monkeypatch)
    declared = ", ".join(f"width{k}: 1" for k in range(400))
    keys = ", ".join(f"widht{k}: 1" for k in range(400))
    text = ("vibench: 1\nname: D\ninputs: {x: {shape: [B, 4, L]}}\nblocks:\n  Body:\n    params: {" + declared + "}\n"
            "    inputs: {x: {shape: [B, C, L]}}\n    nodes: {r: {block: relu, in: x}}\n    outputs: {y: r}\n"
            "nodes:\n  unused: {block: Body, in: x, when: false, " + keys + "}\n  kept: {block: relu, in: unused}\n"
            "outputs: {y: kept}\n")
    errors = _errors(text)
    assert len(errors) == 400 and {d.code for d in errors} == {"E111"}
    assert errors[0].hint == "did you mean `width0`?"
    assert lookups[0] <= 250, lookups[0]
