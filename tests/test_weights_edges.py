"""`vibench-compile --weights` at its edges: damaged, truncated and unsafe checkpoints told apart,
messages bounded and kept to their line whatever the keys hold, the options that need --weights,
CKPT paths that are no regular file, model.pt in conflict with what -o or the checkpoint names,
a key prefix that matches nothing, --metadata behind a num_classes hint, and `heads` read as a
system id. Each case is a defect a QA probe of the command line found; every failure writes nothing."""

from __future__ import annotations

import argparse
import io
import json
import os
import zipfile
from pathlib import Path

import pytest
import torch

import vibench
from tests.helpers import TINY_REFERENCE_SPEC
from vibench.compiler.cli import EXIT_OK, EXIT_SPEC, EXIT_USAGE, main
from vibench.runtime.checkpoint import (
    ReferenceCheckpointError,
    head_mismatch,
    load_reference_state_dict,
    read_checkpoint,
)

TINY = TINY_REFERENCE_SPEC

EXPERIMENT = """\
model:
  type: ISFM
  name: M_01_ISFM
  embedding: E_01_HSE
  backbone: B_04_Dlinear
  task_head: H_01_Linear_cla
  output_dim: 16
  num_patches: 4
  patch_size_L: 8
  patch_size_C: 1
  num_classes: {1: 5}
"""


def good_weights() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return {"network.classifier.weight": torch.randn(2, 3), "network.classifier.bias": torch.randn(2)}


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    (tmp_path / "tiny.yaml").write_text(TINY)
    return tmp_path / "tiny.yaml"


def compile_with(spec: Path, checkpoint: Path | str, *extra: str) -> int:
    return main([str(spec), "-o", str(spec.parent / "m.py"), "--weights", str(checkpoint), *extra])


def nothing_written(folder: Path) -> bool:
    return not (folder / "m.py").exists() and not (folder / "m.pt").exists() and \
        not any(p.name.startswith(".vibench-") for p in folder.iterdir())


def rewritten_pickle(path: Path, old: bytes, new: bytes) -> None:
    """A torch.save zip archive whose pickle has ``old`` replaced by ``new`` (the archive rebuilt)."""
    with zipfile.ZipFile(path) as archive:
        entries = {info.filename: archive.read(info) for info in archive.infolist()}
    name = next(n for n in entries if n.endswith("/data.pkl"))
    assert old in entries[name]
    entries[name] = entries[name].replace(old, new)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for entry, data in entries.items():
            archive.writestr(entry, data)


# -- 1. damage is not a refusal -------------------------------------------------------------------


def test_a_damaged_checkpoint_is_named_damaged_never_worth_trusting(spec: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    # torch puts "weights_only" in every unpickling error: 60 overwritten bytes read as "holds objects
    # besides tensors ... --trust-checkpoint", advice to unpickle a damaged file without safeguards.
    torch.save(good_weights(), spec.parent / "good.pt")
    data = bytearray((spec.parent / "good.pt").read_bytes())
    data[200:260] = b"\xff" * 60
    (spec.parent / "corrupt.pt").write_bytes(bytes(data))
    assert compile_with(spec, spec.parent / "corrupt.pt") == EXIT_USAGE
    err = capsys.readouterr().err
    assert "damaged" in err and "trust" not in err and "objects besides tensors" not in err
    assert nothing_written(spec.parent)


@pytest.mark.parametrize(("value", "refused"), [(argparse.Namespace(lr=1e-3), "GLOBAL argparse.Namespace"),
                                                (print, "GLOBAL print")])
def test_a_refused_object_is_named_with_the_trust_advice(tmp_path: Path, value: object, refused: str) -> None:
    torch.save({"state_dict": good_weights(), "hyper_parameters": value}, tmp_path / "last.ckpt")
    with pytest.raises(ReferenceCheckpointError) as caught:
        read_checkpoint(tmp_path / "last.ckpt")
    assert "holds objects besides tensors" in str(caught.value) and "--trust-checkpoint" in str(caught.value)
    assert f"refused {refused}" in str(caught.value)


def test_what_torch_refused_is_clipped_and_escaped(tmp_path: Path) -> None:
    torch.save({"hp": argparse.Namespace()}, tmp_path / "long.ckpt")
    rewritten_pickle(tmp_path / "long.ckpt", b"argparse\nNamespace\n", b"argparse\nN" + b"s" * 5000 + b"\n")
    with pytest.raises(ReferenceCheckpointError, match="--trust-checkpoint") as caught:
        read_checkpoint(tmp_path / "long.ckpt")
    assert len(str(caught.value)) < 600
    # A "global" whose name holds a control character is no Python name: damage, shown escaped.
    torch.save({"hp": argparse.Namespace()}, tmp_path / "odd.ckpt")
    rewritten_pickle(tmp_path / "odd.ckpt", b"argparse\nNamespace\n", b"argparse\x1b[2J\nNamespace\n")
    with pytest.raises(ReferenceCheckpointError, match="damaged") as caught:
        read_checkpoint(tmp_path / "odd.ckpt")
    assert "\x1b" not in str(caught.value) and "trust" not in str(caught.value)


# -- 2. an empty reason ---------------------------------------------------------------------------


@pytest.mark.parametrize("weights_only", [True, False])
def test_a_truncated_legacy_checkpoint_says_it_ends_early(tmp_path: Path, weights_only: bool) -> None:
    # torch raised EOFError(): "cannot read the checkpoint legacy_trunc.pt: " and nothing after it.
    torch.save(good_weights(), tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    data = (tmp_path / "legacy.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ReferenceCheckpointError, match=r"the file ends early \(truncated\?\)$"):
        read_checkpoint(tmp_path / "cut.pt", weights_only=weights_only)


@pytest.mark.parametrize("legacy", [False, True])
@pytest.mark.parametrize("keep", [0.5, -30, -1, -5])  # a fraction of the file, or all but that many bytes
def test_a_checkpoint_cut_anywhere_says_it_ends_early(tmp_path: Path, legacy: bool, keep: float) -> None:
    # A zip cut short said "damaged or not a PyTorch checkpoint (... failed finding central directory)", a
    # legacy file cut 5 bytes short "(... unexpected EOF ...)".
    torch.save(good_weights(), tmp_path / "whole.pt", _use_new_zipfile_serialization=not legacy)
    data = (tmp_path / "whole.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: int(len(data) * keep)] if keep > 0 else data[: int(keep)])
    with pytest.raises(ReferenceCheckpointError, match=r"the file ends early \(truncated\?\)$"):
        read_checkpoint(tmp_path / "cut.pt")


def test_a_truncated_checkpoint_on_the_command_line(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch.save(good_weights(), spec.parent / "legacy.pt", _use_new_zipfile_serialization=False)
    data = (spec.parent / "legacy.pt").read_bytes()
    (spec.parent / "cut.pt").write_bytes(data[: len(data) // 2])
    assert compile_with(spec, spec.parent / "cut.pt") == EXIT_USAGE
    assert "ends early" in capsys.readouterr().err and nothing_written(spec.parent)


# -- 3. and 4. keys in messages: bounded, escaped ---------------------------------------------------


@pytest.mark.parametrize("value", [torch.zeros(1), 1])  # an unexpected key; an entry that is no tensor
def test_a_huge_key_gives_a_bounded_message(spec: Path, capsys: pytest.CaptureFixture[str], value: object) -> None:
    weights: dict[str, object] = {**good_weights(), "network." + "k" * 200_000: value}
    torch.save(weights, spec.parent / "long.pt")
    assert compile_with(spec, spec.parent / "long.pt") == EXIT_SPEC
    err = capsys.readouterr().err
    assert len(err) < 2_000 and "200,008 characters" in err  # over 1,024: refused as it is in the file, prefix and all
    assert nothing_written(spec.parent)


def test_many_huge_keys_give_a_bounded_library_message() -> None:
    model = vibench.build(text=TINY)
    weights = {**good_weights(), **{f"network.{i}" + "k" * 10_000: torch.zeros(1) for i in range(50)}}
    with pytest.raises(ReferenceCheckpointError) as caught:
        load_reference_state_dict(model, weights)
    assert len(str(caught.value)) < 2_000 and "(42 more)" in str(caught.value)


def test_a_line_break_in_a_key_stays_in_its_line(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The key "x\nvibench-compile: wrote m.py and m.pt" printed a success line of its own.
    weights = {**good_weights(), "network.x\nvibench-compile: wrote m.py and m.pt": torch.ones(1),
               "network.y\x1b[2J": torch.ones(1)}
    torch.save(weights, spec.parent / "nl.pt")
    assert compile_with(spec, spec.parent / "nl.pt") == EXIT_SPEC
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "'x\\nvibench-compile: wrote m.py and m.pt'" in err
    assert "\x1b" not in err and nothing_written(spec.parent)


def test_renamed_keys_that_collide_are_shown_escaped() -> None:
    model = vibench.build(text=TINY)
    with pytest.raises(ReferenceCheckpointError) as caught:
        load_reference_state_dict(model, {"classifier.x\n": torch.zeros(1), "head.x\n": torch.ones(1)})
    assert "'head.x\\n'" in str(caught.value) and "\n" not in str(caught.value)


# -- 5. options that need --weights -----------------------------------------------------------------


@pytest.mark.parametrize("extra", [["--weights-prefix", "model."], ["--trust-checkpoint"],
                                   ["--weights-prefix", "", "--trust-checkpoint"]])
@pytest.mark.parametrize("mode", [["-o", "OUT"], ["--check"]])
def test_weights_options_without_weights_are_usage_errors(spec: Path, capsys: pytest.CaptureFixture[str],
                                                          extra: list[str], mode: list[str]) -> None:
    argv = [str(spec), *(str(spec.parent / "m.py") if a == "OUT" else a for a in mode), *extra]
    assert main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "give --weights CKPT" in err and extra[0] in err
    assert nothing_written(spec.parent)


def test_an_empty_prefix_with_weights_still_takes_keys_as_they_are(spec: Path) -> None:
    torch.save({"classifier.weight": torch.zeros(2, 3), "classifier.bias": torch.ones(2)}, spec.parent / "plain.pt")
    assert compile_with(spec, spec.parent / "plain.pt", "--weights-prefix", "") == EXIT_OK
    assert torch.load(spec.parent / "m.pt")["head.bias"].tolist() == [1.0, 1.0]


# -- 6. CKPT that is no regular file --------------------------------------------------------------


def test_a_checkpoint_path_that_is_no_file_says_what_it_is(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # All four said "no such file".
    folder = spec.parent
    os.mkfifo(folder / "fifo")
    (folder / "dangling.pt").symlink_to(folder / "nowhere.pt")
    (folder / "l1").symlink_to(folder / "l2")
    (folder / "l2").symlink_to(folder / "l1")
    for path, said in (("/dev/null", "is not a regular file"), (folder / "fifo", "is not a regular file"),
                       (folder / "dangling.pt", "is a dangling symbolic link"),
                       (folder / "l1", "is a symbolic link that leads round in a loop"),
                       (folder / "absent.pt", ": no such file")):
        assert compile_with(spec, path) == EXIT_USAGE
        err = capsys.readouterr().err
        assert said in err, (path, err)
        assert nothing_written(folder)


# -- 7. model.pt against -o and --weights --------------------------------------------------------------


def test_model_pt_over_the_checkpoint_names_the_conflict(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch.save(good_weights(), spec.parent / "model.pt")
    before = (spec.parent / "model.pt").read_bytes()
    assert main([str(spec), "-o", str(spec.parent / "model.py"), "--weights", str(spec.parent / "model.pt")]) \
        == EXIT_USAGE
    err = capsys.readouterr().err
    assert "which is the checkpoint --weights reads; choose another -o name" in err
    assert "-o " in err and "the spec" not in err
    assert (spec.parent / "model.pt").read_bytes() == before and not (spec.parent / "model.py").exists()
    os.link(spec.parent / "model.pt", spec.parent / "hard.pt")  # the same file under another name
    assert main([str(spec), "-o", str(spec.parent / "model.py"), "--weights", str(spec.parent / "hard.pt")]) \
        == EXIT_USAGE
    assert "which is the checkpoint --weights reads" in capsys.readouterr().err


def test_a_folder_where_model_pt_goes_names_the_o_option(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # "--weights out/model.pt is not a regular file": a path the user never gave to --weights.
    torch.save(good_weights(), spec.parent / "good.pt")
    (spec.parent / "out" / "model.pt").mkdir(parents=True)
    out = spec.parent / "out" / "model.py"
    assert main([str(spec), "-o", str(out), "--weights", str(spec.parent / "good.pt")]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"beside -o {out}" in err and f"--weights {spec.parent / 'out'}" not in err
    assert not out.exists()


def test_an_output_over_the_checkpoint_names_the_checkpoint(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch.save(good_weights(), spec.parent / "ck.dot")  # a checkpoint by any name
    argv = [str(spec), "-o", str(spec.parent / "m.py"), "--graph", str(spec.parent / "ck.dot"),
            "--weights", str(spec.parent / "ck.dot")]
    assert main(argv) == EXIT_USAGE
    assert "is a file this compile reads (the checkpoint --weights reads)" in capsys.readouterr().err
    assert nothing_written(spec.parent)


# -- 8. a prefix that matches nothing ---------------------------------------------------------------


@pytest.mark.parametrize("prefix", [[], ["--weights-prefix", "zzz."]])
def test_a_prefix_that_matches_nothing_suggests_the_one_the_keys_have(
        spec: Path, capsys: pytest.CaptureFixture[str], prefix: list[str]) -> None:
    weights = {"model." + k.removeprefix("network."): v for k, v in good_weights().items()}
    torch.save({"state_dict": {**weights, "loss.pos_weight": torch.ones(1)}}, spec.parent / "lit.ckpt")
    assert compile_with(spec, spec.parent / "lit.ckpt", *prefix) == EXIT_SPEC
    err = capsys.readouterr().err
    given = prefix[1] if prefix else "network."
    assert f"No key starts with the prefix '{given}'" in err
    assert "the keys start with 'model.' (2 of 3): try prefix='model.' (--weights-prefix model.)" in err
    assert compile_with(spec, spec.parent / "lit.ckpt", "--weights-prefix", "model.") == EXIT_OK


def test_a_prefix_that_matches_nothing_is_named_even_without_a_better_one(spec: Path) -> None:
    model = vibench.build(text=TINY)
    with pytest.raises(ReferenceCheckpointError, match="No key starts with the prefix 'zzz.'"):
        load_reference_state_dict(model, {"other.weight": torch.zeros(2, 3)}, prefix="zzz.")
    with pytest.raises(ReferenceCheckpointError) as caught:  # the default: a plain state_dict has no prefix
        load_reference_state_dict(model, {"other.weight": torch.zeros(2, 3)})
    assert "prefix" not in str(caught.value)


# -- 9. --metadata behind a num_classes hint ---------------------------------------------------------


def experiment(tmp_path: Path) -> Path:
    """The experiment config and a Lightning checkpoint of its model (5 classes for system 1)."""
    (tmp_path / "cfg.yaml").write_text(EXPERIMENT)
    weights = {k.replace("mutiple_fc.heads.", "mutiple_fc."): v
               for k, v in vibench.build(str(tmp_path / "cfg.yaml")).state_dict().items()}
    torch.save({"state_dict": {"network." + k: v for k, v in weights.items()}}, tmp_path / "ck.ckpt")
    (tmp_path / "md.csv").write_text("Id,Dataset_id,Label\n1,1,0\n2,1,3\n")  # 4 classes
    return tmp_path / "cfg.yaml"


def test_a_num_classes_the_metadata_table_set_is_explained(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    # The config says {1: 5}; the table replaced it with {1: 4}; the error said "write num_classes:
    # {1: 5}" and the I103 note that tells why was never printed.
    config = experiment(tmp_path)
    argv = [str(config), "-o", str(tmp_path / "m.py"), "--weights", str(tmp_path / "ck.ckpt"),
            "--metadata", str(tmp_path / "md.csv")]
    assert main(argv) == EXIT_SPEC
    err = capsys.readouterr().err
    assert "note[I103]" in err and err.index("note[I103]") < err.index("--weights")
    assert "write num_classes: {1: 5}. Here num_classes comes from the --metadata table" in err
    assert nothing_written(tmp_path)
    assert main([*argv, "--format", "json"]) == EXIT_SPEC
    report = json.loads(capsys.readouterr().out)
    assert [d["code"] for d in report["diagnostics"]] == ["I103"] and "--metadata table" in report["weights"]
    assert main([*argv, "--set", "num_classes={1: 5}"]) == EXIT_OK  # --set wins over the table


# -- 10. `heads` is no system id ---------------------------------------------------------------------


def test_a_word_in_a_key_is_no_system_id() -> None:
    # vibench's own model.pt given back: "per-system heads heads: write num_classes: {heads: 5}".
    own = {"task_head.mutiple_fc.heads.1.weight": torch.zeros(5, 16)}
    doubled = {"task_head.mutiple_fc.heads.heads.1.weight": torch.zeros(5, 16)}
    assert head_mismatch(own, doubled) == ""
    named = {"head.heads.CWRU.weight": torch.zeros(3, 16)}  # an id of the model's own is one
    assert head_mismatch(named, {"head.heads.CWRU.weight": torch.zeros(5, 16)}) == \
        "The checkpoint has per-system heads CWRU: write num_classes: {CWRU: 5}"
    assert head_mismatch(own, {"task_head.mutiple_fc.heads.2.weight": torch.zeros(7, 16)}).endswith("{2: 7}")


def test_vibench_s_own_model_pt_gets_no_nonsense_hint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "cfg.yaml").write_text(EXPERIMENT)
    buffer = io.BytesIO()
    torch.save(vibench.build(str(tmp_path / "cfg.yaml")).state_dict(), buffer)
    (tmp_path / "b.pt").write_bytes(buffer.getvalue())
    main([str(tmp_path / "cfg.yaml"), "-o", str(tmp_path / "c.py"), "--weights", str(tmp_path / "b.pt")])
    err = capsys.readouterr().err
    assert "heads heads" not in err and "{heads:" not in err


def test_heads_of_a_part_the_model_does_not_build_get_no_num_classes_hint() -> None:
    # H_09 under M_01 with task_id: prediction builds no classification head; the checkpoint of the full model has
    # one per system. The hint said "write num_classes: {1: 5}", which the user had written (parity QA pass).
    # (the keys of M_01 + H_09 built with num_classes {"1": 5}, task_id prediction / num_classes 5)
    own = {"task_head.task_heads.prediction.fc1.weight": torch.zeros(8, 16)}
    checkpoint = {**own, "task_head.task_heads.classification.mutiple_fc.heads.1.weight": torch.zeros(5, 16)}
    hint = head_mismatch(own, checkpoint)
    assert "write num_classes" not in hint
    assert hint.startswith("The checkpoint has per-system heads 1 under ") and "does not build" in hint
    shared = {**own, "task_head.task_heads.classification.shared_fc.weight": torch.zeros(5, 16)}  # the int form
    assert head_mismatch(shared, checkpoint).endswith("write num_classes: {1: 5}")
    assert head_mismatch({"shared_fc.weight": torch.zeros(5, 16)},  # H_01 alone: its heads at the top
                         {"mutiple_fc.heads.1.weight": torch.zeros(5, 16)}).endswith("write num_classes: {1: 5}")
