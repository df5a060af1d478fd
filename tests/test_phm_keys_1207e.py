"""What is said of PHM-Vibench keys vibench does not read must be true of PHM-Vibench (QA against the reference,
12-07): `weight_path` was W102 "read by the PHM-Vibench factory", which reads only `weights_path` (nothing in
PHM-Vibench reads `weight_path`): W103 with "did you mean `weights_path`". TSPN's `device`, `in_dim` and `out_dim`
were W101 "ignored by the reference", which reads each and cannot be built without it (W112 asks a config for
`device`): W101 says the reference reads it, and its hint keeps it for PHM-Vibench."""

from __future__ import annotations

import textwrap
from pathlib import Path

import vibench

TSPN = """\
model:
  type: X_model
  name: TSPN
  device: cuda
  signal_processing_configs:
    layer1: [WF, I]
  feature_extractor_configs: [Mean, Std]
  skip_connection: true
  num_classes: 3
  in_dim: 1024
  out_dim: 1024
  in_channels: 2
  out_channels: 2
  scale: 2
  f_c_mu: 0
  f_c_sigma: 0.1
  f_b_mu: 0
  f_b_sigma: 0.1
"""


def _warnings(tmp_path: Path, text: str) -> dict[str, object]:
    path = tmp_path / "experiment.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    program = vibench.check(str(path))
    return {w.message.split("`")[1]: w for w in program.warnings}


def test_weight_path_is_an_unknown_key_that_looks_like_weights_path(tmp_path: Path) -> None:
    said = _warnings(tmp_path, "model:\n  type: CNN\n  name: ResNet1D\n  input_dim: 1\n  num_classes: 4\n"
                               "  weight_path: ckpt.pt\n")
    w = said["weight_path"]
    assert w.code == "W103" and w.hint == "did you mean `weights_path`?"


def test_a_key_tspn_reads_is_said_to_be_read_there(tmp_path: Path) -> None:
    said = _warnings(tmp_path, TSPN)
    for key in ("device", "in_dim", "out_dim"):
        w = said[key]
        assert w.code == "W101"
        assert w.message == f"`{key}` is read by the reference X_model/TSPN, not by vibench's model"
        assert "cannot be built without it: keep it" in w.hint


def test_a_key_the_reference_ignores_is_still_said_ignored(tmp_path: Path) -> None:
    said = _warnings(tmp_path, TSPN + "  hidden_dim: 8\n")
    assert said["hidden_dim"].message == ("`hidden_dim` does not change the outputs of the reference X_model/TSPN; "
                                          "vibench ignores it")


def test_the_same_words_for_a_vibench_spec_extending_tspn(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("vibench: 1\nextends: x_model/TSPN\nwith: {device: cpu}\n", encoding="utf-8")
    (w,) = [w for w in vibench.check(str(path)).warnings if w.code == "W101"]
    assert w.message == "`device` is read by the reference X_model/TSPN, not by vibench's model"
    assert w.hint is not None and "keep it where the config must also run in PHM-Vibench" in w.hint
