"""Runtime defects found by QA (round 1206h).

* ISFM system ids: ``{"1": 4, "01": 6}`` compiled two heads for system 1 (the second won in torch.where, the
  first was never used; ``heads.01.*`` is no reference key), ``"1_0"`` read as system 10, and an id beyond
  int64 compiled and made every forward raise OverflowError. Now E112 at the user's value.
* gMLP and AttentionCNN branched on the grad mode, so ``torch.jit.trace``'s check (a rerun in another mode)
  failed with "Graphs differed across invocations".
* M_01_ISFM with per-system heads could not run on the meta device (it read the ids' values).
* A class below the model's wrote a free parameter's size as its compiled value (``[B, 3]`` in
  ``Classifier(num_classes)``).
* TSPN took ``f_b_sigma: 0`` with ``f_b_mu: 0``: every WF filter at bandwidth 0, every output NaN.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import torch

import vibench
from tests.helpers import ROOT

LIBRARY = os.path.join(ROOT, "vibench", "specs")
M_01 = os.path.join(LIBRARY, "isfm", "M_01_ISFM.yaml")


def _user(tmp_path: Path, extends: str, settings: str) -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text(f"vibench: 1\nextends: {extends}\nwith:\n{settings}", encoding="utf-8")
    return path


def _error(path: Path | None = None, text: str | None = None) -> Any:
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(str(path)) if path is not None else vibench.check(text=text)
    (diag,) = info.value.diagnostics
    return diag


# -- ISFM system ids ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "system"), [("01", 1), ("+1", 1), (" 1", 1), ("1_0", 10), ("-0", 0)])
def test_a_system_id_not_written_as_a_plain_integer_is_refused_at_the_users_value(
        tmp_path: Path, key: str, system: int) -> None:
    path = _user(tmp_path, "isfm/M_01_ISFM", f'  num_classes: {{"1": 4, "{key}": 6}}\n')
    diag = _error(path)
    assert diag.code == "E112" and (diag.pos.file, diag.pos.line) == (str(path), 4)
    assert f"{key!r} reads as system {system}; write {system}" in diag.expected


@pytest.mark.parametrize("settings", [
    '  task_head: H_02_distance_cla\n  num_classes: {"1": 4, "01": 3}\n',  # H_02's prototypes
    '  embedding: E_02_HSE_v2\n  num_classes: {"1": 4}\n  num_channels: {"1": 2, "01": 2}\n',  # E_02's mixers
], ids=["H_02 prototypes", "E_02 channel mixers"])
def test_every_per_system_parameter_refuses_such_ids(tmp_path: Path, settings: str) -> None:
    diag = _error(_user(tmp_path, "isfm/M_01_ISFM", settings))
    assert diag.code == "E112" and "'01' reads as system 1" in diag.expected


def test_an_int_and_a_text_key_of_one_system_are_refused() -> None:
    """YAML gives ``{1: 3, "1": 5}`` an int and a string key: as text, one replaced the other."""
    text = ("vibench: 1\nname: Heads\ninputs: {x: {shape: [B, 8]}, sid: {shape: [B], dtype: int64}}\n"
            'nodes:\n  h: {block: isfm_system_classifier, in: {x: x, system_id: sid}, num_classes: {1: 3, "1": 5}}\n'
            "outputs: {y: h}\n")
    diag = _error(text=text)
    assert diag.code == "E112" and diag.pos.line == 5
    assert "the keys 1 and '1' both name system 1" in diag.expected


def test_a_system_id_beyond_the_integer_bound_is_refused(tmp_path: Path) -> None:
    """It compiled, then every forward raised OverflowError comparing system_id with int(key)."""
    path = _user(tmp_path, "isfm/M_01_ISFM", '  num_classes: {"99999999999999999999": 3, "2": 5}\n')
    diag = _error(path)
    assert diag.code == "E112" and diag.pos.line == 4
    assert "from -2**62 to 2**62" in diag.expected
    vibench.check(str(_user(tmp_path, "isfm/M_01_ISFM", f'  num_classes: {{"{-(2**62)}": 3, "{2**62}": 5}}\n')))


@pytest.mark.parametrize("num_classes", [{"1": 4}, {"1": 4, "2": 6}], ids=["one head", "two heads"])
def test_routed_heads_run_on_the_meta_device(num_classes: dict[str, int]) -> None:
    """The one-head path read ``system_id.tolist()``, the routed one ``bool(routed.all())``."""
    model = vibench.build(M_01, num_classes=num_classes, eval_sampling="seeded")
    with torch.device("meta"):
        meta = type(model)().eval()  # the class's defaults are the compiled values
        meta.check_inputs = False
        out = meta(torch.randn(3, 256, 1), torch.full((3,), 1000.0), torch.tensor([1, 1, 1]))
    assert out.device.type == "meta" and tuple(out.shape) == (3, max(num_classes.values()))


# -- trace ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "shape"), [("mlp/gMLP", (2, 512, 1)), ("cnn/AttentionCNN", (2, 128, 1))])
def test_a_trace_passes_its_check_and_keeps_the_gradients(spec: str, shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    model = vibench.build(os.path.join(LIBRARY, spec + ".yaml")).eval()
    x = torch.randn(*shape)
    traced = torch.jit.trace(model, x)  # check_trace reruns it: "Graphs differed across invocations"
    eager = model(x)
    eager.square().sum().backward()
    expected = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad()
    out = traced(x)
    torch.testing.assert_close(out, eager)
    out.square().sum().backward()
    for name, p in model.named_parameters():
        torch.testing.assert_close(p.grad, expected[name], msg=name)
    with torch.no_grad():
        torch.testing.assert_close(traced(x), eager.detach())


# -- shape comments of the classes below the model's ---------------------------------------------------------


def _class_source(source: str, name: str) -> str:
    start = source.index(f"\nclass {name}(")
    end = source.find("\nclass ", start + 1)
    return source[start:end]


@pytest.mark.parametrize(("spec", "params", "compiled"), [("rnn/AttentionGRU", {"num_classes": 3}, 3),
                                                     ("x_model/TSPN", {}, 9)])
def test_a_class_names_the_sizes_its_free_argument_sets(spec: str, params: dict[str, Any], compiled: int) -> None:
    """`Classifier(num_classes)` wrote `x = self.fc2(x)  # [B, 3]`: the size of the value compiled."""
    source = vibench.compile_spec(os.path.join(LIBRARY, spec + ".yaml"), params=params).source
    classifier = _class_source(source, "Classifier")
    assert "def __init__(self, num_classes: int)" in classifier
    assert "x = self.fc2(x)  # [B, num_classes]  " in classifier
    assert f"[B, {compiled}]" not in classifier


def test_a_class_of_several_uses_names_the_size_its_free_argument_sets() -> None:
    """Two uses of one class, each given the model's free `num_classes`: the size is the same number in both,
    which the comment wrote; it is the class's argument `n` in every use."""
    text = """vibench: 1
name: Two
params: {num_classes: {type: int, default: 3, ge: 1}}
blocks:
  Head:
    params: {n: {type: int}}
    inputs: {x: {shape: [B, 8]}}
    nodes: {act: {block: relu, in: x}, fc: {block: linear, in: act, out_features: n}}
    outputs: {y: fc}
inputs: {x: {shape: [B, 8]}}
nodes:
  a: {block: Head, in: x, n: num_classes}
  b: {block: Head, in: x, n: num_classes}
outputs: {ya: a, yb: b}
"""
    source = vibench.compile_spec(text=text).source
    head = _class_source(source, "Head")
    assert "def __init__(self, num_classes: int = 3, **fixed: object)" in source
    assert "x = self.fc(x)  # [B, n]  " in head
    assert "[B, 3]" not in head


# -- TSPN's bandwidth -----------------------------------------------------------------------------------------


def test_tspn_refuses_a_zero_bandwidth_at_the_users_setting(tmp_path: Path) -> None:
    path = _user(tmp_path, "x_model/TSPN", "  f_b_sigma: 0\n  f_c_sigma: 0\n")
    diag = _error(path)
    assert diag.code == "E215" and (diag.pos.file, diag.pos.line) == (str(path), 4)
    assert "give f_b_sigma > 0 (the default is 0.1) or a nonzero f_b_mu" in diag.message


def test_tspn_takes_a_zero_sigma_with_a_nonzero_mean_or_without_wf_filters(tmp_path: Path) -> None:
    vibench.check(str(_user(tmp_path, "x_model/TSPN", "  f_b_sigma: 0\n  f_b_mu: 0.05\n")))
    no_filters = '  f_b_sigma: 0\n  signal_processing_configs: {a: [LNO, HT, I, I]}\n'
    vibench.check(str(_user(tmp_path, "x_model/TSPN", no_filters)))


def test_tspn_keeps_num_classes_free() -> None:
    """The check reads f_b_mu and f_b_sigma only: the class still takes another class count."""
    source = vibench.compile_spec(os.path.join(LIBRARY, "x_model", "TSPN.yaml")).source
    assert "def __init__(self, num_classes: int = 9, **fixed: object) -> None:" in source
