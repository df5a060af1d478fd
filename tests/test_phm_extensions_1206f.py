"""Note I106: a PHM-Vibench config sets a template parameter that the reference model never reads.

Informer's `distil: true` and `attention: prob_sparse` compiled with no note, although PHM-Vibench's
Informer.py reads neither: the model vibench built was not the reference's (its checkpoints then missed 14
distilling keys). The extensions are declared per reference model (``phm_reference.EXTENSIONS``) and checked
against the library's templates, and, with a checkout at .reference/PHM-Vibench, against the reference's
sources.
"""

from __future__ import annotations

import re
import textwrap
import warnings
from pathlib import Path

import pytest

import vibench
from vibench.compiler.phm_reference import EXTENSIONS
from vibench.compiler.resolve import LIBRARY_DIR, Library

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / ".reference" / "PHM-Vibench"

INFORMER = """\
model:
  type: Transformer
  name: Informer
  input_dim: 2
  d_model: 8
  n_heads: 2
  e_layers: 3
  d_ff: 8
  factor: 5
  num_classes: 3
"""

PROMPT = """\
model:
  type: ISFM_Prompt
  name: M_02_ISFM_Prompt
  embedding: {embedding}
  backbone: B_04_Dlinear
  task_head: H_01_Linear_cla
  output_dim: 32
  num_patches: 8
  patch_size_L: 16
  patch_size_C: 1
  num_classes: {{1: 3}}
  use_prompt: true
"""


def write(tmp_path: Path, text: str, name: str = "experiment.yaml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(path)


def notes(path: str, **params: object) -> list[vibench.Diagnostic]:
    return [d for d in vibench.check(path, params=params or None).warnings if d.code == "I106"]


def test_informer_extensions_are_noted_at_their_keys(tmp_path: Path) -> None:
    path = write(tmp_path, INFORMER + "  distil: true\n  attention: prob_sparse\n  sampling_seed: 3\n")
    found = notes(path)
    assert [(d.message.split("`")[1], d.pos.line, d.pos.col) for d in found] == [
        ("distil", 11, 3),
        ("attention", 12, 3),
        ("sampling_seed", 13, 3),
    ]
    distil = found[0]
    assert distil.severity == "note"
    assert distil.message == "`distil` is a vibench extension: PHM-Vibench's Informer does not read it"
    assert distil.found == "PHM-Vibench's Informer has no distilling layers (`distil: false`)"
    with warnings.catch_warnings():  # the notes again, as SpecWarnings
        warnings.simplefilter("ignore")
        model = vibench.build(path)  # a note: the model compiles, with the extension built
    assert any("distil" in name for name in model.state_dict())


def test_keys_the_reference_reads_get_no_note(tmp_path: Path) -> None:
    """`factor` is read (and unused) by the reference: no extension; nor `d_model` and the rest."""
    assert notes(write(tmp_path, INFORMER)) == []


def test_a_value_given_beside_the_config_is_the_callers_choice(tmp_path: Path) -> None:
    assert notes(write(tmp_path, INFORMER), distil=True) == []


def test_every_family_declares_its_extensions(tmp_path: Path) -> None:
    """`layout` of the classic families, ResNet1D's `match_input_length`, MWA_CNN's fixed sizes."""
    path = write(
        tmp_path,
        """\
        model: {type: CNN, name: ResNet1D, input_dim: 1, num_classes: 4, layout: BCL, match_input_length: true}
        """,
    )
    assert [d.message.split("`")[1] for d in notes(path)] == ["layout", "match_input_length"]
    path = write(
        tmp_path,
        """\
        model: {type: X_model, name: MWA_CNN, in_channels: 1, num_classes: 4, num_filters: 18, dropout: 0.2}
        """,
    )
    found = notes(path)
    assert [d.message.split("`")[1] for d in found] == ["num_filters", "dropout"]
    assert found[0].found == "PHM-Vibench's MWA_CNN always has 12 filters (`num_filters: 12`)"


def test_a_component_key_is_an_extension_only_if_no_chosen_component_reads_it(tmp_path: Path) -> None:
    """HSE_prompt reads `use_prompt` as the reference's does; E_01_HSE_v2's reference never reads it."""
    assert notes(write(tmp_path, PROMPT.format(embedding="HSE_prompt"))) == []
    found = notes(write(tmp_path, PROMPT.format(embedding="E_01_HSE_v2")))
    assert [(d.message, d.pos.line) for d in found] == [
        ("`use_prompt` is a vibench extension: PHM-Vibench's E_01_HSE_v2 does not read it", 12)
    ]


def test_a_composites_components_are_checked(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        model:
          type: ISFM
          name: M_01_ISFM
          embedding: E_01_HSE
          backbone: B_04_Dlinear
          task_head: H_01_Linear_cla
          output_dim: 32
          num_patches: 8
          patch_size_L: 16
          patch_size_C: 1
          num_classes: {1: 3}
          eval_sampling: seeded
          moving_avg: 25
          return_feature: true
        """,
    )
    found = notes(path)
    assert [d.message for d in found] == [
        "`eval_sampling` is a vibench extension: PHM-Vibench's E_01_HSE does not read it",
        "`moving_avg` is a vibench extension: PHM-Vibench's B_04_Dlinear does not read it",
        "`return_feature` is a vibench extension: PHM-Vibench's M_01_ISFM does not read it",
    ]


def test_a_key_from_a_base_config_is_noted_at_its_entry_without_its_value(tmp_path: Path) -> None:
    (tmp_path / "configs").mkdir()
    write(tmp_path, "model:\n  distil: true\n", "configs/base.yaml")
    path = write(tmp_path, "base_configs:\n  model: configs/base.yaml\n" + INFORMER)
    (note,) = notes(path)
    assert (note.pos.line, note.pos.col) == (2, 10)  # the `base_configs` entry
    assert "true" not in f"{note.message} {note.found} {note.hint}"


def _library_units() -> list[tuple[str, object]]:
    library = Library()
    units = []
    for path in sorted(Path(LIBRARY_DIR).rglob("*.yaml")):
        name = path.relative_to(LIBRARY_DIR).with_suffix("").as_posix()
        unit, _ = library.load(library.find(name, None, None), None)
        if unit.reference is not None:
            units.append((name, unit))
    return units


def test_every_declared_extension_is_a_parameter_of_the_templates_of_its_reference() -> None:
    units = _library_units()
    by_reference: dict[str, list] = {}
    for _, unit in units:
        by_reference.setdefault(unit.reference.model, []).append(unit)
    assert set(EXTENSIONS) <= set(by_reference), set(EXTENSIONS) - set(by_reference)
    stale = [
        (reference, key, unit.name)
        for reference, keys in EXTENSIONS.items()
        for key in keys
        for unit in by_reference[reference]
        if unit.param(key) is None
    ]
    assert not stale
    ignored = [
        (reference, key)
        for reference, keys in EXTENSIONS.items()
        for key in keys
        for unit in by_reference[reference]
        if key in unit.reference.ignored_keys
    ]
    assert not ignored  # a key the reference reads and ignores is W101, not an extension


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="no PHM-Vibench checkout at .reference/PHM-Vibench")
def test_a_parameter_no_reference_source_names_is_a_declared_extension() -> None:
    """A template parameter whose name no file of its reference's package holds cannot be read there: it must be
    declared, so that a config setting it is noted (a new extension is not missed)."""
    unlisted = []
    for name, unit in _library_units():
        if not unit.reference.source:
            continue
        package = (REFERENCE / unit.reference.source).parent
        text = "".join(p.read_text(encoding="utf-8", errors="replace") for p in package.glob("*.py"))
        unlisted += [
            (name, d.name)
            for d in unit.params
            if not d.scope
            and not re.search(rf"\b{re.escape(d.name)}\b", text)
            and d.name not in EXTENSIONS.get(unit.reference.model, {})
        ]
    assert not unlisted
