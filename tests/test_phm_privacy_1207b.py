"""What a PHM-Vibench base config holds, in the diagnostics of every pass (docs/phm.md): its strings appear in none,
wherever the diagnostic stands (a check of the template that quotes one, at the experiment's key), as written,
escaped or cut short; names vibench knows and short words stay; sizes the shape checks compute may show. A mapping
merged from the experiment and a base config is matched on the base config's values (`'\\thunterpass'` in a
repr). A model-guide key a base config writes against the template's own key the experiment writes is E222 at the
experiment's key, naming the base config's key and file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import vibench
from vibench.compiler import cli
from vibench.compiler.diagnostics import Diagnostic, SpecError, clip
from vibench.compiler.phm_unshown import PLACEHOLDER, Unshown

SECRET = "sk-live-0123456789"
TAGGED = """vibench: 1
name: Tagged
params:
  tag: {type: str, default: plain}
  width: {type: int, default: 8}
checks:
  - that: "${width % 8 == 0}"
    message: "width ${width} does not suit the ${tag} layout (${[tag]})"
    at: width
inputs: {x: {shape: [B, 4]}}
nodes:
  lin: {block: linear, in: x, out_features: "${width}"}
outputs: {y: lin}
"""


def _project(tmp_path: Path, base: str, experiment: str, template: str | None = None) -> Path:
    (tmp_path / ".git").mkdir(exist_ok=True)
    (tmp_path / "configs" / "base").mkdir(parents=True, exist_ok=True)
    (tmp_path / "configs" / "base" / "m.yaml").write_text(base, encoding="utf-8")
    if template is not None:
        (tmp_path / "lib" / "cnn").mkdir(parents=True, exist_ok=True)
        (tmp_path / "lib" / "cnn" / "Tagged.yaml").write_text(template, encoding="utf-8")
    path = tmp_path / "configs" / "e.yaml"
    path.write_text(experiment, encoding="utf-8")
    return path


def _texts(d: Diagnostic) -> str:
    return json.dumps(d.to_json())


def _refused(path: Path, **kw: object) -> tuple[Diagnostic, ...]:
    with pytest.raises(SpecError) as info:
        vibench.check(str(path), **kw)  # type: ignore[arg-type]
    return info.value.diagnostics


# -- 1. a base config's strings, whatever pass says them ---------------------------------------------------------


def _tagged(tmp_path: Path, tag: str) -> Path:
    return _project(tmp_path, f"model:\n  type: CNN\n  name: Tagged\n  tag: {json.dumps(tag)}\n",
                    "base_configs:\n  model: base/m.yaml\nmodel:\n  width: 12\n", TAGGED)


def test_a_check_at_the_experiment_s_key_does_not_quote_a_base_config_string(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    path = _tagged(tmp_path, SECRET)
    (d,) = _refused(path, search_path=[str(tmp_path / "lib")])
    assert d.code == "E215" and d.pos is not None and (d.pos.line, d.pos.col) == (4, 3)  # the experiment's `width`
    assert d.message == f"width 12 does not suit the {PLACEHOLDER} layout (['{PLACEHOLDER}'])"
    monkeypatch.chdir(tmp_path)
    for args in ((), ("--format", "json")):
        rc = cli.main(["configs/e.yaml", "--check", "--spec-path", "lib", *args])
        out, err = capsys.readouterr()
        assert rc == cli.EXIT_SPEC and "E215" in out + err and SECRET not in out + err


def test_the_editor_s_diagnostics_do_not_quote_it(tmp_path: Path) -> None:
    from vibench.lsp.checking import check

    path = _tagged(tmp_path, SECRET)
    checked = check(path.read_text(), str(path), 1, [str(tmp_path / "lib")])
    assert [d.code for d in checked.diagnostics] == ["E215"]
    assert all(SECRET not in _texts(d) for d in checked.diagnostics)


@pytest.mark.parametrize("secret", ["\tsk-live-0123456789", "sk-live-\u00e9\u00e9-0123456789", "x" * 700 + "TOKEN"])
def test_nor_escaped_nor_cut_short(secret: str, tmp_path: Path) -> None:
    (d,) = _refused(_tagged(tmp_path, secret), search_path=[str(tmp_path / "lib")])
    text = _texts(d) + str(d.to_json())
    for form in (secret, repr(secret)[1:-1], json.dumps(secret)[1:-1]):
        assert not any(form[at:at + 8] in text for at in range(0, len(form) - 8)), (form, text)


def test_short_words_and_names_the_template_writes_stay(tmp_path: Path) -> None:
    for tag in ("abc", "plain", "1234"):  # shorter than four characters, the template's own default, a number
        (d,) = _refused(_tagged(tmp_path, tag), search_path=[str(tmp_path / "lib")])
        assert d.message == f"width 12 does not suit the {tag} layout (['{tag}'])"


def test_a_word_of_the_template_inside_a_secret_is_not_hidden_alone() -> None:
    unshown = Unshown({"conv", "MobileNet"}, ["nodes: {conv1d: ...}"], [])  # (`conv` is not in `conv1d`)
    assert unshown.hidden(Diagnostic("E301", "node `conv1d` of `conv`")).message == f"node `conv1d` of `{PLACEHOLDER}`"
    assert unshown.hidden(Diagnostic("E220", "MobileNet", hint="did you mean `MobileNet1D`?")).hint == \
        "did you mean `MobileNet1D`?"
    unshown = Unshown({"base"}, [], [])  # the placeholder's own words are not replaced again
    assert unshown.hidden(Diagnostic("E301", "base, base")).message == f"{PLACEHOLDER}, {PLACEHOLDER}"


def test_every_field_is_said_without_it() -> None:
    unshown = Unshown({SECRET}, [], [])
    d = Diagnostic("E215", SECRET, None, node=SECRET, port=SECRET, expected=SECRET, found=repr([SECRET]),
                   hint=SECRET, notes=(SECRET, clip("n " + f"{SECRET}, " * 40, 60)))
    assert SECRET[:8] not in _texts(unshown.hidden(d)) and "more characters" in _texts(unshown.hidden(d))


def test_sizes_the_shape_checks_compute_may_show(tmp_path: Path) -> None:
    # docs/phm.md: a shape check of the merged model says the sizes it finds, a base config's among them
    base = "model:\n  type: Transformer\n  name: Transformer_Dummy\n  hidden_dim: 773\n  input_dim: 419\n"
    path = _project(tmp_path, base, "base_configs:\n  model: base/m.yaml\nmodel:\n  num_heads: 8\n  num_layers: 1\n"
                    "  dropout: 0.1\n  num_classes: 3\n")
    (d,) = _refused(path)
    assert d.code == "E301" and d.pos is not None and (d.pos.line, d.pos.col) == (4, 3)
    assert "773" in d.message
    assert "sizes it finds" in (Path(__file__).parents[1] / "docs" / "phm.md").read_text()


# -- 3. a mapping merged from both, matched on the base config's values -------------------------------------------

ISFM = ("model:\n  type: ISFM\n  name: M_01_ISFM\n  embedding: E_01_HSE\n  backbone: B_04_Dlinear\n"
        "  task_head: H_01_Linear_cla\n  output_dim: 8\n  num_patches: 4\n  patch_size_L: 16\n  patch_size_C: 1\n")


def test_a_merged_mapping_does_not_show_a_base_string_escaped_by_repr(tmp_path: Path) -> None:
    path = _project(tmp_path, ISFM + '  num_classes: {bb: "\\thunterpass"}\n',
                    "base_configs:\n  model: base/m.yaml\nmodel:\n  num_classes: {x: bb}\n")
    (d,) = _refused(path)
    assert d.code == "E202" and "merges the keys written here with the base config's" in d.message
    assert "hunterpass" not in _texts(d) and "hunterpass" not in str(d.to_json())


def test_a_merged_mapping_keeps_its_reason_and_hides_the_found_mapping_with_a_base_key(tmp_path: Path) -> None:
    path = _project(tmp_path, ISFM + "  num_classes: {bb: 3}\n",
                    "base_configs:\n  model: base/m.yaml\nmodel:\n  num_classes: {x: [1]}\n")
    (d,) = _refused(path)
    assert d.message.endswith(": wrong type for parameter `num_classes` of model `M_01_ISFM`")
    assert d.found == "(the keys written here merged with the base config's, not shown)"


# -- 4. a guide key in the base config against the template's key in the experiment ------------------------------

RESNET = "model:\n  type: CNN\n  name: ResNet1D\n  num_classes: 5\n"


def test_the_base_config_s_guide_keys_against_the_experiment_s_keys_are_two_e222(tmp_path: Path) -> None:
    path = _project(tmp_path, RESNET + "  in_channels: 31337\n  depth: 50\n",
                    "base_configs:\n  model: base/m.yaml\nmodel:\n  input_dim: 2\n  block_type: basic\n")
    errors = _refused(path)
    assert [(d.code, d.pos and (d.pos.line, d.pos.col)) for d in errors] == [("E222", (4, 3)), ("E222", (5, 3))]
    assert errors[0].message == "`input_dim: 2` contradicts `in_channels` of base config `base/m.yaml`"
    assert errors[1].message == "`block_type: 'basic'` contradicts `depth` of base config `base/m.yaml`"
    assert not any(re.search(r"\b(31337|50)\b", _texts(d)) for d in errors)


def test_both_in_the_base_config_names_the_guide_key_at_its_entry(tmp_path: Path) -> None:
    path = _project(tmp_path, RESNET + "  in_channels: 31337\n  input_dim: 2\n",
                    "base_configs:\n  model: base/m.yaml\n")
    (d,) = _refused(path)
    assert d.code == "E222" and d.pos is not None and (d.pos.line, d.pos.col) == (2, 10)
    assert d.message == "the value of `in_channels` from the base config is a model-guide value that cannot be applied"
    assert "31337" not in _texts(d)
