"""Loading PHM-Vibench reference checkpoints into vibench models.

A library template states, under ``reference: state_dict_renames``, how the reference model's
``state_dict`` keys map onto its own (regular-expression rewrites applied in order); the emitted
model class carries them as ``REFERENCE_STATE_DICT_RENAMES``.

Loading is all-or-nothing: the checkpoint is checked in full (names, tensor values, shapes, kinds
of dtype) before one value is copied, and a checkpoint that does not fit raises
:class:`ReferenceCheckpointError` with the model untouched.

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
LoadResult(missing_keys=[], unexpected_keys=[])
>>> model.head.bias.tolist()
[1.0, 1.0]
>>> load_reference_state_dict(model, {"classifier.bias": torch.zeros(2), "step": torch.tensor(7)}, strict=False)
LoadResult(missing_keys=['head.weight'], unexpected_keys=['step'])
>>> model.head.bias.tolist()
[0.0, 0.0]
"""

from __future__ import annotations

import os
import re
import stat
import sys
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import torch

# The most characters of a checkpoint key that is renamed; a longer one is refused before any rename runs on
# it. A rule's time grows with the key's length (a spec's `.*` from every character of it), and
# `reference.state_dict_renames` is checked for keys up to this long (one constant for both sides, in
# rename_rules, which imports no torch); the library's models' longest key has 84 characters (TSPN's
# `signal_processing_layers.1.signal_processing_modules.operators.LNO_1.weights_residue`).
from vibench.compiler.rename_rules import DEFAULT_PREFIX
from vibench.compiler.rename_rules import MAX_KEY as MAX_KEY_LENGTH
from vibench.runtime.checkpoint_messages import EXPANDED_HINT, _bounded, _count, _key, _keys, _listing, head_mismatch
from vibench.runtime.checkpoint_pickle import nesting_problem, saved_protocol, unreadable
from vibench.runtime.checkpoint_zip import shown as _shown
from vibench.runtime.checkpoint_zip import zip_problem


class ReferenceCheckpointError(KeyError, ValueError):
    """A reference checkpoint that does not fit the model; nothing of it was loaded.

    A ``KeyError`` (what a strict key mismatch raised before) and a ``ValueError`` (what colliding
    renamed keys raised) at once, so callers of either keep working.
    """

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class LoadResult(NamedTuple):
    """What :func:`load_reference_state_dict` left aside (keys after renaming, sorted)."""

    missing_keys: list[str]
    """Model keys the checkpoint has no value for (kept at their current values)."""
    unexpected_keys: list[str]
    """Checkpoint keys the model has no tensor for (ignored)."""


def convert_reference_state_dict(state_dict: Mapping[str, torch.Tensor], renames: Sequence[Sequence[str]],
                                 own: Mapping[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """Rewrite reference keys with ``(pattern, replacement)`` pairs, applied in order to every key.

    Two keys may map to one only when they hold one tensor: a module the reference registers under two
    names (TCN's ``conv1`` is also ``net.0``) is stored twice but loads once (see :func:`_same_tensor`).
    With ``own`` (the model's ``state_dict``), the values of a key the model lacks, or whose shape is not the
    model's, are not compared (the caller reports it): no comparison walks more elements than the model has.
    """
    compiled = [(re.compile(pattern), replacement) for pattern, replacement in renames]
    given, own = own is not None, {} if own is None else own
    out: dict[str, torch.Tensor] = {}
    sources: dict[str, str] = {}
    for key, value in _checked(state_dict).items():
        new = key
        for pattern, replacement in compiled:
            new = pattern.sub(replacement, new)
        # reported by the caller: a shape not the model's, or a key the model lacks (never compared: a file of K such
        # pairs over one storage of S elements walked K x S)
        mismatched = given and (new not in own or own[new].shape != value.shape)
        if new in out and not (out[new].shape == value.shape and (mismatched or _same_tensor(out[new], value))):
            raise ReferenceCheckpointError(
                f"reference keys collide after renaming: {_key(sources[new])} and {_key(key)} hold different tensors "
                f"and both map to {_key(new)}"
            )
        out[new] = value
        sources.setdefault(new, key)
    return out


def load_reference_state_dict(model: torch.nn.Module,
                              checkpoint: Mapping[str, Any] | str | bytes | os.PathLike[str] | os.PathLike[bytes],
                              *, strict: bool = True, prefix: str | None = DEFAULT_PREFIX,
                              weights_only: bool = True) -> LoadResult:
    """Load a reference checkpoint into a vibench model (renamed with the model's declared map).

    ``checkpoint`` is a ``state_dict``, a PyTorch Lightning checkpoint (a dict whose
    ``"state_dict"`` holds the weights, next to entries such as ``epoch`` or ``optimizer_states``,
    which are not read), or the path of a file holding either (``str``, ``bytes`` or ``os.PathLike``,
    read with ``torch.load`` on the CPU,
    ``weights_only`` unless you pass ``weights_only=False`` for a file you trust). PHM-Vibench's
    Lightning task keeps the model as its ``network``, so its keys start with ``prefix``
    (``"network."``): when some do, only those are the model's, with the prefix removed (for a
    model whose own keys start so, as TCN's ``network``, when that names more of them); the rest of
    the task's weights are left aside.
    ``prefix=None`` takes every key as it is.

    With ``strict`` (the default) every key must match in name and shape. With ``strict=False``
    keys on one side only are reported in the returned :class:`LoadResult` and in a
    ``UserWarning`` instead (the model's missing ones keep their values), but every shared key must
    still match in shape. A value that is not a tensor with values (meta, sparse, quantized, nested, or expanded:
    more elements than its storage holds), keys that collide after renaming with different values (NaN equal to
    NaN), a shape or dtype-kind mismatch (complex vs. real, floating vs. integer), finite values the model's dtype
    cannot hold (float64's 1e300 in a float32 model: inf) or, under ``strict``, a missing
    or unexpected key raises
    :class:`ReferenceCheckpointError` listing them (at most 8 of each kind, each key as ``repr``
    writes it, clipped, a tensor in it by its shape), before anything is copied; when per-system classification
    heads are why, the message says which ``num_classes`` the checkpoint was trained with, and when no key
    starts with ``prefix`` but most share another that fits, it names that one. A ``prefix`` without its final dot
    names that component when every key starting with it goes on with one (``"network"`` is read as ``"network."``).
    A model wrapped by ``torch.compile`` (its ``_orig_mod``), ``DataParallel`` or ``DistributedDataParallel`` (their
    ``module``) is loaded into the model it wraps, whose tensors it shares. Should copying fail
    all the same (a module's own loading hook), the overwritten tensors are restored before the
    error propagates. A ``model`` that is no ``torch.nn.Module``, a ``strict`` or ``weights_only`` that is no
    bool, or a ``prefix`` that is neither a str nor None is a ``TypeError`` naming it.
    """
    # a numpy bool (numpy 2 names its type `bool`) is the bool it holds
    strict, weights_only = (bool(v) if (type(v).__module__, type(v).__name__) in _NUMPY_BOOLS else v
                            for v in (strict, weights_only))
    given = {"model": model, "strict": strict, "prefix": prefix, "weights_only": weights_only}
    for name, value in given.items():  # in the caller's words, not torch's ('str' object has no attribute ...)
        kinds, wanted = _ARGUMENTS[name]
        if not isinstance(value, kinds):  # strict="no" was taken as true
            raise TypeError(f"load_reference_state_dict: {name} must be {wanted}; found {type(value).__name__}")
    model = _wrapped_model(model)
    renames = getattr(type(model), "REFERENCE_STATE_DICT_RENAMES", [])
    own = model.state_dict()
    entries = _unwrapped(checkpoint, weights_only)
    _short_keys(entries)
    prefix = _component(entries, prefix)
    converted = convert_reference_state_dict(_model_entries(entries, prefix, own, renames), renames, own)
    missing = sorted(set(own) - set(converted))
    unexpected = sorted(set(converted) - set(own))
    shared = set(own) & set(converted)
    mismatched = sorted(filter(None, (_mismatch(k, own[k], converted[k]) for k in shared)))
    overflowing = sorted(filter(None, (_overflow(k, own[k], converted[k]) for k in shared)))
    heads = head_mismatch(own, converted) if (mismatched or missing or unexpected) else ""
    prefixed = _prefix_hint(entries, prefix, own, renames) if missing or unexpected else ""
    hints = ". ".join(filter(None, [heads, prefixed]))
    if mismatched or overflowing or (strict and (missing or unexpected)):
        problems = [f"shape or dtype mismatch ({len(mismatched)}): {_listing(mismatched)}"] if mismatched else []
        if overflowing:
            problems.append(f"values the model's dtype cannot hold ({len(overflowing)}): {_listing(overflowing)}")
        if strict and missing:
            problems.append(f"missing ({len(missing)}): {_keys(missing)}")
        if strict and unexpected:
            problems.append(f"unexpected ({len(unexpected)}): {_keys(unexpected)}")
        raise ReferenceCheckpointError(_bounded(
            f"the reference checkpoint does not fit {type(model).__name__} after renaming; nothing was loaded: "
            + "; ".join(problems) + (f". {hints}" if hints else "")
        ))
    loading = {k: v for k, v in converted.items() if k in own}
    backup = {k: own[k].detach().clone() for k in loading}
    try:
        model.load_state_dict(loading, strict=strict)
    except Exception as err:
        current = model.state_dict()
        with torch.no_grad():  # in place, past the loading hooks that may have raised
            for key, value in backup.items():
                current[key].copy_(value)
        raise ReferenceCheckpointError(
            f"loading the reference checkpoint into {type(model).__name__} failed ({err}); the model was restored"
        ) from err
    if missing or unexpected:
        left = [f"missing ({len(missing)}): {_keys(missing)}"] if missing else []
        left += [f"unexpected ({len(unexpected)}): {_keys(unexpected)}"] if unexpected else []
        warnings.warn(_bounded(f"the reference checkpoint loaded into {type(model).__name__} with keys left aside: "
                               + "; ".join(left) + (f". {hints}" if hints else "")), UserWarning, stacklevel=2)
    return LoadResult(missing, unexpected)


_NUMPY_BOOLS = (("numpy", "bool"), ("numpy", "bool_"))
_ARGUMENTS: dict[str, tuple[Any, str]] = {  # load_reference_state_dict's, as model.py's loader says them
    "model": (torch.nn.Module, "a torch.nn.Module (the model to load into)"),
    "strict": (bool, "True or False"),
    "prefix": ((str, type(None)), "a str (the prefix of the model's keys, 'network.') or None"),
    "weights_only": (bool, "True or False"),
}


def read_checkpoint(path: str | bytes | os.PathLike[str] | os.PathLike[bytes], *, weights_only: bool = True) -> Any:
    """``torch.load`` of a checkpoint file on the CPU; a file that needs more than tensors (a
    Lightning checkpoint's hyper-parameters) is refused unless ``weights_only=False``. A damaged or
    truncated file is named so, with torch's own short reason. A zip whose directory lists compressed entries
    (torch.save writes none) or more bytes than the file holds is refused before torch.load expands any
    (:func:`~vibench.runtime.checkpoint_zip.zip_problem`), one whose pickle nests objects past
    :data:`~vibench.runtime.checkpoint_pickle.MAX_NESTING` levels or expands one past
    :data:`~vibench.runtime.checkpoint_pickle.MAX_EXPANDED` shared parts before torch.load builds them (a key nested
    200,000 tuples deep crashed it, one of 2**60 shared parts hashed without end), one of a pickle protocol torch's
    reader does not read is said so, and one whose objects need a module that is not installed. A bytes
    path (or an ``os.PathLike`` giving one) is decoded as ``os.fsdecode`` does, as model.py's loader reads it."""
    path = os.fsdecode(path)  # torch.load reads what is no str or os.PathLike as an open file
    shown = _shown(path, 200)
    try:  # the OS's reason is the open's only: an OSError of torch.load's is the file's (below)
        fh = open(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb")  # a FIFO: no wait
        try:
            status = os.fstat(fh.fileno())
            regular = stat.S_ISREG(status.st_mode)
            head = fh.read(4) if regular else b""
            # a zip's directory, read before torch.load expands (and allocates) what its entries declare
            unzipped = zip_problem(fh, status.st_size) if head == b"PK\x03\x04" else ""
        except BaseException:
            fh.close()
            raise
    except (OSError, ValueError) as err:  # ValueError: a path holding NUL
        reason = getattr(err, "strerror", None) or err
        raise ReferenceCheckpointError(f"cannot read the checkpoint {shown}: {reason}") from None
    with fh:  # torch.load reads the file checked above (the path opened again could be another by then)
        if not regular:
            raise ReferenceCheckpointError(f"cannot read the checkpoint {shown}: it is not a regular file")
        # torch.save's zip archive; a legacy pickle, of protocol 2 or later, or 0 or 1 (its magic number in digits)
        if head[:4] != b"PK\x03\x04" and head[:1] != b"\x80" and head != b"L119":
            found = "it is empty" if not head else f"it starts with {head!r}"
            raise ReferenceCheckpointError(f"{shown} is not a PyTorch checkpoint (torch.save writes a "
                                           f"zip archive; {found})")
        try:  # the pickle's nesting, read before torch.load builds (and hashes) what it holds
            problem = unzipped or nesting_problem(fh, status.st_size)
            if not problem:
                fh.seek(0)
                return torch.load(fh, map_location="cpu", weights_only=weights_only)
        except Exception as err:  # noqa: BLE001 - torch.load raises many kinds for a damaged or unsafe file
            try:  # a pickle protocol torch's reader does not read is said so, not damage
                protocol = saved_protocol(fh, status.st_size)
            except Exception:  # noqa: BLE001 - a zip damaged: torch's reason says so
                protocol = None
            raise ReferenceCheckpointError(unreadable(shown, err, weights_only, protocol)) from None
        raise ReferenceCheckpointError(f"cannot read the checkpoint {shown}: {problem}")


def _unwrapped(checkpoint: Any, weights_only: bool) -> Any:
    """A checkpoint's entries: the file read, a Lightning checkpoint's ``state_dict`` taken out."""
    if isinstance(checkpoint, (str, bytes, os.PathLike)):
        checkpoint = read_checkpoint(checkpoint, weights_only=weights_only)
    if isinstance(checkpoint, Mapping) and isinstance(checkpoint.get("state_dict"), Mapping):
        checkpoint = checkpoint["state_dict"]  # a Lightning checkpoint
    return checkpoint


def _wrapped_model(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside torch.compile's ``OptimizedModule`` (``_orig_mod``), ``DataParallel`` and
    ``DistributedDataParallel`` (``module``), any number deep: a wrapper's keys are the model's behind its own
    prefix, and it carries no ``REFERENCE_STATE_DICT_RENAMES``."""
    # no OptimizedModule exists before torch.compile imported torch._dynamo (seconds: not imported here)
    compiled = getattr(sys.modules.get("torch._dynamo.eval_frame"), "OptimizedModule", ())
    parallel = (torch.nn.DataParallel, torch.nn.parallel.DistributedDataParallel)
    while isinstance(model, compiled) or isinstance(model, parallel):
        model = model._orig_mod if isinstance(model, compiled) else model.module
    return model


def _component(entries: Any, prefix: str | None) -> str | None:
    """``prefix`` with its final dot added where it names a component without it (``network``): some keys start
    with ``prefix`` and each goes on with a dot, which no model's key starts with. Else ``prefix`` as given (``net_``
    for ``net_conv.weight``)."""
    if not prefix or prefix.endswith(".") or not isinstance(entries, Mapping):
        return prefix
    starting = [k for k in entries if isinstance(k, str) and k.startswith(prefix)]
    return prefix + "." if starting and all(k.startswith(prefix + ".") for k in starting) else prefix


def _named(entries: Mapping[Any, Any], own: Mapping[str, Any], renames: Sequence[Sequence[str]]) -> int:
    """How many of the model's keys ``entries`` name after renaming (keys only: a bad value or a
    collision is reported later)."""
    compiled = [(re.compile(pattern), replacement) for pattern, replacement in renames]
    found = set()
    for key in entries:
        for pattern, replacement in compiled:
            key = pattern.sub(replacement, key) if isinstance(key, str) else key
        found.add(key)
    return len(found & set(own))


def _model_entries(checkpoint: Any, prefix: str | None, own: Mapping[str, Any],
                   renames: Sequence[Sequence[str]]) -> Any:
    """The model's part of a checkpoint's entries: ``prefix`` removed. Where the model's own keys start
    with ``prefix`` too (TCN keeps its blocks in ``network``), the prefix is removed when that names
    more of the model's keys after renaming: a Lightning checkpoint's ``network.network.0...``, not a
    plain state_dict's ``network.0...``."""
    if not prefix or not isinstance(checkpoint, Mapping):
        return checkpoint
    if not any(isinstance(k, str) and k.startswith(prefix) for k in checkpoint):
        return checkpoint
    stripped = {k[len(prefix):]: v for k, v in checkpoint.items() if isinstance(k, str) and k.startswith(prefix)}
    if not any(str(k).startswith(prefix) for k in own):
        return stripped
    return stripped if _named(stripped, own, renames) > _named(checkpoint, own, renames) else checkpoint


def _prefix_hint(entries: Any, prefix: str | None, own: Mapping[str, Any], renames: Sequence[Sequence[str]]) -> str:
    """When no key starts with ``prefix`` (all were taken as they are): names the first dotted part most
    keys share when removing it would name more of the model's keys; else says so for a prefix other
    than the default (which a plain state_dict lacks). When some keys start with it and those that do not
    (set aside) name more of the model (a plain state_dict with one stray `network.` key): says so, with
    the empty prefix; when keys it kept start with a dot (``network``, where others go on ``networks.``), names the
    prefix with the dot. '' otherwise."""
    if not prefix or not isinstance(entries, Mapping):
        return ""
    if any(isinstance(k, str) and k.startswith(prefix) for k in entries):
        aside = {k: v for k, v in entries.items() if not (isinstance(k, str) and k.startswith(prefix))}
        kept = {k[len(prefix):]: v for k, v in entries.items() if isinstance(k, str) and k.startswith(prefix)}
        dotted = prefix + "."
        count = sum(isinstance(k, str) and k.startswith(dotted) for k in entries)
        if count:  # left starting with a dot, which no model's key does
            return (f"{count} of {len(entries)} keys start with {_key(dotted)}: try prefix={_key(dotted)} "
                    f"(--weights-prefix {_shown(dotted, 120)})")
        if not aside or _named(aside, own, renames) <= _named(kept, own, renames):
            return ""
        return (f"{len(aside)} of {len(entries)} keys do not start with the prefix {_key(prefix)} and were set "
                "aside; taken as they are, they name more of the model: try prefix='' (--weights-prefix '')")
    firsts = Counter(k.partition(".")[0] + "." for k in entries if isinstance(k, str) and "." in k)
    note = f"No key starts with the prefix {_key(prefix)}, so every key was taken as it is"
    common, count = firsts.most_common(1)[0] if firsts else ("", 0)
    stripped = {k[len(common):]: v for k, v in entries.items() if isinstance(k, str) and k.startswith(common)}
    if not common or _named(stripped, own, renames) <= _named(entries, own, renames):
        return note if prefix != DEFAULT_PREFIX else ""  # the default fits a plain state_dict: no news
    return (f"{note}; the keys start with {_key(common)} ({count} of {len(entries)}): try prefix={_key(common)} "
            f"(--weights-prefix {_shown(common, 120)})")


def _checked(state_dict: Any) -> Mapping[str, torch.Tensor]:
    if not isinstance(state_dict, Mapping):
        raise ReferenceCheckpointError(
            f"a reference checkpoint is a mapping of names to tensors, found {type(state_dict).__name__} "
            "(a Lightning checkpoint keeps it under 'state_dict')"
        )
    _short_keys(state_dict)
    bad = [(key, value) for key, value in state_dict.items() if not isinstance(key, str) or _flaw(value)]
    if bad:  # written out: the 8 listed, the rest counted
        shown = [f"{_key(key)} ({_flaw(value) or 'Tensor'})" for key, value in bad[:8]]
        expanded = any(_flaw(value).startswith("expanded") for value in state_dict.values())
        raise ReferenceCheckpointError(_bounded(
            f"a reference checkpoint maps names (str) to tensors; {_count(len(bad), 'entry does', 'entries do')} "
            f"not: {_listing(shown, total=len(bad))}" + (f". {EXPANDED_HINT}" if expanded else "")
        ))
    return state_dict


def _flaw(value: Any) -> str:
    """What keeps a checkpoint's value from loading, in the emitted loader's words: its type for no tensor, a
    meta, sparse, quantized or nested tensor (no values, or none ``load_state_dict`` copies into a dense
    parameter: torch's own error runs over several lines, a nested one's is "Internal error"), or an expanded
    one: more elements than its storage holds (``torch.zeros(1).expand(2**40)``, 4 bytes in the file, would
    have a comparison of colliding keys walk 2**40 of them; no module's state_dict holds one); '' for a tensor
    with values. A nested tensor's layout is strided (or jagged): it is told by ``is_nested``."""
    if not isinstance(value, torch.Tensor):
        return type(value).__name__
    what = ("meta" if value.is_meta else "nested" if value.is_nested else "quantized" if value.is_quantized
            else str(value.layout).removeprefix("torch."))
    if what != "strided":
        return f"{what} tensor"
    stored = value.untyped_storage().nbytes() // value.element_size()
    return f"expanded tensor: {value.numel():,} elements over {stored:,} stored" if value.numel() > stored else ""


def _same_tensor(first: torch.Tensor, value: torch.Tensor) -> bool:
    """Whether two values of one shape that one key's renaming gives are one tensor: one view of one storage
    (TCN's ``conv1`` saved also as ``net.0``), or equal elements, a NaN equal to a NaN in its place (``torch.equal``
    holds NaN unequal to itself: a reference trained to NaN is still one tensor) and ``-0.0`` to ``0.0``. The
    elements walked are at most the storages' (:func:`_flaw` refuses an expanded tensor)."""
    def view(t: torch.Tensor) -> tuple[Any, ...]:
        return t.dtype, t.stride(), t.storage_offset(), t.is_conj(), t.is_neg(), t.untyped_storage().data_ptr()

    if view(first) == view(value) or torch.equal(first, value):
        return True
    if first.is_complex() and value.is_complex():  # NaN in either part, in its place
        first, value = (torch.view_as_real(t.resolve_conj().resolve_neg()) for t in (first, value))
    return first.is_floating_point() and value.is_floating_point() and bool(
        ((first == value) | (first.isnan() & value.isnan())).all())


def _short_keys(entries: Any) -> None:
    """Refuses a checkpoint with a key over :data:`MAX_KEY_LENGTH` characters, before a rename runs on it."""
    long = [key for key in entries if isinstance(key, str) and len(key) > MAX_KEY_LENGTH] \
        if isinstance(entries, Mapping) else []
    if long:
        raise ReferenceCheckpointError(_bounded(
            f"a reference checkpoint's keys have at most {MAX_KEY_LENGTH:,} characters (a model's come nowhere near); "
            f"{_count(len(long), 'is', 'are')} longer, so none was renamed and nothing was loaded: {_keys(long)}"
        ))


def _mismatch(key: str, own: torch.Tensor, theirs: torch.Tensor) -> str:
    """'' when ``theirs`` can be copied into ``own``, else ``key`` with both shapes and dtypes."""
    same_kind = (own.is_complex() == theirs.is_complex()
                 and own.is_floating_point() == theirs.is_floating_point())
    if own.shape == theirs.shape and same_kind:
        return ""
    return (f"{_key(key)} (model {list(own.shape)} {str(own.dtype).removeprefix('torch.')}, "
            f"checkpoint {list(theirs.shape)} {str(theirs.dtype).removeprefix('torch.')})")


def _overflow(key: str, own: torch.Tensor, theirs: torch.Tensor) -> str:
    """'' unless copying ``theirs`` into ``own`` (that :func:`_mismatch` passed) turns finite values infinite, as
    ``load_state_dict``'s copy does without a word (a float64 1e300 into a float32 model: inf), else ``key``, how many
    and the largest: refused as a mismatch is, as the model would compute only inf and NaN from there."""
    if _mismatch(key, own, theirs) or own.dtype == theirs.dtype or not (own.is_floating_point() or own.is_complex()):
        return ""
    if torch.finfo(own.dtype).max >= torch.finfo(theirs.dtype).max:  # a range that holds theirs: no overflow
        return ""
    lost = torch.isfinite(theirs) & ~torch.isfinite(theirs.to(own.dtype))
    count = int(lost.sum())
    if not count:
        return ""
    return (f"{_key(key)} ({count:,} finite {'value' if count == 1 else 'values'} of the checkpoint's "
            f"{str(theirs.dtype).removeprefix('torch.')}, up to {float(theirs[lost].abs().max()):.3g}, would be "
            f"infinite in the model's {str(own.dtype).removeprefix('torch.')})")
