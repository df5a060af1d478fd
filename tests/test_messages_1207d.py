"""Messages that named the wrong construct or counted the wrong thing, facts read back from words, lists built by
hand, and the error reference (1207d).

- a shape error in a `for_each` copy said "copy 3 of 3 (`repeat`), whose input is the output of copy 2": the note
  names the construct that made the copy, and a `for_each` copy's item;
- E303's hint at a user's setting read the free symbols back from the words of its own `found`: they go with the
  diagnostic as data (:class:`vibench.compiler.shape_hints.NeedDiagnostic`);
- resolve looked up each `--set` key with a scan of the declarations; two "one of ..." lists were built by hand,
  unbounded: they use :func:`vibench.compiler.diagnostics.one_of`, clipped as everywhere;
- docs/errors.md's E211 and E302 sections list every use of the code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import vibench
from vibench.compiler.blame import Blamed, Setting
from vibench.compiler.diagnostics import Diagnostic
from vibench.compiler.ir import Pos
from vibench.compiler.resolve import Library

ROOT = Path(__file__).resolve().parent.parent


def _errors(*args: Any, **kw: Any) -> list[Diagnostic]:
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(*args, **kw)
    return [d for d in info.value.diagnostics if d.severity == "error"]


# -- 1. the copy a shape error is in ----------------------------------------------------------------------------

EACH = """\
vibench: 1
name: Ensemble
params: {widths: {type: "list[int]", default: [4, 4, 5]}}
inputs: {x: {shape: [B, 4, L]}}
nodes:
  conv: {block: conv1d, in: x, for_each: FOR_EACH, out_channels: 3, kernel_size: 1, in_channels: "${item}"}
outputs: {y: conv.0}
"""


@pytest.mark.parametrize("for_each", ["[4, 4, 5]", "widths"])
def test_a_for_each_copy_is_named_with_its_item(for_each: str) -> None:
    (d,) = _errors(text=EACH.replace("FOR_EACH", for_each))
    assert d.code == "E301" and d.node == "conv"
    assert d.notes[-1] == "in copy 3 of 3 (`for_each`, item `5`), which reads the same inputs as the other copies"
    assert not any("`repeat`" in note for note in d.notes)


def test_the_first_for_each_copy_is_named_too() -> None:
    """Every copy of a `for_each` reads the node's input: the first one's error comes from its item as well."""
    (d,) = _errors(text=EACH.replace("FOR_EACH", "[5, 4]"))
    assert d.notes[-1] == "in copy 1 of 2 (`for_each`, item `5`), which reads the same inputs as the other copies"


def test_a_for_each_over_block_names_shows_the_name() -> None:
    text = EACH.replace("block: conv1d, in: x, for_each: FOR_EACH", "block: \"${item}\", in: x, for_each: "
                        "[conv_transpose1d, conv1d]").replace("\"${item}\"}", "5}")
    (d,) = _errors(text=text)
    assert d.code == "E301" and d.notes[-1] == ("in copy 1 of 2 (`for_each`, item `conv_transpose1d`), which reads "
                                                "the same inputs as the other copies")


def test_a_repeat_copy_keeps_its_note() -> None:
    text = ("vibench: 1\nname: Chain\ninputs: {x: {shape: [B, 4]}}\n"
            "nodes: {fc: {block: linear, in: x, repeat: 2, in_features: 4, out_features: 3}}\noutputs: {y: fc}\n")
    (d,) = _errors(text=text)
    assert d.notes[-1] == "in copy 2 of 2 (`repeat`), whose input is the output of copy 1"


def test_unit_builder_stays_under_its_ceiling() -> None:
    for name in ("unit_builder.py", "copy_limits.py"):
        lines = (ROOT / "vibench" / "compiler" / name).read_text(encoding="utf-8").count("\n")
        assert lines <= 400, (name, lines)


# -- 3. E303's free symbols as data ------------------------------------------------------------------------------


def test_e303_carries_its_free_symbols() -> None:
    from vibench.compiler.shape_hints import NeedDiagnostic

    (d,) = _errors(text="vibench: 1\nextends: mlp/Dlinear\nwith: {seq_len: null}\n")
    assert isinstance(d, NeedDiagnostic) and d.free == ("L",)
    assert d.found == "it depends on `L`, which the input shape leaves free"  # the words as before
    assert d.hint == ("set `seq_len` under `with:` to a number: null leaves `L` free, and the template needs it "
                      "as a number; or bind `L` with `inputs=`")


def test_the_hint_reads_the_symbols_not_the_words() -> None:
    from vibench.compiler.shape_hints import NeedDiagnostic, blamed_needs

    reworded = NeedDiagnostic("E303", "the input length `L` must be known at compile time", Pos("u.yaml", 3, 17),
                              found="the input shape leaves `L` and `T` open", free=("L", "T"))
    settings = {"with": {"seq_len": None}}
    (d,) = blamed_needs([Blamed(reworded, Setting(False, "seq_len"))], settings, {}, Library(), False)
    assert d.hint == ("set `seq_len` under `with:` to a number: null leaves `L`, `T` free, and the template needs "
                      "it as a number; or bind `L`, `T` with --input")
    words = Diagnostic("E303", "x must be known at compile time", Pos("u.yaml", 3, 17),
                       found="it depends on `L`, which the input shape leaves free")  # no data: no names read back
    (d,) = blamed_needs([Blamed(words, Setting(False, "seq_len"))], settings, {}, Library(), False)
    assert d.hint is not None and "`L`" not in d.hint and "leaves the size free" in d.hint


# -- 4. --set values looked up by name; "one of" lists bounded -------------------------------------------------


def test_set_values_are_looked_up_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """`UnitDef.param` scans the declarations: resolve no longer calls it per given value."""
    from vibench.compiler.ir import UnitDef

    calls = []
    scan = UnitDef.param
    monkeypatch.setattr(UnitDef, "param", lambda self, name: calls.append(name) or scan(self, name))
    params = "\n".join(f"  p{k}: {{type: int, default: 1}}" for k in range(300))
    text = (f"vibench: 1\nname: Many\nparams:\n{params}\ninputs: {{x: {{shape: [B, 4]}}}}\n"
            "nodes: {fc: {block: linear, in: x, out_features: 2}}\noutputs: {y: fc}\n")
    given: dict[str, Any] = {f"p{k}": 2 for k in range(300)}
    program = vibench.check(text=text, params=given)
    assert dict(program.root.params)["p299"] == 2
    assert len(calls) < 10, len(calls)


def _many(names: list[str]) -> str:
    return "\n".join(f"  {n}: {{type: int, default: 1}}" for n in names) or "  {}"


def test_a_table_value_lists_the_parameters_bounded(tmp_path: Path) -> None:
    table = tmp_path / "md.csv"
    table.write_text("Dataset_id,Label\n1,3\n", encoding="utf-8")
    spec = ("vibench: 1\nname: Tiny\nparams:\n{params}\ninputs: {{x: {{shape: [B, 4]}}}}\n"
            "nodes: {{fc: {{block: linear, in: x, out_features: 2}}}}\noutputs: {{y: fc}}\n")
    for names, expected in ((["depth", "width"], "one of `depth`, `width`"),
                            ([f"p{k:02}" for k in range(20)],
                             "one of " + ", ".join(f"`p{k:02}`" for k in range(12)) + " (and 8 more)")):
        path = tmp_path / "tiny.yaml"
        path.write_text(spec.format(params=_many(names)), encoding="utf-8")
        (d,) = _errors(str(path), metadata=str(table))
        assert d.code == "E201" and d.expected == expected


def test_a_switched_off_composite_lists_its_parameters_bounded() -> None:
    def text(names: list[str]) -> str:
        params = ", ".join(f"{n}: {{type: int, default: 1}}" for n in names)
        return ("vibench: 1\nname: SwitchedOff\nblocks:\n  Sub:\n    params: {" + params + "}\n"
                "    inputs: {x: {shape: [B, 4]}}\n    nodes: {fc: {block: linear, in: x, out_features: 4}}\n"
                "    outputs: {y: fc}\ninputs: {x: {shape: [B, 4]}}\n"
                "nodes: {s: {block: Sub, in: x, when: false, nope: 1}}\noutputs: {y: s}\n")

    (d,) = [d for d in _errors(text=text(["depth", "width"])) if d.code == "E111"]
    assert d.expected == "one of `depth`, `width`"
    (d,) = [d for d in _errors(text=text([f"p{k:02}" for k in range(20)])) if d.code == "E111"]
    assert d.expected == "one of " + ", ".join(f"`p{k:02}`" for k in range(12)) + " (and 8 more)"


# -- 6. the error reference ------------------------------------------------------------------------------------


def _section(code: str) -> str:
    doc = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")
    return doc.split(f"\n## {code}", 1)[1].split("\n## ", 1)[0]


def test_e211_lists_every_key_it_is_used_for() -> None:
    section = _section("E211")
    for key in ("`repeat:`", "`for_each:`", "`when:`", "`checkpoint:`", "`with:`", "`that:`"):
        assert key in section, key


def test_e302_names_the_graph_size_cap() -> None:
    from vibench.compiler.blocks.graph_operator import MAX_GRAPH_NODES

    section = _section("E302")
    assert "`graph_operator`" in section and f"{MAX_GRAPH_NODES:,} graph nodes" in section
