"""What a read of a PHM-Vibench config as PyYAML reads it lists, and what it costs: only the scalars the model may
read — inside `model:` or `base_configs:`, in an anchored node (an alias or a `<<` merge may bring it there), under
a top-level `<<` — are listed with their E001, and only those build one; a document without `model:` (a base
config's top-level keys are its model's) lists them all. A config that a strict read took as a spec is read again
only when a scalar where the model reads it may be one (`dropout: 1e-1`): `lr: 1e-3` under `data:` is not."""

from __future__ import annotations

from pathlib import Path

import pytest

import vibench
from vibench.compiler import load_compose, phm
from vibench.compiler.load import load_text
from vibench.compiler.phm_readings import may_read_otherwise

MODEL = "model:\n  type: RNN\n  name: AttentionLSTM\n  input_dim: 2\n  num_classes: 3\n"
OTHERS = ["1e-1", "010", "08", "1:30", "10_", "2020-01-01", "2020-13-01", "="]


def _listed(text: str) -> list[tuple[int, int]]:
    return [(listed.pos.line, listed.pos.col) for listed in load_text(text, lenient_keys=True).numbers]


@pytest.mark.parametrize("written", OTHERS)
def test_outside_model_nothing_is_listed(written: str) -> None:
    text = f"data: {{xs: [{written}, {written}], {written}: 1}}\n" + MODEL + f"trainer: {{lr: {written}}}\n"
    assert _listed(text) == []
    assert _listed(text.replace("input_dim: 2", f"input_dim: {written}")) == [(5, 14)]


def test_no_diagnostic_is_built_for_what_is_not_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []
    error = load_compose._Composer.error

    def counted(self: load_compose._Composer, code: str, message: str, *args: object, **kw: object) -> object:
        made.append(code)
        return error(self, code, message, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(load_compose._Composer, "error", counted)
    row = ", ".join(["1e-1", "010", "2020-01-01", "08"] * 250)
    doc = load_text(f"data:\n  xs: [{row}]\n  ys: {{a: [{row}]}}\n" + MODEL + "  dropout: 1e-1\n", lenient_keys=True)
    assert len(doc.numbers) == 1 and made == ["E001"]
    assert doc.data["data"]["xs"][:4] == [0.1, 8, "2020-01-01", "08"]  # PyYAML's reading (vibench's float for 1e-1)


@pytest.mark.parametrize(("text", "where"), [
    ("data: {d: &d {dropout: 010}}\nmodel: {<<: *d, type: RNN}\n", (1, 24)),
    ("data: {p: &p 010}\nmodel: {type: RNN, dropout: *p}\n", (1, 11)),  # (at its anchor)
    ("data: &d {dropout: 010}\nmodel: *d\n", (1, 20)),
    ("<<: {model: {type: RNN, dropout: 010}}\n", (1, 34)),
    ("base_configs: {model: 010}\nmodel: {type: RNN}\n", (1, 23)),
])
def test_what_the_model_reads_through_an_alias_or_a_merge_is_listed(text: str, where: tuple[int, int]) -> None:
    assert where in _listed(text)


def test_a_document_without_model_lists_them_all() -> None:
    # a base config's top-level keys are its model's (`base_configs: {model: flat.yaml}`)
    assert _listed("lr: 1e-3\noptim: {wd: 010, since: 2020-01-01}\n") == [(1, 5), (2, 13), (2, 25)]
    assert _listed("- 010\n- {a: 1e-1}\n") == [(1, 3), (2, 7)]


def test_a_flat_base_config_is_still_read_so(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "flat.yaml").write_text(MODEL.replace("model:\n", "").replace("  ", "") + "dropout: 1e-1\n")
    (tmp_path / "e.yaml").write_text("base_configs:\n  model: flat.yaml\n")
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(str(tmp_path / "e.yaml"))
    assert [d.code for d in info.value.diagnostics if d.severity == "error"] == ["E001"]


def test_a_config_read_as_a_spec_is_read_again_only_when_the_model_may_hold_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    read_again: list[str] = []
    readings = phm.pyyaml_readings

    def counted(text: str, file: str) -> object:
        read_again.append(file)
        return readings(text, file)

    monkeypatch.setattr(phm, "pyyaml_readings", counted)
    rows = "".join(f"  k{i}: 1e-3\n  d{i}: 2020-01-0{1 + i % 9}\n  e{i}: =\n" for i in range(200))
    vibench.check(text="data:\n" + rows + MODEL + "  dropout: 0.1\ntrainer: {lr: 1e-3, x: -.5}\n")
    assert read_again == []
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(text="data:\n" + rows + MODEL + "  dropout: 1e-1\n")
    assert len(read_again) == 1 and [d.code for d in info.value.diagnostics] == ["E001"]


@pytest.mark.parametrize(("model", "maybe"), [
    ("  dropout: 0.1\n", False),
    ("  dropout: 1e-1\n", True),
    ("  dropout: -.5\n", True),
    ("  rnn_type: 2020-01-01\n", True),
    ("  rnn_type: =\n", True),
    ("  2020-01-01: 1\n", True),
    ("  dropout: &a 0.1\n", True),
    ('  dropout: "1e-1"\n', False),
    ("  rnn_type: lstm\n  note: a=b\n", False),
])
def test_may_read_otherwise(model: str, maybe: bool) -> None:
    text = "data: {lr: 1e-3, when: 2020-01-01, eq: =}\n" + MODEL + model
    assert may_read_otherwise(load_text(text)) is maybe
