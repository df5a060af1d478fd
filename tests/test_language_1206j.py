"""Language fixes of QA pass 1206j (/tmp/qa2_prev: with/, p2/, numdiff.py).

1. E201 "has no effect" refused values that had one (a regression of 89c334c): a given value read by the
   default of a parameter nobody replaced is read. `extends: isfm/backbone/B_09_FNO` with
   `with: {modes: "${d_model // 32}"}`, `--set d_model=64 --set modes=3`: B_09_FNO's `width: {default: d_model}`
   reads `d_model`; a template's `b: {default: "${x}"}` reads `x` beside a replaced `with: {a: "${x}"}`.
2. A plain name in a tuple's item took the first item's type for every position: `tuple[int, str]`'s
   `[n, n]` was [4, 4] (E202); the second item takes text, so it is [4, "n"].
3. The loader read `0_0`, `0_1`, `00_1`, `+0_1` as integers while the editor's pattern (value_rules) took them
   for strings. The rule (docs/language.md): an underscore between two digits as Python takes it, and a
   leading zero read where it changes nothing (`007`, so `0_7`), E001 where YAML 1.1 reads octal otherwise
   (`0_10`). The pattern now agrees, checked against the loader over every short string of `0-9_+-.eE`.
4. E112's hint for `mode: yes` among `Literal["on", "off"]` said `write "on" in quotes: YAML reads on as true`;
   the hint now names only the word written, or says what the value reads as and names "on" as the nearest.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any, Literal

import pytest

import vibench
from tests.test_plugins_loading import install, run_python
from vibench.compiler.cli import EXIT_OK, main
from vibench.compiler.diagnostics import SpecError
from vibench.compiler.ir import Pos, Template
from vibench.compiler.load import load_text
from vibench.compiler.param_errors import quote_hint
from vibench.compiler.resolve import Library, resolve_file
from vibench.compiler.resolve_extends import unread_given
from vibench.compiler.validate import validate
from vibench.schemas.blocks import BlockParams
from vibench.schemas.value_rules import INTEGER_1_1, NUMBER_1_1

# -- 1. E201 counts every default that reads a given value ------------------------------------------------------

TEMPLATE = """\
vibench: 1
name: T
params:
  x: {type: int, default: 3}
  a: {type: int, default: 2}
  b: {type: int, default: %s}
inputs: {x_in: {shape: [B, 2, L]}}
nodes:
  l1: {block: conv1d, in: x_in, out_channels: "${a}", kernel_size: 1}
  l2: {block: conv1d, in: l1, out_channels: "${b}", kernel_size: 1}
outputs: {y: l2}
"""


def _extending(tmp_path: Path, b_default: str) -> Path:
    (tmp_path / "tmpl.yaml").write_text(TEMPLATE % b_default, encoding="utf-8")
    spec = tmp_path / "spec.yaml"
    spec.write_text('vibench: 1\nextends: ./tmpl.yaml\nwith: {a: "${x}"}\n', encoding="utf-8")
    return spec


def test_a_value_a_template_default_reads_has_an_effect(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = _extending(tmp_path, '"${x}"')
    assert main([str(spec), "--check", "--set", "x=5", "--set", "a=7"]) == EXIT_OK, capsys.readouterr().err
    assert "output y: [B, 5, L]" in capsys.readouterr().out  # `b` read the given x
    doc = load_text(spec.read_text(encoding="utf-8"), str(spec), str(spec))
    root, library = resolve_file(doc, validate(doc), Library())
    assert unread_given(root, {"x", "a"}, library) == []


def test_a_value_only_a_replaced_with_entry_reads_is_still_e201(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    spec = _extending(tmp_path, "4")
    assert main([str(spec), "--check", "--set", "x=5", "--set", "a=7"]) != EXIT_OK
    assert "error[E201]: `x` (from --set) has no effect: `a` (from --set) replaces `with: {a: x}`" \
        in capsys.readouterr().err


def test_a_default_that_reads_a_value_reads_nothing_once_it_is_given_too(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """`--set b=9` replaces `b: {default: x}`, so with `a` replaced too nothing reads x (accepted silently once)."""
    spec = _extending(tmp_path, '"${x}"')
    assert main([str(spec), "--check", "--set", "x=5", "--set", "a=7", "--set", "b=9"]) != EXIT_OK
    assert "error[E201]: `x` (from --set) has no effect: `a` (from --set) replaces `with: {a: x}`" \
        in capsys.readouterr().err


def test_b_09_fno_reads_d_model_beside_a_given_modes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "fno.yaml"
    spec.write_text('vibench: 1\nextends: isfm/backbone/B_09_FNO\nwith: {modes: "${d_model // 32}"}\n',
                    encoding="utf-8")
    argv = [str(spec), "--check", "--set", "d_model=64", "--set", "modes=3", "--input", "x=2,8,128"]
    assert main(argv) == EXIT_OK, capsys.readouterr().err  # `width: {default: d_model}` reads d_model
    assert "E201" not in capsys.readouterr().err
    # the fallback of 89c334c holds: the template's `modes: {default: num_modes}` replaced is no error
    assert main(["isfm/backbone/B_09_FNO", "--check", "--set", "modes=3", "--set", "num_modes=5"]) == EXIT_OK


# -- 2. a tuple's items by position -----------------------------------------------------------------------------

TUPLE = """\
vibench: 1
name: T
params:
  n: {type: int, default: 4}
  lst: {type: "%s", default: %s}
inputs: {x: {shape: [B, 2, L]}}
nodes:
  r: {block: relu, in: x}
outputs: {y: r}
"""


def _default(type_: str, default: str) -> Any:
    doc = load_text(TUPLE % (type_, default), "t.yaml", None)
    root, _ = resolve_file(doc, validate(doc), Library())
    return root.param("lst").default


def test_a_plain_name_in_a_tuple_takes_its_position_s_type() -> None:
    first, second = _default("tuple[int, str]", "[n, n]")
    assert isinstance(first, Template) and first.text == "${n}" and second == "n"
    source = vibench.compile_spec(text=TUPLE % ("tuple[int, str]", "[n, n]"), params={"n": 6}).source
    assert 'COMPILED_PARAMETERS = {"n": 6, "lst": [6, "n"]}' in source
    assert _default("tuple[str, int]", "[n, n]")[0] == "n"
    assert all(isinstance(v, Template) for v in _default("tuple[int, ...]", "[n, n, n]"))
    assert all(isinstance(v, Template) for v in _default("list[int] | tuple[str, int]", "[n, n]"))


def test_a_tuple_default_of_the_wrong_length_is_refused_at_it() -> None:
    with pytest.raises(SpecError) as err:
        vibench.check(text=TUPLE % ("tuple[int, str]", "[n, n, n]"))
    (d,) = err.value.diagnostics
    assert (d.code, d.pos.line, d.pos.col) == ("E210", 5, 43) and "exactly 2 items" in d.message


# -- 3. the loader and the editor's number patterns agree --------------------------------------------------------

# What yaml-language-server (YAML 1.2's core schema) reads as a number itself: the patterns are not asked.
_Y12_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_Y12_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$")


def _disagreements(alphabet: str, longest: int) -> list[tuple[str, str]]:
    integer, number = re.compile(INTEGER_1_1), re.compile(NUMBER_1_1)
    found = []
    for size in range(1, longest + 1):
        for text in map("".join, itertools.product(alphabet, repeat=size)):
            if _Y12_INT.match(text) or _Y12_FLOAT.match(text):
                continue
            try:
                value = load_text(f"k: {text}\n").data["k"]
                kind = "int" if type(value) is int else "float" if type(value) is float else "text"
            except SpecError:
                kind = "refused"  # E001: the editor may take it for a string, the compiler says why not
            if (kind == "int") != bool(integer.match(text)) or (kind in ("int", "float")) != bool(number.match(text)):
                found.append((text, kind))
    return found


@pytest.mark.parametrize(("alphabet", "longest"), [("0123456789_+-.eE", 4), ("078_.e+-", 5), ("0x1b_-f8", 5)])
def test_the_patterns_take_what_the_loader_reads_as_a_number(alphabet: str, longest: int) -> None:
    assert _disagreements(alphabet, longest) == []


@pytest.mark.parametrize(("text", "value"), [("0_0", 0), ("0_1", 1), ("00_1", 1), ("+0_1", 1), ("-0_0_7", -7),
                                             ("0_10", None), ("0_8", "0_8"), ("0__1", None), ("0_", None)])
def test_a_leading_zero_with_an_underscore(text: str, value: Any) -> None:
    try:
        read = load_text(f"k: {text}\n").data["k"]
    except SpecError as err:
        assert value is None and err.codes == ["E001"]
        read = None
    assert read == value and type(read) is type(value)
    assert bool(re.match(INTEGER_1_1, text)) == (type(value) is int)


# -- 4. E112's quote hint names the word written ----------------------------------------------------------------


class _OnOff(BlockParams):
    mode: Literal["on", "off", "true"] = "off"
    size: Literal["1", "0x10"] = "1"


def _errors(**value: Any) -> list[dict]:
    from pydantic import ValidationError

    try:
        _OnOff(**value)
    except ValidationError as err:
        return err.errors(include_url=False)  # type: ignore[return-value]
    raise AssertionError(value)


# a node's parameter is located at its key (line 1, as the compiler gives it), a value may be at itself (line 2)
SOURCE = {"s.yaml": 'd: {block: switch, mode: yes, size: 0x10}\nd: {mode: on, size: 16}\n{"mode":true}\n'}


@pytest.mark.parametrize(("field", "value", "line", "col", "hint"), [
    ("mode", True, 1, 20, 'YAML reads yes as true; the choices are "on", "off", "true": write the one meant in '
                          'quotes ("on" or "true" reads as true too, the nearest)'),
    ("mode", True, 2, 11, 'write "on" in quotes: YAML reads on as true'),
    ("size", 16, 1, 31, 'write "0x10" in quotes: YAML reads 0x10 as the number 16'),
    ("size", 16, 2, 21, 'YAML reads 16 as the number 16; the choices are "1", "0x10": write the one meant in quotes '
                        '("0x10" reads as the number 16 too, the nearest)'),
    ("mode", True, 3, 2, 'write "true" in quotes: YAML reads true as true'),
])
def test_the_quote_hint_names_the_word_written(field: str, value: Any, line: int, col: int, hint: str) -> None:
    written = [(field, value, Pos("s.yaml", line, col))]
    assert quote_hint(_OnOff, field, _errors(**{field: value}), written, SOURCE) == hint


def test_without_the_text_the_quote_hint_names_no_word_as_written() -> None:
    hint = quote_hint(_OnOff, "mode", _errors(mode=True), [("mode", True, Pos("s.yaml", 1, 20))])
    assert hint == ('YAML read the value as true (it reads yes, no, on, off, true and false as booleans); the choices '
                    'are "on", "off", "true": write the one meant in quotes ("on" or "true" reads as true too, the '
                    'nearest)')


PLUGIN = '''
from typing import Literal

from vibench.compiler.blocks.base import Block
from vibench.compiler.codegen import code as c
from vibench.compiler.registry import register
from vibench.schemas.blocks import BlockParams


class OnOff(BlockParams):
    mode: Literal["on", "off"] = "off"


@register
class Switch(Block):
    """A plug-in block of fixed values."""
    name, Params = "switch", OnOff

    def infer(self, p, ins, ctx):
        return [ins[0]]

    def call_code(self, p, args, mod):
        return c.call("torch.tanh", args[0])
'''


def test_the_qa_repro_names_no_word_not_written(tmp_path: Path) -> None:
    """/tmp/qa2_prev/p2: `mode: yes` said `write "on" in quotes: YAML reads on as true`."""
    install(tmp_path / "site", "p_switch", {"p_switch/__init__.py": PLUGIN}, ["switch = p_switch"])
    text = "vibench: 1\nname: T\ninputs: {x: {shape: [B, 1, L]}}\nnodes:\n  d: {block: switch, in: x, mode: yes}\n" \
           "outputs: {y: d}\n"
    run = run_python(f"""
        import json
        import vibench

        try:
            vibench.check(text={text!r})
            print(json.dumps("ok"))
        except vibench.SpecError as err:
            print(json.dumps([d.to_json() for d in err.diagnostics]))
    """, [tmp_path / "site"], tmp_path)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    (d,) = json.loads(run.stdout.splitlines()[-1])
    assert (d["code"], d["line"], d["found"]) == ("E112", 5, "True"), d
    assert "reads on as" not in d["hint"] and 'the choices are "on", "off"' in d["hint"], d
    assert '"on" reads as true too, the nearest' in d["hint"], d
