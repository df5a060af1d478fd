"""Output promises and typed slots (QA 1206e).

* A promised dimension written as a `${...}` inside text (`"${k} + 5"`, `"${k}x"`, `"${k} * L"`) gives a string,
  which the promise check took for a fresh symbol bound by its first use: any output passed. A promised
  dimension from a `${...}` or a parameter's name is a value and obeys an input dimension's rules: E212 unless a
  positive integer, E308 when it is one the output does not have.
* A user's template with a slot (`slot: comp`, `block: "comp/${enc}"`) extended from another folder was E214
  "(none found)": the slot folder was looked for from the extending spec's folder. It is looked for from the
  folder of the file that declares the slot, as the template's `block:` reference is.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import vibench
from vibench.compiler.diagnostics import Diagnostic


def _errors(text: str | None = None, path: str | None = None, **kwargs: object) -> list[Diagnostic]:
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(path, text=text, **kwargs)  # type: ignore[arg-type]
    return [d for d in info.value.diagnostics if d.severity == "error"]


def _error(text: str | None = None, path: str | None = None, **kwargs: object) -> Diagnostic:
    errors = _errors(text, path, **kwargs)
    assert len(errors) == 1, errors
    return errors[0]


# -- promises ------------------------------------------------------------------------------------

def _promising(dim: str, input_dim: str = "L") -> str:
    return (f"vibench: 1\nname: P\nparams: {{k: 2, tag: {{type: str, default: L}}}}\n"
            f"inputs: {{x: {{shape: [B, 3, {input_dim}]}}}}\n"
            "nodes:\n  c: {block: conv1d, in: x, out_channels: 3, kernel_size: 1}\n"
            f"outputs:\n  y: {{from: c, shape: [B, 3, {dim}]}}\n")


@pytest.mark.parametrize("dim", ['"${k} + 5"', '"${k}x"', '"${k} * L"', '"${k}0"', '"${k - 2}"', '"${k > 1}"'])
def test_a_promised_dimension_from_a_template_obeys_the_input_rules(dim: str) -> None:
    as_input = _error(_promising("L", dim))
    as_promise = _error(_promising(dim))
    assert as_input.code == as_promise.code == "E212"
    assert as_promise.message == "a promised dimension of output `y` must be a positive integer"
    assert as_promise.pos is not None and (as_promise.pos.line, as_promise.pos.col) == (8, 30)  # at the dimension
    assert as_promise.found is not None and as_promise.found.startswith(f"`{dim.strip(chr(34))}` gives ")


def test_text_around_a_template_is_named_in_the_hint() -> None:
    d = _error(_promising('"${k} + 5"'))
    assert d.found == "`${k} + 5` gives '2 + 5'"
    assert d.hint is not None and "one `${...}`" in d.hint


def test_a_parameter_whose_value_is_no_size_is_not_a_symbol() -> None:
    d = _error(_promising("tag"))  # tag = 'L': a value, not the symbol L
    assert (d.code, d.found) == ("E212", "tag = 'L'")


def test_a_template_promising_another_size_is_e308() -> None:
    assert _error(_promising('"${k + 2}"', "3")).code == "E308"  # 4, where the output has 3
    vibench.check(text=_promising('"${k + 1}"', "3"))  # 3 == 3


def test_a_template_promise_inside_a_composite_is_checked() -> None:
    text = ("vibench: 1\nname: S\nparams: {k: 2}\nblocks:\n  Up:\n    params: {f: {type: int, default: 2}}\n"
            "    inputs: {x: {shape: [B, C, L]}}\n"
            "    nodes:\n"
            "      up: {block: conv_transpose1d, in: x, out_channels: \"${C}\", kernel_size: f, stride: f}\n"
            "    outputs: {y: {from: up, shape: [B, C, \"${f} * L\"]}}\n"
            "inputs: {x: {shape: [B, 3, L]}}\nnodes:\n  a: {block: Up, in: x, f: k}\noutputs:\n  y: a\n")
    d = _error(text)
    assert (d.code, d.found) == ("E212", "`${f} * L` gives '2 * L'")


def test_plain_symbols_are_still_bound_by_their_first_use() -> None:
    text = ("vibench: 1\nname: Sq\ninputs: {x: {shape: [B, 4, 4]}}\nnodes:\n  r: {block: relu, in: x}\n"
            "outputs:\n  y: {from: r, shape: [B, n, n]}\n")
    vibench.check(text=text)


# -- slots ---------------------------------------------------------------------------------------

SLOTTED = """\
vibench: 1
name: Slotted
params:
  enc: {type: str, default: Wide, slot: comp}
inputs: {x: {shape: [B, 2, L]}}
nodes:
  e: {block: "comp/${enc}", in: x}
outputs: {y: e}
"""


def _component(name: str, width: int) -> str:
    return (f"vibench: 1\nname: {name}\ninputs: {{x: {{shape: [B, C, L]}}}}\n"
            f"nodes:\n  c: {{block: conv1d, in: x, out_channels: {width}, kernel_size: 1}}\noutputs: {{y: c}}\n")


@pytest.fixture()
def templates(tmp_path: Path) -> Path:
    (tmp_path / "lib" / "comp").mkdir(parents=True)
    (tmp_path / "lib" / "Slotted.yaml").write_text(SLOTTED)
    (tmp_path / "lib" / "comp" / "Wide.yaml").write_text(_component("Wide", 8))
    (tmp_path / "lib" / "comp" / "Narrow.yaml").write_text(_component("Narrow", 2))
    return tmp_path


@pytest.mark.parametrize(("user", "given"), [("extends: ./lib/Slotted\n", {}),
                                             ("extends: ./lib/Slotted\nwith: {enc: Narrow}\n", {}),
                                             ("extends: ./lib/Slotted\n", {"enc": "Narrow"})])
def test_a_slot_of_a_template_in_another_folder_offers_that_folders_components(
        templates: Path, user: str, given: dict[str, str]) -> None:
    (templates / "user.yaml").write_text("vibench: 1\n" + user)
    vibench.check(str(templates / "user.yaml"), params=given)


def test_a_slot_set_through_a_chain_of_extends_is_the_templates(templates: Path) -> None:
    (templates / "mid").mkdir()
    (templates / "mid" / "Mid.yaml").write_text("vibench: 1\nextends: ../lib/Slotted\nwith: {enc: Narrow}\n")
    (templates / "top.yaml").write_text("vibench: 1\nextends: ./mid/Mid\nwith: {enc: Wide}\n")
    vibench.check(str(templates / "top.yaml"))


def test_a_slot_declared_by_the_extending_file_offers_its_own_folder(templates: Path) -> None:
    (templates / "mine" / "parts").mkdir(parents=True)
    (templates / "mine" / "parts" / "Mine.yaml").write_text(_component("Mine", 4))
    (templates / "mine" / "Own.yaml").write_text(
        "vibench: 1\nextends: ../lib/Slotted\nparams: {part: {type: str, default: Mine, slot: parts}}\n"
        "with: {enc: Wide}\n")
    (templates / "user.yaml").write_text("vibench: 1\nextends: ./mine/Own\n")
    d = _error(path=str(templates / "user.yaml"), params={"part": "Nope"})
    assert (d.code, d.expected) == ("E214", "one of `Mine`")


def test_an_unknown_component_lists_what_the_templates_folder_offers(templates: Path) -> None:
    (templates / "user.yaml").write_text("vibench: 1\nextends: ./lib/Slotted\nwith: {enc: Nope}\n")
    d = _error(path=str(templates / "user.yaml"))
    assert d.code == "E214"
    assert d.expected == "one of `Narrow`, `Wide`"
    assert d.pos is not None and d.pos.file.endswith("user.yaml") and d.pos.line == 3  # at the user's value


def test_a_slot_folder_without_specs_is_named_not_none_found(tmp_path: Path) -> None:
    (tmp_path / "lib" / "comp").mkdir(parents=True)
    (tmp_path / "lib" / "Slotted.yaml").write_text(SLOTTED)
    (tmp_path / "user.yaml").write_text("vibench: 1\nextends: ./lib/Slotted\n")
    d = _error(path=str(tmp_path / "user.yaml"))
    assert d.code == "E214" and "none found" not in (d.expected or "")
    assert d.expected == "the name of a spec in a `comp/` folder (there is none)"
    (note,) = [n for n in d.notes if n.startswith("searched for the slot's folder: ")]
    assert "/lib/comp/ (holds no .yaml, .yml or .json spec)" in note


BACKBONE = """\
vibench: 1
name: B_20_GRU
params:
  output_dim: {type: int, default: 128, ge: 1}
  num_layers: {type: int, default: 2, ge: 1}
inputs: {x: {shape: [B, P, "${output_dim}"]}}
nodes:
  gru: {block: gru, in: x, hidden_size: "${output_dim}", num_layers: "${num_layers}"}
outputs: {tokens: gru.out}
"""


def test_the_librarys_slots_take_its_components_and_those_on_the_spec_path(tmp_path: Path) -> None:
    vibench.check("isfm/M_02_ISFM_Prompt", params={"backbone": "B_05_Mamba"})
    assert _error(path="isfm/M_02_ISFM_Prompt", params={"backbone": "B_20_GRU"}).code == "E214"
    (tmp_path / "isfm" / "backbone").mkdir(parents=True)
    (tmp_path / "isfm" / "backbone" / "B_20_GRU.yaml").write_text(BACKBONE)
    vibench.check("isfm/M_02_ISFM_Prompt", params={"backbone": "B_20_GRU"}, search_path=[str(tmp_path)])
    (tmp_path / "user").mkdir()
    (tmp_path / "user" / "mine.yaml").write_text("vibench: 1\nextends: isfm/M_02_ISFM_Prompt\n"
                                                 "with: {backbone: B_20_GRU}\n")
    vibench.check(str(tmp_path / "user" / "mine.yaml"), search_path=[str(tmp_path)])
