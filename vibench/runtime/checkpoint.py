"""Loading PHM-Vibench reference checkpoints into vibench models.

A library template states, under ``reference: state_dict_renames``, how the reference model's
``state_dict`` keys map onto its own (regular-expression rewrites applied in order); the emitted
model class carries them as ``REFERENCE_STATE_DICT_RENAMES``.

>>> import torch, vibench
>>> model = vibench.build(text='''
... vibench: 1
... name: Tiny
... reference: {model: CNN/Tiny, state_dict_renames: [["^classifier[.]", "head."]]}
... inputs: {x: {shape: [B, 3]}}
... nodes: {head: {block: linear, in: x, out_features: 2}}
... outputs: {y: head}
... ''')
>>> reference = {"classifier.weight": torch.zeros(2, 3), "classifier.bias": torch.ones(2)}
>>> load_reference_state_dict(model, reference)
>>> model.head.bias.tolist()
[1.0, 1.0]
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import torch


def convert_reference_state_dict(state_dict: Mapping[str, torch.Tensor],
                                 renames: Sequence[Sequence[str]]) -> dict[str, torch.Tensor]:
    """Rewrite reference keys with ``(pattern, replacement)`` pairs, applied in order to every key.

    Two keys may map to one only when they hold equal tensors: a module the reference registers
    under two names (TCN's ``conv1`` is also ``net.0``) is stored twice but loads once.
    """
    compiled = [(re.compile(pattern), replacement) for pattern, replacement in renames]
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        new = key
        for pattern, replacement in compiled:
            new = pattern.sub(replacement, new)
        if new in out and not (out[new].shape == value.shape and torch.equal(out[new], value)):
            raise ValueError(f"reference keys collide after renaming: two different tensors map to {new!r}")
        out[new] = value
    return out


def load_reference_state_dict(model: torch.nn.Module, state_dict: Mapping[str, torch.Tensor],
                              *, strict: bool = True) -> None:
    """Load a reference checkpoint into a vibench model (renamed with the model's declared map).

    With ``strict`` (the default) every key must match in name and shape; the error lists what is
    missing and unexpected after renaming.
    """
    renames = getattr(type(model), "REFERENCE_STATE_DICT_RENAMES", [])
    converted = convert_reference_state_dict(state_dict, renames)
    own = model.state_dict()
    if strict:
        missing = sorted(set(own) - set(converted))
        unexpected = sorted(set(converted) - set(own))
        mismatched = sorted(k for k in set(own) & set(converted) if own[k].shape != converted[k].shape)
        if missing or unexpected or mismatched:
            raise KeyError(
                "the reference checkpoint does not fit this model after renaming: "
                f"missing {missing[:8]}, unexpected {unexpected[:8]}, shape mismatch {mismatched[:8]}"
            )
    model.load_state_dict(converted, strict=strict)
