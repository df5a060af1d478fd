"""Parameter declarations and values (QA 12-07c).

1. A parameter or `let` named `true`, `false` or `null` compiled "ok" and built another model: `${null}` read
   the parameter (3) while model.py's formula wrote the literal (`nn.Linear(4, None)`). E106 at the declaration.
2. The parse caches of expr_parse were bounded by entries only: 400 distinct 90 KB templates held 80 MB in a
   long-lived process. They are bounded by characters, and a long text is never held.
3. E201 for a `with:` key of a template without parameters said `expected one of ` (nothing after it); a
   user's file that shadows the library template of that name is named in a note.
4. E208 for a value that is none of a template parameter's `choices` said "out of bounds" with no hint.
5. `choices: [1, 2]` took `true` and `1.0` (Python's `in`): choices are compared by type as well.
6. E210's `expected` left out `any`, `None` and tuples; `list[integer]` and `Optional[int]` had no hint.
7. "cannot index a int".
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import vibench
from vibench.compiler import expr_parse
from vibench.compiler.cli import main
from vibench.compiler.expr import ExprError, evaluate_template, parse_template, template_names
from vibench.compiler.ir import ParamDecl
from vibench.compiler.param_types import check_value


def width(program: vibench.Program) -> object:
    """The last size of the program's first output."""
    return program.root.outputs[0][2].shape[-1]


def errors(text: str | None = None, path: str | None = None, **params) -> list[vibench.Diagnostic]:
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(path, text=text, params=params or None)
    return list(info.value.diagnostics)


# -- 1. the literals of `${...}` name no parameter or `let` ---------------------------------------------------------

LITERAL_PARAM = """\
vibench: 1
name: T
params:
  "%s": {type: int, default: 3, ge: 1}
inputs: {x: {shape: [B, 4]}}
nodes:
  fc: {block: linear, in: x, out_features: "${%s}"}
outputs: {y: fc}
"""


@pytest.mark.parametrize("name", ["true", "false", "null"])
def test_a_parameter_named_like_a_literal_is_e106(name: str) -> None:
    (d,) = errors(LITERAL_PARAM % (name, name))
    assert d.code == "E106" and d.message == f"parameter name `{name}` is reserved"
    assert (d.pos.line, d.pos.col) == (4, 3) and f"`{name}` is the literal" in d.found
    assert d.hint == f"rename it, e.g. `{name}_value`"


def test_a_let_or_a_composite_block_parameter_named_like_a_literal_is_e106() -> None:
    let = LITERAL_PARAM.replace('"%s": {type: int, default: 3, ge: 1}', "n: 3\nlet:\n  \"null\": \"${n}\"")
    (d,) = errors(let.replace("${%s}", "${n}"))
    assert d.code == "E106" and d.message == "let name `null` is reserved" and d.pos.line == 6
    composite = """\
vibench: 1
name: T
blocks:
  Blk:
    params: {"true": {type: int}}
    inputs: {x: {shape: [B, 4]}}
    nodes:
      fc: {block: linear, in: x, out_features: "${true}"}
    outputs: {y: fc}
inputs: {x: {shape: [B, 4]}}
nodes:
  a: {block: Blk, in: x, "true": 2}
outputs: {y: a}
"""
    (d,) = errors(composite)
    assert d.code == "E106" and d.message == "parameter name `true` is reserved" and (d.pos.line, d.pos.col) == (5, 14)


def test_names_that_only_contain_a_literal_stay_names() -> None:
    assert width(vibench.check(text=LITERAL_PARAM % ("null_count", "null_count"))) == 3


# -- 2. the parse caches hold a bounded number of characters --------------------------------------------------------


def test_the_parse_caches_are_bounded_by_characters_and_keep_short_templates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(expr_parse, "_CACHE_CHARS", 2_000)  # what 250,000 characters do, with fewer templates
    expr_parse._PARSED.clear()
    expr_parse._NAMES.clear()
    for k in range(4):  # distinct 90 KB templates: none is held
        template = parse_template(f"{k:06d}" + "a" * 90_000 + " ${w}", None)
        assert template_names(template) == {"w"}
    assert expr_parse._PARSED.chars == 0 and not expr_parse._PARSED
    assert expr_parse._NAMES.chars == 0 and not expr_parse._NAMES
    for k in range(1_000):  # many short ones (about 11,000 characters): the characters held stay within the bound
        template_names(parse_template(f"${{w * {k}}}", None))
        assert expr_parse._PARSED.chars <= expr_parse._CACHE_CHARS
        assert expr_parse._NAMES.chars <= expr_parse._CACHE_CHARS
    assert sum(map(len, expr_parse._PARSED)) == expr_parse._PARSED.chars
    short = parse_template("${w * 2}", None)  # a short template read again comes from the cache
    assert parse_template("${w * 2}", None).parts is short.parts


# -- 3. E201 for a template without parameters; a user's file that shadows the library's ---------------------------


def test_a_with_key_of_a_template_without_parameters_says_it_declares_none(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text("vibench: 1\nname: RealX\ninputs: {x: {shape: [B, 4]}}\n"
                                        "nodes:\n  a: {block: relu, in: x}\noutputs: {y: a}\n")
    (tmp_path / "u.yaml").write_text("vibench: 1\nextends: ./base\nwith: {foo: 1}\n")
    (d,) = errors(path=str(tmp_path / "u.yaml"))
    assert d.code == "E201" and d.expected == "(none: `./base` declares no parameters)"
    assert d.hint == "remove it" and not d.notes
    (d,) = errors(path=str(tmp_path / "base.yaml"), foo=1)  # given with the compile: the same words
    assert d.code == "E201" and d.expected == "(none: model `RealX` declares no parameters)"


def test_a_with_key_of_a_users_file_that_shadows_a_library_template_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "cnn").mkdir()
    (tmp_path / "cnn" / "ResNet1D.yaml").write_text("vibench: 1\nname: RealX\ninputs: {x: {shape: [B, 1, L]}}\n"
                                                    "nodes:\n  a: {block: relu, in: x}\noutputs: {y: a}\n")
    (tmp_path / "u.yaml").write_text("vibench: 1\nextends: cnn/ResNet1D\nwith: {num_classes: 3}\n")
    (d,) = errors(path=str(tmp_path / "u.yaml"))
    assert d.code == "E201" and d.expected == "(none: `cnn/ResNet1D` declares no parameters)"
    (note,) = d.notes
    assert "ResNet1D.yaml, which shadows the library's `cnn/ResNet1D` (vibench/specs/cnn/ResNet1D.yaml)" in note
    assert d.hint.startswith("to extend the library's template, rename or move")
    shutil.rmtree(tmp_path / "cnn")  # the library's own template: no note
    assert width(vibench.check(str(tmp_path / "u.yaml"))) == 3


# -- 4. E208 for a value that is none of the choices ----------------------------------------------------------------

CHOICES = """\
vibench: 1
name: T
params:
  c: {type: any, default: 2, choices: [1, 2]}
  d: {type: float, default: 1.0, choices: [1, 2.5]}
  e: {type: str, default: basic, choices: [basic, bottleneck]}
inputs: {x: {shape: [B, 4]}}
nodes:
  fc: {block: linear, in: x, out_features: 4}
outputs: {y: fc}
metadata: {c: "${c}", d: "${d}", e: "${e}"}
"""


@pytest.mark.parametrize(("value", "hint"), [
    ("basik", "did you mean `basic`?"),
    ("Basic", "did you mean `basic`? (the choices are case-sensitive)"),
    ("zzz", "write one of the choices listed under `expected` (they are case-sensitive)"),
])
def test_a_value_that_is_none_of_the_choices_says_so_with_the_nearest(value: str, hint: str) -> None:
    (d,) = errors(CHOICES, e=value)
    assert d.code == "E208" and d.message == "parameter `e` of model `T` is not one of the choices"
    assert d.expected == "one of 'basic', 'bottleneck'" and d.hint == hint


def test_a_with_value_of_a_library_template_that_is_no_choice_has_a_hint() -> None:
    (d,) = errors("vibench: 1\nextends: cnn/ResNet1D\nwith: {block_type: basik}\n")
    assert d.code == "E208" and d.message == "parameter `block_type` of model `ResNet1D` is not one of the choices"
    assert (d.pos.line, d.pos.col) == (3, 20) and d.hint == "did you mean `basic`?"


def test_a_phm_config_value_that_is_no_choice_has_a_hint(tmp_path: Path) -> None:
    config = tmp_path / "experiment.yaml"
    config.write_text("model:\n  type: CNN\n  name: ResNet1D\n  input_dim: 1\n  num_classes: 3\n  block_type: Basic\n")
    (d,) = errors(path=str(config))
    assert d.code == "E208" and d.message.endswith("is not one of the choices") and d.pos.line == 6
    assert d.hint == "did you mean `basic`? (the choices are case-sensitive)"


# -- 5. choices are compared by type -------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "value", "written"), [("c", True, "true"), ("c", 1.0, "1.0")])
def test_a_bool_or_float_equal_to_an_int_choice_is_refused(name: str, value: object, written: str) -> None:
    (d,) = errors(CHOICES, **{name: value})
    assert d.code == "E208" and d.message == f"parameter `{name}` of model `T` is not one of the choices"
    assert d.hint.startswith(f"write `1`: a choice is compared by type as well as value, and `{written}`")


def test_choices_read_as_the_declared_type() -> None:
    assert vibench.check(text=CHOICES, params={"c": 1}).root.metadata["c"] == 1
    for given in (1, 1.0):  # a float parameter's `choices: [1, 2.5]` are 1.0 and 2.5
        assert vibench.check(text=CHOICES, params={"d": given}).root.metadata["d"] == 1.0
    (d,) = errors(CHOICES, d=2)
    assert d.code == "E208"
    listed = ParamDecl("m", "any", None, True, None, None, None, None, ([1, [2, 3]], {"a": 1}), None, None)
    assert check_value(listed, [1, [2, 3]])[1] is None and check_value(listed, {"a": 1})[1] is None
    assert check_value(listed, [True, [2, 3]])[1] == "E208" and check_value(listed, {"a": 1.0})[1] == "E208"


# -- 6. E210 for an invalid type -----------------------------------------------------------------------------------

TYPED = """\
vibench: 1
name: Declaration
params:
  depth: {type: "%s", default: 2}
inputs: {x: {shape: [B, 16]}}
nodes:
  fc: {block: linear, in: x, out_features: 4}
outputs: {y: fc}
"""


@pytest.mark.parametrize(("written", "hint"), [
    ("integer", "did you mean `int`?"),
    ("list[integer]", "did you mean `list[int]`?"),
    ("Optional[int]", "did you mean `int | None`? (a union is written with `|`: `Optional[T]` is `T | None`)"),
    ("Union[int, str]", "did you mean `int | str`? (a union is written with `|`: `Optional[T]` is `T | None`)"),
    ("dict[str, Optional[List[int]]]", "did you mean `dict[str, list[int] | None]`? (a union is written with `|`: "
                                       "`Optional[T]` is `T | None`)"),
])
def test_an_invalid_type_is_e210_with_the_type_it_likely_means(written: str, hint: str) -> None:
    (d,) = errors(TYPED % written)
    assert d.code == "E210" and d.message.startswith(f"invalid type `{written}` for parameter `depth`")
    assert d.expected == ("int, float, bool, str, any, None, list[T], tuple[T, ...], tuple[A, B], dict[str, T], "
                          "dict[int, T], A | B")
    assert d.hint == hint


def test_a_type_that_nests_too_deeply_is_e210_not_a_recursion_error() -> None:
    (d,) = errors(TYPED % ("list[" * 2_000 + "int" + "]" * 2_000))
    assert d.code == "E210" and "type nests deeper than 64 levels" in d.message and len(d.message) < 300
    from vibench.compiler.param_types import type_suggestion

    assert type_suggestion("Optional[" * 2_000 + "int" + "]" * 2_000) is None


def test_integer_keys_are_taken_by_dict_int_only() -> None:
    spec = TYPED.replace('{type: "%s", default: 2}', '{type: "dict[int, int]", default: {1: 2, 3: 5}}')
    spec = spec.replace("out_features: 4", 'out_features: "${depth[3]}"')
    assert width(vibench.check(text=spec)) == 5
    (d,) = errors(spec, depth={"3": 6})
    assert d.code == "E202"
    (d,) = errors(spec.replace("dict[int, int]", "dict[str, int]"))
    assert d.code == "E210" and "key 1 is not a string" in d.message


# -- 7. messages of the evaluator ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "said"), [(3, "an int"), (1.5, "a float"), (None, "null"), (True, "a bool")])
def test_indexing_a_scalar_names_it_with_its_article(value: object, said: str) -> None:
    with pytest.raises(ExprError) as info:
        evaluate_template(parse_template("${n[0]}", None), {"n": value})
    assert info.value.message == f"cannot index {said}"


def test_is_compares_values_as_documented() -> None:
    def value(text: str, **env: object) -> object:
        return evaluate_template(parse_template(text, None), env)

    assert value("${1 is 1.0}") is True and value("${flag is true}", flag=1) is True
    assert value("${0 is None}") is False and value("${x is None}", x=None) is True


def test_the_cli_says_the_template_declares_no_parameters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "base.yaml").write_text("vibench: 1\nname: RealX\ninputs: {x: {shape: [B, 4]}}\n"
                                        "nodes:\n  a: {block: relu, in: x}\noutputs: {y: a}\n")
    (tmp_path / "u.yaml").write_text("vibench: 1\nextends: ./base\nwith: {foo: 1}\n")
    main([str(tmp_path / "u.yaml"), "--check", "--format", "json"])
    assert '"expected": "(none: `./base` declares no parameters)"' in capsys.readouterr().out
