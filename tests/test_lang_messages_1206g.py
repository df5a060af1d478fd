"""Messages and rules of the language the QA (1206g, lang3) found wrong or unclear.

* A warning in a template the spec extends, or in a slot's component, is drawn with its source line, as an error
  there is (the CLI gave it only the spec's own text).
* A chain of parameter defaults is limited by its length, whatever order the parameters are written in (one
  written in order was never too deep; the same written bottom-up was E204).
* A mapping's key of the wrong type is said as the spec writes it: `key 1 is not a string`, not pydantic's
  `[1]['[key]']`.
* `with: name` on a node reads the parameter or `let` so named, as `for_each: name` does (it was E211 without
  a hint to write `${name}`).
* A value given for a `let` is refused saying it is one (E201), also where a slot's component declares a
  parameter of that name (the name is the `let`'s).
* What docs/language.md now states: `metadata:` of an extending spec is merged one level deep, `$${` is a literal
  `${` where `${...}` is read, and `null` for a node's optional keys is "not given".
"""

from __future__ import annotations

from pathlib import Path

import pytest

import vibench
from vibench.compiler.cli import main
from vibench.compiler.diagnostics import Diagnostic
from vibench.compiler.limits import MAX_NESTING


def _error(text: str | None = None, path: str | None = None, **kwargs: object) -> Diagnostic:
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(path, text=text, **kwargs)  # type: ignore[arg-type]
    errors = [d for d in info.value.diagnostics if d.severity == "error"]
    assert len(errors) == 1, errors
    return errors[0]


# -- warnings in other files keep their source line ------------------------------------------------

BASE = """vibench: 1
name: Base
params:
  width: 16
  unused: 3
inputs: {x: {shape: [B, 4, L]}}
nodes:
  conv: {block: conv1d, in: x, out_channels: width, kernel_size: 3, padding: 1}
outputs: {y: conv}
"""


def test_a_warning_in_the_extended_template_shows_its_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "base.yaml").write_text(BASE)
    (tmp_path / "user.yaml").write_text("vibench: 1\nextends: ./base\nwith: {width: 5}\n")
    monkeypatch.chdir(tmp_path)
    assert main(["user.yaml", "--check"]) == 0
    err = capsys.readouterr().err
    assert "warning[W105]: parameter `unused` is declared but never used" in err
    assert " --> base.yaml:5:3\n  |\n5 |   unused: 3\n  |   ^^^^^^\n" in err, err


def test_a_warning_in_a_slot_component_shows_its_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "comp").mkdir()
    (tmp_path / "comp" / "C1.yaml").write_text(
        "vibench: 1\nname: C1\nparams:\n  spare: 7\ninputs: {x: {shape: [B, 4]}}\n"
        "nodes: {fc: {block: linear, in: x, out_features: 4}}\noutputs: {y: fc}\n")
    (tmp_path / "T.yaml").write_text(
        "vibench: 1\nname: T\nparams:\n  comp: {type: str, default: C1, slot: comp}\ninputs: {x: {shape: [B, 4]}}\n"
        "nodes: {c: {block: \"comp/${comp}\", in: x, inherit: true}}\noutputs: {y: c}\n")
    monkeypatch.chdir(tmp_path)
    assert main(["T.yaml", "--check"]) == 0
    err = capsys.readouterr().err
    assert " --> comp/C1.yaml:4:3\n  |\n4 |   spare: 7\n" in err, err


def test_recording_sources_gives_every_spec_file_the_compile_read(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from vibench.compiler.pipeline import compile_program
    from vibench.compiler.resolve_sources import recording_sources

    (tmp_path / "base.yaml").write_text(BASE)
    (tmp_path / "user.yaml").write_text("vibench: 1\nextends: ./base\n")
    monkeypatch.chdir(tmp_path)
    with recording_sources() as sources:
        program = compile_program("user.yaml")
    assert sources == {"user.yaml": "vibench: 1\nextends: ./base\n", "base.yaml": BASE}
    assert [w.pos.file for w in program.warnings if w.pos is not None] == ["base.yaml"]


# -- the depth of parameter defaults, whatever their order ----------------------------------------


def _chain(length: int, reverse: bool) -> str:
    """``length`` parameters, each but the first defaulting to the one before it, written in order or bottom-up."""
    params = ["  p0: 1"] + [f"  p{k}: {{type: int, default: p{k - 1}}}" for k in range(1, length)]
    return "\n".join(["vibench: 1", "name: Ch", "params:", *(reversed(params) if reverse else params),
                      "inputs: {x: {shape: [B, 4]}}",
                      f"nodes: {{fc: {{block: linear, in: x, out_features: p{length - 1}}}}}", "outputs: {y: fc}", ""])


@pytest.mark.parametrize("reverse", [False, True])
def test_a_chain_of_defaults_is_limited_by_its_length_in_either_order(reverse: bool) -> None:
    program = vibench.check(text=_chain(MAX_NESTING, reverse))  # the limit itself: accepted in both orders
    assert program.root.outputs[0][2].shape[1] == 1
    diag = _error(text=_chain(MAX_NESTING + 2, reverse))  # one E204, however it is written (in order: it was ok)
    assert diag.code == "E204"
    assert f"parameter defaults read each other more than {MAX_NESTING} deep" in diag.message


def test_a_long_chain_written_in_order_is_one_error() -> None:
    diag = _error(text=_chain(4000, reverse=False))  # compiled, 4,000 deep
    assert diag.message == (f"cannot evaluate `p{MAX_NESTING}`: parameter defaults read each other more than "
                            f"{MAX_NESTING} deep (`p{MAX_NESTING - 1}` is the next one)")


def test_defaults_that_read_one_shared_parameter_are_not_a_chain() -> None:
    params = ["  base: 2"] + [f"  q{k}: {{type: int, default: base}}" for k in range(200)]
    text = "\n".join(["vibench: 1", "name: Wide", "params:", *params, "inputs: {x: {shape: [B, 4]}}",
                      "nodes: {fc: {block: linear, in: x, out_features: q199}}", "outputs: {y: fc}", ""])
    assert vibench.check(text=text).root.outputs[0][2].shape[1] == 2


# -- a mapping's key of the wrong type ------------------------------------------------------------

MO = """vibench: 1
name: MO
params:
  tasks: {type: "dict[str, int]", default: {a: 2}}
  nested: {type: "list[dict[str, int]]", default: [{a: 1}]}
  either: {type: "int | dict[str, int]", default: 3}
inputs: {x: {shape: [B, 4]}}
nodes:
  fc: {block: linear, in: x, out_features: "${tasks['a'] + nested[0]['a'] + (either if is_int(either) else 1)}"}
outputs: {y: fc}
"""


@pytest.mark.parametrize(("key", "value", "note"), [
    ("tasks", {1: 2}, "key 1 is not a string"),
    ("tasks", {None: 2}, "key null is not a string"),
    ("nested", [{"a": 1}, {3: 1}], "[1]: key 3 is not a string"),
    ("tasks", {"a": "x"}, "['a'] is not an integer"),
    ("either", {1: 2}, "not integer; key 1 is not a string"),  # no `['int']` nor `['dict[str,int]']` of the union
])
def test_a_key_of_the_wrong_type_is_said_in_the_specs_terms(key: str, value: object, note: str) -> None:
    diag = _error(text=MO, params={key: value})
    assert diag.code == "E202"
    assert diag.notes[0] == note, diag.notes
    assert "[key]" not in diag.render()


def test_set_of_a_key_of_the_wrong_type_on_the_command_line(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "mo.yaml").write_text(MO)
    assert main([str(tmp_path / "mo.yaml"), "--check", "--set", "tasks={1: 2}"]) == 1
    assert "= note: key 1 is not a string\n" in capsys.readouterr().err


# -- `with: name` -------------------------------------------------------------------------------

PREC = """vibench: 1
name: Prec
params:
  cfg: {type: "dict[str, any]", default: {out_features: 5}}
let:
  wide: {out_features: 9}
inputs: {x: {shape: [B, 4]}}
nodes:
  b: {block: linear, in: x, with: WITH_B}
  c: {block: linear, in: x, with: wide}
outputs: {b: b, c: c}
"""


def test_with_a_parameters_name_reads_it() -> None:
    named = vibench.check(text=PREC.replace("WITH_B", "cfg"))
    spelt = vibench.check(text=PREC.replace("WITH_B", '"${cfg}"'))
    shapes = {name: out.shape for name, _, out in named.root.outputs}
    assert shapes == {name: out.shape for name, _, out in spelt.root.outputs}
    assert shapes["b"][1] == 5 and shapes["c"][1] == 9
    assert not named.warnings  # `cfg` is read: no W105


def test_with_a_name_that_reads_nothing_suggests_the_name() -> None:
    diag = _error(text=PREC.replace("WITH_B", "cgf"))
    assert (diag.code, diag.node) == ("E211", "b")
    assert diag.message == "`with` of node `b` must be a mapping, a parameter's name or `${...}`"
    assert diag.hint == "did you mean `cfg`?"
    assert diag.pos is not None and (diag.pos.line, diag.pos.col) == (9, 35)


def test_with_item_in_a_for_each_copy() -> None:
    text = """vibench: 1
name: Heads
params:
  heads: {type: "dict[str, dict[str, int]]", default: {a: {out_features: 2}, b: {out_features: 3}}}
inputs: {x: {shape: [B, 4]}}
nodes:
  h: {block: linear, in: x, for_each: heads, with: item}
outputs: {all: {from: h.*}}
"""
    program = vibench.check(text=text)
    assert {name: out.shape[1] for name, _, out in program.root.outputs} == {"a": 2, "b": 3}
    assert _error(text=text.replace("with: item", "with: itme")).hint == "did you mean `item`?"


# -- a `let` and the parameters of slot components ----------------------------------------------


def _slotted(tmp_path: Path, let: str) -> Path:
    (tmp_path / "comp").mkdir(exist_ok=True)
    (tmp_path / "comp" / "C1.yaml").write_text(
        "vibench: 1\nname: C1\nparams:\n  depth: {type: int, default: 2, ge: 1}\ninputs: {x: {shape: [B, 4]}}\n"
        "nodes: {mix: {block: linear, in: x, out_features: 4, repeat: depth}}\noutputs: {y: mix}\n")
    spec = tmp_path / "T.yaml"
    spec.write_text(f"vibench: 1\nname: T\nparams:\n  comp: {{type: str, default: C1, slot: comp}}\nlet:\n  {let}: 5\n"
                    "inputs: {x: {shape: [B, 4]}}\nnodes:\n  c: {block: \"comp/${comp}\", in: x, inherit: true}\n"
                    f"  d: {{block: linear, in: c, out_features: {let}}}\noutputs: {{y: d}}\n")
    return spec


def test_a_let_named_like_a_components_parameter_keeps_the_template_compiling(tmp_path: Path) -> None:
    """The name is the `let`'s: the component keeps its default, and a value set for the name says it is a `let`
    (E210 at the `let` refused M_01_ISFM whenever a user's -I folder held a backbone with a `heads` parameter)."""
    spec = str(_slotted(tmp_path, "depth"))
    assert vibench.check(spec).root.outputs[0][2].shape[1] == 5
    diag = _error(path=spec, params={"depth": 3})
    assert (diag.code, diag.message) == ("E201", "`depth` (given in Python) is a `let` value of `T`, not a parameter")


def test_a_users_component_named_like_a_library_let_leaves_the_template_compiling(tmp_path: Path) -> None:
    folder = tmp_path / "mylib" / "isfm" / "backbone"
    folder.mkdir(parents=True)
    (folder / "MyAttn.yaml").write_text(
        "vibench: 1\nname: MyAttn\nparams:\n  heads: {type: int, default: 4, ge: 1}\n"
        "inputs: {x: {shape: [B, P, D]}}\nnodes: {act: {block: gelu, in: x}}\noutputs: {tokens: act}\n")
    assert vibench.check("isfm/M_01_ISFM", search_path=[str(tmp_path / "mylib")]).root.name == "M_01_ISFM"


def test_a_let_of_another_name_leaves_the_components_parameter_settable(tmp_path: Path) -> None:
    spec = str(_slotted(tmp_path, "width"))
    assert vibench.check(spec).root.outputs[0][2].shape[1] == 5
    assert vibench.check(spec, params={"depth": 3}) is not None  # reaches C1 (it was E201 with the let `depth`)
    assert _error(path=spec, params={"depth": 0}).code == "E208"  # checked by C1's `ge: 1`


def test_a_value_given_for_a_let_says_it_is_one(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(BASE.replace("  unused: 3\n", "let:\n  w2: \"${width * 2}\"\n")
                                        .replace("out_channels: width", "out_channels: w2"))
    diag = _error(path=str(tmp_path / "base.yaml"), params={"w2": 3})
    assert diag.code == "E201"
    assert diag.message == "`w2` (given in Python) is a `let` value of `Base`, not a parameter"
    assert diag.notes == (f"it is computed from the parameters at {tmp_path / 'base.yaml'}:6:7",)
    assert diag.hint == "set the parameters it is computed from instead, or remove it"
    (tmp_path / "user.yaml").write_text("vibench: 1\nextends: ./base\nwith: {w2: 3}\n")
    diag = _error(path=str(tmp_path / "user.yaml"))
    assert (diag.code, diag.message) == ("E201", "`w2` is a `let` value of `Base`, not a parameter")
    assert diag.pos is not None and diag.pos.file.endswith("user.yaml") and (diag.pos.line, diag.pos.col) == (3, 8)


# -- what docs/language.md states (pinned) --------------------------------------------------------


def test_metadata_of_an_extending_spec_is_merged_one_level_deep(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(BASE.replace("  unused: 3\n", "")
                                        + "metadata: {t: 1, a: 0, nest: {p: 1, q: 2}}\n")
    (tmp_path / "user.yaml").write_text("vibench: 1\nextends: ./base\nmetadata: {a: \"${width}\", nest: {q: 5}}\n")
    assert vibench.check(str(tmp_path / "user.yaml")).root.metadata == {"t": 1, "a": 16, "nest": {"q": 5}}


def test_a_doubled_dollar_is_a_literal_where_templates_are_read() -> None:
    text = """vibench: 1
name: D
doc: "a $${x} doc"
params:
  s: {type: str, default: "$${p}"}
inputs: {x: {shape: [B, 4]}}
nodes: {a: {block: linear, in: x, out_features: 3}}
outputs: {y: a}
metadata: {m: "$${meta}", s: "${s}"}
"""
    program = vibench.check(text=text)
    assert program.root.metadata == {"m": "${meta}", "s": "${p}"}
    assert program.root.definition is not None and program.root.definition.doc == "a $${x} doc"
    assert vibench.check(text=text, params={"s": "$${q}"}).root.metadata["s"] == "$${q}"  # a given value: as given


@pytest.mark.parametrize("key", ["when", "for_each", "repeat", "with", "doc"])
def test_null_for_a_nodes_optional_key_is_not_given(key: str) -> None:
    text = ("vibench: 1\nname: N\ninputs: {x: {shape: [B, 4]}}\n"
            f"nodes: {{a: {{block: linear, in: x, out_features: 3, {key}: null}}}}\noutputs: {{y: a}}\n")
    assert vibench.check(text=text).root.outputs[0][2].shape[1] == 3
