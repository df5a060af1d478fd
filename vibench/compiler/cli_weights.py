"""``vibench-compile --weights CKPT`` (see :mod:`vibench.compiler.cli`): the checks of ``--weights``,
``--weights-prefix`` and ``--trust-checkpoint``, the checkpoint read before compiling, and
``model.pt``, the checkpoint renamed to the model's keys (or why it does not fit).

A command line that cannot work is a :class:`~vibench.compiler.cli_args.UsageError` (exit code 2):
the two options without ``--weights``, a CKPT that is no regular file, a ``model.pt`` that would
replace the checkpoint or cannot be written, a file torch cannot read. A checkpoint that does not fit
the model is a message (exit code 1).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from vibench.compiler.cli_args import UsageError, _clip
from vibench.compiler.cli_streams import heed_signal
from vibench.compiler.display import clip_path
from vibench.compiler.outputs import OutputError, broken_link, output_target
from vibench.compiler.rename_rules import DEFAULT_PREFIX

MAX_MESSAGE_CHARS = 4000
"""The most characters of a checkpoint's message the command prints (a key may be 200,000 long)."""


def weights_target(ns: argparse.Namespace) -> str | None:
    """Where --weights writes: the -o file's name with .pt (model.py -> model.pt); None without --weights."""
    if ns.weights is None:
        given = [flag for flag, on in (("--weights-prefix", ns.weights_prefix is not None),
                                       ("--trust-checkpoint", ns.trust_checkpoint)) if on]
        if given:  # `--weights-prefix model.` alone was ignored, silently
            raise UsageError(f"{' and '.join(given)} {'apply' if len(given) > 1 else 'applies'} to the checkpoint "
                             f"--weights reads; give --weights CKPT, or drop {'them' if len(given) > 1 else 'it'}")
        return None
    if ns.check or ns.output in (None, "-"):
        raise UsageError("--weights needs -o FILE (the state_dict is written beside it, as FILE's name with .pt)")
    problem = checkpoint_problem(ns.weights)
    if problem:
        raise UsageError(f"--weights {clip_path(ns.weights)}{problem}")
    target = os.path.splitext(ns.output)[0] + ".pt"
    if os.path.realpath(target) == os.path.realpath(ns.output):
        if os.path.splitext(ns.output)[1] == ".pt":
            raise UsageError("-o names a .pt file; the weights would overwrite it (name the model file model.py)")
        weights, model = f"the weights file {clip_path(target)}", f"-o {clip_path(ns.output)}"
        linked = [os.path.islink(target), os.path.islink(ns.output)]  # which name is the link (or both are)
        said = (f"{weights} (beside {model}) is a link to {model} itself; remove the link or" if linked == [True, False]
                else f"{model} is a link to {weights} beside it; remove the link or" if linked == [False, True]
                else f"{model} and {weights} beside it name one file, {clip_path(os.path.realpath(target))}:")
        raise UsageError(f"{said} choose another -o name")
    if _same_file(target, ns.weights):
        raise UsageError(f"-o {clip_path(ns.output)} would write {clip_path(target)}, which is the checkpoint "
                         "--weights reads; choose another -o name")
    return target


def checkpoint_problem(path: str) -> str:
    """Why ``path`` is no checkpoint file to read, as the end of a message naming it ('' when it is a
    regular file, or a link to one)."""
    if os.path.isfile(path):
        return ""
    if os.path.isdir(path):
        return " is a folder, not a checkpoint file"
    if os.path.exists(path):
        return " is not a regular file (a device, FIFO or socket), not a checkpoint file"
    link = broken_link(path)
    return f" {link}" if link else ": no such file"


def weights_output(ns: argparse.Namespace, target: str) -> tuple[str, str]:
    """How messages name model.pt (after the -o that places it) and the file it writes, or a usage error
    naming -o when it cannot be written there (a folder named model.pt)."""
    try:
        real = output_target(target, "the weights file")
    except OutputError as err:
        raise UsageError(f"cannot write the weights beside -o {clip_path(ns.output)}: {err} (choose another -o name)") \
            from None
    return f"the weights file {clip_path(target)} (beside -o {clip_path(ns.output)})", real


def read_checkpoint_arg(ns: argparse.Namespace) -> Any:
    """The --weights file read before compiling: one that cannot be read is a usage error, as a bad
    --metadata file is (torch's own warnings about the file are not shown)."""
    import warnings

    try:
        from vibench.runtime.checkpoint import ReferenceCheckpointError, read_checkpoint

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return read_checkpoint(ns.weights, weights_only=not ns.trust_checkpoint)
        except ReferenceCheckpointError as err:
            raise UsageError(f"--weights {clip_path(ns.weights)}: {_clip(str(err), 700)}") from None
    finally:  # torch's import (the first line), in C, swallows what SIGINT's or SIGTERM's handler raised in it
        heed_signal()


def reference_weights(program: Any, ns: argparse.Namespace, checkpoint: Any) -> bytes | str:
    """The model's state_dict with the checkpoint loaded (torch.save bytes), or why it does not fit
    (the message to print, naming --weights)."""
    import io

    import torch

    from vibench.runtime.build import build_program
    from vibench.runtime.checkpoint import ReferenceCheckpointError, load_reference_state_dict

    model = build_program(program)
    prefix = DEFAULT_PREFIX if ns.weights_prefix is None else ns.weights_prefix or None
    try:
        load_reference_state_dict(model, checkpoint, strict=True, prefix=prefix, weights_only=not ns.trust_checkpoint)
    except ReferenceCheckpointError as err:
        message = f"--weights {clip_path(ns.weights)}: {_clip(str(err), MAX_MESSAGE_CHARS)}"
        return message + _metadata_note(ns, message)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getvalue()


def _metadata_note(ns: argparse.Namespace, message: str) -> str:
    """When the message says which num_classes to write and --metadata set it: says so (the config may
    already say what the message asks for: the table replaced it)."""
    if ns.metadata is None or "write num_classes:" not in message:
        return ""
    if any(item.partition("=")[0].strip() == "num_classes" for item in ns.sets):  # --set wins over the table
        return ""
    return (f". Here num_classes comes from the --metadata table {clip_path(ns.metadata)} (max(Label) + 1 per "
            "Dataset_id), which replaces the config's: correct the table, or leave out --metadata")


def _same_file(one: str, other: str) -> bool:
    """Whether two paths name one file (a symlink or a hard link included)."""
    if os.path.realpath(one) == os.path.realpath(other):
        return True
    try:
        return os.path.samefile(one, other)
    except OSError:
        return False
