"""Plain scalars that vibench reads as YAML 1.2 does and PyYAML (so PHM-Vibench) reads otherwise, inside a
PHM-Vibench experiment config's `model:`: a float without a dot before its exponent, without the exponent's sign,
or signed without a digit before its dot (`1e-1`, `1.0e5`, `-.5`: PyYAML's strings) is E001 like `010`; a date
(`2020-01-01`, PyYAML's ``datetime.date``) is E102 as a key and E001 as a value; `=` and an impossible date, which
PyYAML refuses with the file, are E001. A vibench spec keeps its reading (`1e-1` is 0.1, a date is text)."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

import vibench
from vibench.compiler.load import load_text
from vibench.compiler.load_numbers import _written_for_both

MODEL = "model:\n  type: RNN\n  name: AttentionLSTM\n  input_dim: 2\n  num_classes: 3\n"
# The classes of YAML 1.2 floats that PyYAML reads as strings: no dot before the exponent (`1e-1`, `1E+5`), no sign
# in the exponent (`1.0e5`, `1.e5`, `.5e5`), a sign before a dot without a digit (`-.5`, `+.5`, `-.5e-3`), a leading
# zero before an exponent (`01e3`), and one beyond a float's range (`1e400`, inf to YAML 1.2).
FLOATS_1_2 = ["1e-1", "1E+5", "2e3", "1.0e5", "1.e5", ".5e5", "-.5", "+.5", "-.5e-3", "01e3", "-0e5", "1e400"]
# What both read alike: the float, int, bool and null patterns PyYAML resolves, which vibench resolves with them.
SAME = {".5": 0.5, "1.": 1.0, "1.5e-1": 0.15, "1.0E+1": 10.0, ".5e-5": 5e-06, "5.e+5": 500000.0, "+1": 1,
        "0x1F": 31, "-0b11": -3, "1_000": 1000, "yes": True, "Off": False, "~": None, "NULL": None, "y": "y",
        "0o17": "0o17", "-.nan": "-.nan", "Infinity": "Infinity", "2020-01-01T10:00": "2020-01-01T10:00"}


def _refused(text: str) -> Any:
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=text)
    (diag,) = err.value.diagnostics
    assert diag.pos is not None
    return diag


def test_attention_lstm_dropout_1e_1_is_e001_at_the_value() -> None:
    diag = _refused(MODEL + "  dropout: 1e-1\n")
    assert (diag.code, diag.pos.line, diag.pos.col, diag.span) == ("E001", 6, 12, 4)
    assert "`1e-1` is no number in YAML 1.1" in diag.message and "as text" in diag.found
    assert diag.hint.startswith("write 0.1 so that both read that number")


@pytest.mark.parametrize("written", FLOATS_1_2)
def test_each_class_is_e001_with_a_number_both_read_alike(written: str) -> None:
    diag = _refused(MODEL + f"  dropout: {written}\n")
    assert (diag.code, diag.pos.line, diag.pos.col) == ("E001", 6, 12)
    assert yaml.safe_load(f"v: {written}")["v"] == written  # PyYAML's string
    both = diag.hint.split()[1]
    assert yaml.safe_load(f"v: {both}")["v"] == load_text(f"v: {both}").data["v"] == float(written)


@pytest.mark.parametrize("written", FLOATS_1_2)
def test_as_a_key_of_model_too(written: str) -> None:
    diag = _refused(MODEL + f"  {written}: 1\n")
    assert (diag.code, diag.pos.line, diag.pos.col) == ("E001", 6, 3)


@pytest.mark.parametrize("written", ["1e-1", "-.5", "2020-01-01", "2020-01-01 10:00:00", "2020-13-01", "="])
def test_outside_model_it_is_left_alone(written: str) -> None:
    text = f"trainer: {{lr: {written}, max_epochs: 2}}\nenvironment:\n  when: {written}\n" + MODEL
    assert not [w for w in vibench.check(text=text).warnings if w.severity == "warning"]


def test_read_by_model_through_an_alias_or_a_merge() -> None:
    for model in ("model: {<<: *d, type: RNN, name: AttentionLSTM, input_dim: 2, num_classes: 3}\n",
                  "model: {type: RNN, name: AttentionLSTM, input_dim: 2, num_classes: 3, dropout: *p}\n"):
        diag = _refused("defaults: &d {dropout: &p 1e-1}\n" + model)
        assert (diag.code, diag.pos.line, diag.pos.col) == ("E001", 1, 24)  # the node, its anchor first


def test_a_config_read_as_pyyaml_reads_it_lists_them_too() -> None:
    # `gpu: 010` makes the strict read fail, so the file is read as PyYAML reads it: the floats are listed there
    diag = _refused("environment: {gpu: 010}\n" + MODEL + "  dropout: 1e-1\n")
    assert (diag.code, diag.pos.line) == ("E001", 7)
    diag = _refused("environment: {gpu: 010}\n" + MODEL + "  2020-01-01: 1\n")
    assert (diag.code, diag.pos.line, diag.pos.col) == ("E102", 7, 3)


def test_a_date_key_of_model_is_e102_not_an_unknown_key() -> None:
    diag = _refused(MODEL + "  2020-01-01: 1\n")
    assert (diag.code, diag.pos.line, diag.pos.col) == ("E102", 6, 3)
    assert diag.found.startswith("date datetime.date(2020, 1, 1)") and diag.hint == 'quote it: `"2020-01-01": ...`'
    assert not [w for w in vibench.check(text=MODEL + '  "2020-01-01": 1\n').warnings if w.code == "E102"]


@pytest.mark.parametrize(("written", "words"), [
    ("2020-01-01", "datetime.date(2020, 1, 1)"),
    ("2020-1-1 10:00:00", "datetime.datetime(2020, 1, 1, 10, 0)"),
    ("2001-12-14t21:59:43.10-05:00", "datetime.datetime(2001, 12, 14, 21, 59, 43, 100000"),
    ("2020-13-01", "refuses, and the whole file"),
    ("=", "refuses, and the whole file"),
])
def test_a_date_or_a_value_pyyaml_refuses_is_e001_in_model(written: str, words: str) -> None:
    diag = _refused(MODEL + f"  dropout: 0.1\n  rnn_type: {written}\n")
    assert (diag.code, diag.pos.line, diag.pos.col) == ("E001", 7, 13)
    assert words in diag.found and f'quote it (`"{written}"`)' in diag.hint


def test_a_nested_date_key_is_e102() -> None:
    diag = _refused(MODEL + "  extra:\n    2020-01-01: 1\n")
    assert (diag.code, diag.pos.line, diag.pos.col) == ("E102", 7, 5)


def test_a_base_configs_model_keys(tmp_path: Path) -> None:
    (tmp_path / "configs").mkdir()
    for name, line in (("f", "dropout: 1e-1"), ("k", "2020-01-01: 1"), ("d", "rnn_type: 2020-01-01")):
        (tmp_path / "configs" / f"{name}.yaml").write_text(MODEL + f"  {line}\ntrainer: {{lr: 1e-3}}\n")
        (tmp_path / f"{name}.yaml").write_text(f"base_configs:\n  model: configs/{name}.yaml\n")
    codes = {}
    for name in "fkd":
        with pytest.raises(vibench.SpecError) as err:
            vibench.check(str(tmp_path / f"{name}.yaml"))
        (diag,) = err.value.diagnostics
        assert diag.pos is not None and (diag.pos.line, diag.pos.col) == (2, 10)
        assert "(line 6, column" in diag.message
        codes[name] = diag.code
    assert codes == {"f": "E001", "k": "E102", "d": "E001"}
    (tmp_path / "configs" / "ok.yaml").write_text(MODEL + "trainer: {lr: 1e-3, since: 2020-01-01}\n")
    (tmp_path / "ok.yaml").write_text("base_configs:\n  model: configs/ok.yaml\n")
    assert not [w for w in vibench.check(str(tmp_path / "ok.yaml")).warnings if w.severity == "warning"]


def test_a_json_config(tmp_path: Path) -> None:
    path = tmp_path / "exp.json"  # PHM-Vibench reads it with PyYAML too
    path.write_text('{"model": {"type": "RNN", "name": "AttentionLSTM", "input_dim": 2, "num_classes": 3, '
                    '"dropout": 1e-1}}')
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(str(path))
    col = path.read_text().index("1e-1") + 1
    assert [(d.code, d.pos and d.pos.col) for d in err.value.diagnostics] == [("E001", col)]


def test_the_command_line(tmp_path: Path) -> None:
    from vibench.compiler.cli import EXIT_OK, main

    (tmp_path / "bad.yaml").write_text(MODEL + "  dropout: 1e-1\n")
    (tmp_path / "good.yaml").write_text(MODEL + "  dropout: 1.0e-1\ntrainer: {lr: 1e-3}\n")
    assert main(["--check", str(tmp_path / "bad.yaml")]) != EXIT_OK
    assert main(["--check", str(tmp_path / "good.yaml")]) == EXIT_OK


def test_a_spec_keeps_yaml_1_2s_reading() -> None:
    spec = ("vibench: 1\nname: T\nmetadata: {when: 2020-01-01, eq: =}\ninputs: {x: {shape: [B, 4]}}\n"
            "nodes: {d: {block: dropout, in: x, p: 1e-1}, e: {block: dropout, in: d, p: +.5e-1}}\noutputs: {y: e}\n")
    vibench.check(text=spec)
    assert load_text(spec).data["metadata"] == {"when": "2020-01-01", "eq": "="}
    assert load_text(spec).data["nodes"]["d"]["p"] == 0.1
    # a lenient read keeps vibench's value and lists it (the editor reads a spec's `lr: 1e-5` default as a float)
    doc = load_text("lr: 1e-5\n2020-01-01: 2020-01-01\n", lenient_keys=True)
    assert list(doc.data.items()) == [("lr", 1e-5), (yaml.safe_load("2020-01-01"), "2020-01-01")]
    assert [(p.line, p.col, code, d.code) for p, code, d in doc.numbers] == [
        (1, 5, "E001", "E001"), (2, 1, "E102", "E102"), (2, 13, "E001", "E001")]


@pytest.mark.parametrize(("written", "value"), list(SAME.items()))
def test_what_both_read_alike_is_not_listed(written: str, value: Any) -> None:
    assert yaml.safe_load(f"v: {written}")["v"] == value
    doc = load_text(f"v: {written}\n", lenient_keys=True)
    assert (doc.data["v"], type(doc.data["v"]), doc.numbers) == (value, type(value), ())


def _agrees(written: str) -> None:
    """No plain scalar is silently read otherwise than PyYAML reads it: a lenient read lists it at its place, the
    strict read refuses it, or both read the same value of the same type."""
    try:
        expected = yaml.safe_load(f"v: {written}\n{written}: 1\n")
    except (yaml.constructor.ConstructorError, ValueError):  # `=`, `2020-13-01`: PyYAML refuses the file
        expected = None
    except yaml.YAMLError:
        return  # no scalar there
    if expected is not None and (not isinstance(expected, dict) or "v" not in expected or len(expected) != 2):
        return  # `-` and `? `: not one scalar
    try:
        doc = load_text(f"v: {written}\n{written}: 1\n", lenient_keys=True)
        strict = load_text(f"v: {written}\n{written}: 1\n").data
    except vibench.SpecError:
        return
    listed = {(n.pos.line, n.pos.col) for n in doc.numbers}
    assert expected is not None or listed, written
    if (1, 4) not in listed:
        value = expected["v"]
        assert type(strict["v"]) is type(value), written
        assert strict["v"] == value or (math.isnan(value) and math.isnan(strict["v"])), written
    if (2, 1) not in listed:
        key = next(k for k in expected if k != "v")
        assert key in strict and type(next(k for k in strict if k != "v")) is type(key), written


def test_every_short_scalar_of_number_characters() -> None:
    for n in range(1, 5):
        for chars in itertools.product("01+-._eE:", repeat=n):
            _agrees("".join(chars))


@given(st.one_of(
    st.from_regex(r"\A[-+]?[0-9_]{0,4}\.?[0-9_]{0,3}([eE][-+]?[0-9]{1,3})?\Z"),
    st.from_regex(r"\A[-+]?(0[xbo])?[0-9a-fA-F_]{1,5}(:[0-9]{1,2}){0,2}(\.[0-9]*)?\Z"),
    st.from_regex(r"\A[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ][0-9]{1,2}:[0-9]{2}:[0-9]{2}(\.[0-9]*)?"
                  r"( ?Z| ?[-+][0-9]{1,2}(:[0-9]{2})?)?)?\Z"),
    st.sampled_from(["yes", "No", "ON", "off", "True", "y", "n", "~", "null", "Null", ".inf", "-.Inf", ".NaN", "=",
                     "<<x", "0o7", "Infinity", "nan"]),
))
def test_no_scalar_is_read_silently_otherwise(written: str) -> None:
    _agrees(written)


@given(st.floats(allow_nan=False))
def test_the_hint_writes_a_float_both_read_alike(value: float) -> None:
    written = _written_for_both(value)
    assert yaml.safe_load(f"v: {written}")["v"] == load_text(f"v: {written}").data["v"] == value


# -- QA 2: a date naming a `base_configs` entry, a base config's date or `=`, a key's hint -------------------------


@pytest.mark.parametrize("before", ["", "environment: {gpu: 010}\n"])  # read as a spec, or as PyYAML reads it
def test_a_date_may_name_a_base_configs_entry(before: str, tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "m.yaml").write_text(MODEL)
    (tmp_path / "e.yaml").write_text(before + "base_configs:\n  2020-01-01: m.yaml\n")
    assert not [w for w in vibench.check(str(tmp_path / "e.yaml")).warnings if w.severity != "note"]
    (tmp_path / "e.yaml").write_text(before + "base_configs:\n  m: m.yaml\nmodel:\n  extra: {2020-01-01: 1}\n")
    with pytest.raises(vibench.SpecError) as err:  # a key of the model's is a name: E102 there
        vibench.check(str(tmp_path / "e.yaml"))
    assert [d.code for d in err.value.diagnostics] == ["E102"]


@pytest.mark.parametrize(("line", "code", "said", "hint"), [
    ("rnn_type: 2020-01-01", "E001", "a date, which PyYAML reads as no string", "quote it in that file"),
    ("rnn_type: =", "E001", "`=`, YAML 1.1's value key, which PyYAML refuses with the whole file",
     "quote it in that file"),
    ("rnn_type: 2020-13-01", "E001", "an impossible date", "quote it in that file"),
    ("dropout: 2e-3", "E001", "a float that PyYAML reads as a string", "write it with a dot and a signed exponent"),
    ("num_layers: 08", "E001", "a YAML 1.1 number with a leading zero", "write the number in decimal"),
    ("extra: {2020-01-01: 1}", "E102", "a date as a key", "quote it in that file"),
])
def test_a_base_config_s_value_is_said_by_what_it_is(line: str, code: str, said: str, hint: str,
                                                     tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "m.yaml").write_text(MODEL + f"  {line}\n")
    (tmp_path / "e.yaml").write_text("base_configs:\n  model: m.yaml\n")
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(str(tmp_path / "e.yaml"))
    (diag,) = err.value.diagnostics
    assert diag.code == code and diag.pos is not None and (diag.pos.line, diag.pos.col) == (2, 10)
    assert diag.message.startswith("base config `m.yaml` has, in its model keys (line 6, column")
    assert said in diag.message
    assert diag.hint is not None and hint in diag.hint and "decimal" not in diag.message
    value = line.split(": ", 1)[1].strip("{}").split(":")[0]
    assert value == "=" or value not in diag.message + (diag.hint or "") + (diag.expected or "")


@pytest.mark.parametrize("written", ["1e-1", "-.5", "010", "1:30"])
def test_a_key_is_told_to_be_quoted(written: str) -> None:
    diag = _refused(MODEL + f"  {written}: 1\n")
    assert (diag.code, diag.pos.line, diag.pos.col) == ("E001", 6, 3)
    assert diag.hint == f'quote it (`"{written}": ...`): a key is a name, and quoted both read it as that name'
    diag = _refused(MODEL + f"  dropout: {written}\n")  # a value: the number both read alike, or the text
    assert diag.hint is not None and diag.hint.startswith("write ")
