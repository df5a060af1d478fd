"""Helpers the emitted model.py carries (copied by source, like native blocks), and their use.

* :func:`_check_settings` — the model class's keyword arguments: a free parameter must be of its
  declared type and within its declared bounds, as the compiler checks a value (nan is within no bound;
  an int within 2**62 in magnitude; the parameter budget, which needs the whole model, is not checked: the
  class does not know the count a new value gives); any other template parameter may only repeat the
  value the file was compiled and shape-checked with, as the compiler compares it: a tuple counts as the
  list the file writes, an int for a float as that float (``dropout=0`` of 0.0), a bool as no number, and a
  mapping's keys count in their order, which orders per-system heads and their state_dict keys (else
  ValueError naming the parameter and the command that compiles it with the new value: ``command`` and
  the ``--set`` words of ``sets``, parameter -> shell word, but the one it replaces). A numpy scalar or
  0-d tensor counts as the Python value it holds, as in ``vibench.build`` (known by its type's module:
  model.py imports nothing but torch); the free parameters' values come back so read, for ``__init__``
  to build with.
* :func:`_check_input`, :func:`_require` and :func:`_same_size` — the checks at the entry of ``forward`` (dtype, rank,
  fixed sizes, the spec's shape constraints): ``ValueError`` naming the input and the rule in eager
  mode, ``torch._check`` while ``torch.compile``/``torch.export`` trace (the checks stay in the graph).
  A floating input follows the model: after ``model.double()`` (``.half()``, ``.bfloat16()``) it must
  have the dtype of the model's parameters (``_cast_dtype``; not for a model whose floating inputs
  differ in dtype, where the parameters say nothing of each input), or, with ``keep`` (an input only
  blocks' ``any_float_inputs`` read: a sampling rate), that or its declared dtype. A value that is not
  a tensor (a list, a number, None, a numpy array) is a TypeError naming the input and the conversion.
  A broken constraint says what the input gave (``found``, read on the failing path only): each size it
  reads and the input axis it comes from, then each side of it that is not a bare size (``found L = 4
  (x.shape[1])``; ``found L = 1000 (x.shape[1]), so L // 128 = 7``).
* :func:`_real_weights` — what a layer with complex weights (FITS's, the Laplace and Fourier operators')
  says when they are real: ``model.to(dtype)`` casts complex parameters to a real dtype, dropping their
  imaginary parts, and the layer would compute with other weights, silently.
* :func:`_bare` — whether a native may read a layer's weights instead of calling it: only a plain
  ``nn.Linear``/``nn.Conv2d`` without hooks. A layer that ``quantize_dynamic`` replaced, a wrapper
  (LoRA), or one with hooks (pruning, old-style weight_norm, feature taps, Grad-CAM) is called.
* :func:`_linear_over` — ``linear`` over dimension 0 of [in, M] or 1 of [B, in, M] as one matrix product
  (the ``linear`` block, gMLP's spatial gating unit), or, for a layer that is not bare, the layer called
  on the transposed input.
* :func:`_explicit_attention` — attention written out, which the ``scaled_dot_product_attention``
  block runs in a CPU training step with dropout (there faster than the fused kernel's fallback).
* :func:`_checkpoint` — a node with ``checkpoint: true``: its activations are recomputed in the
  backward pass instead of kept (TorchScript runs the node plainly); the recomputation restores the
  buffers of the modules inside (running statistics, BatchNorm's or TSPN's FeatureBatchNorm's, are
  updated once per step, not twice).
* :func:`load_reference_state_dict` — PHM-Vibench checkpoints through the class's rename map, with
  nothing but torch (also Lightning checkpoints, whose keys start with ``network.``): the checks of
  ``vibench.runtime.checkpoint.load_reference_state_dict`` and its all-or-nothing loading, without its
  hints (``num_classes``, prefix) or warnings; tests/test_model_py_loader.py runs both on the same
  checkpoints.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    import torch.nn.functional as F
    from torch import nn
else:
    from vibench.compiler.blocks.torchless import F, nn, torch


def _check_settings(model: nn.Module, given: dict, free: dict, command: str, sets: dict | None = None) -> tuple:
    name_of, fixed, values = type(model).__name__, getattr(type(model), "COMPILED_PARAMETERS", {}), {}

    def same(v: object, w: object) -> bool:  # as the compiler compares v with the value w it wrote, at any depth
        if type(v).__module__ in ("numpy", "torch") and getattr(v, "ndim", 1) == 0 and hasattr(v, "item"):
            v = v.item()  # a numpy scalar or 0-d tensor in a list: the Python value it holds
        if type(w) is float and type(v) in (int, float):  # an int for a float is that float (a bool is no number)
            return v == w or (v != v and w != w)  # nan repeats nan: the same file
        if isinstance(v, (list, tuple)) and isinstance(w, (list, tuple)):  # a tuple is the list the file writes
            exact = {type(v), type(w)} <= {list, tuple}
            return exact and len(v) == len(w) and all(same(a, b) for a, b in zip(v, w, strict=True))
        if isinstance(v, dict) and isinstance(w, dict):  # keys in order: they order per-system heads and their keys
            return type(v) is type(w) is dict and list(v) == list(w) and all(same(v[k], w[k]) for k in v)
        return type(v) is type(w) and v == w

    for name, value in given.items():
        if type(value).__module__ in ("numpy", "torch") and getattr(value, "ndim", 1) == 0 and hasattr(value, "item"):
            value = value.item()  # a numpy scalar or 0-d tensor: the Python value it holds
        if name in free:
            values[name] = value
            kinds, ge, gt, le, lt, wanted = free[name]
            if type(value) is int and not -(2**62) <= value <= 2**62:  # the compiler's bound on any integer (E202)
                raise ValueError(
                    f"{name_of}: {name} must be {wanted}, within 2**62 in magnitude; found an int of "
                    f"{value.bit_length():,} bits"
                )
            if (  # as the compiler compares: nan is within no bound
                type(value) not in kinds
                or (ge is not None and not value >= ge)
                or (gt is not None and not value > gt)
                or (le is not None and not value <= le)
                or (lt is not None and not value < lt)
            ):
                raise ValueError(f"{name_of}: {name}={value!r} must be {wanted}")
        elif name not in fixed:
            raise TypeError(f"{name_of}() got an unexpected keyword argument {name!r} (takes: {[*free, *fixed]})")
        elif not same(value, fixed[name]):
            others = "".join(f" --set {word}" for key, word in (sets or {}).items() if key != name)
            raise ValueError(
                f"{name_of}: {name}={value!r} differs from the value this file was compiled and shape-"
                f"checked with ({fixed[name]!r}); regenerate it: {command}{others} --set {name}=..."
            )
    return tuple(values[name] for name in free)


def _require(model: nn.Module, ok: bool, message: str, found: list[tuple[str, int, str]] | tuple = ()) -> None:
    text = f"{type(model).__name__}: {message}"
    if torch.compiler.is_compiling() and not isinstance(ok, bool):  # a symbolic size: the check stays in the graph
        torch._check(ok, lambda: text)
    elif not ok:  # also while tracing, where it is known then (dynamo reports `raised exception ValueError(text)`)
        sizes = ", ".join(f"{what} = {value} ({where})" for what, value, where in found if where)
        so = " and ".join(f"{what} = {value}" for what, value, where in found if not where)
        raise ValueError(text + (f"; found {sizes}" if sizes else "") + (f", so {so}" if so else ""))


def _same_size(model: nn.Module, first: str, size: int, second: str, other: int, symbol: str) -> None:
    message, same = f"inputs `{first}` and `{second}` share the size `{symbol}`", other == size
    if torch.compiler.is_compiling() and not isinstance(same, bool):  # a traced message holds constants only
        _require(model, same, message)
    elif not same:
        _require(model, False, f"{message}; found {size} and {other}")


def _check_input(
    model: nn.Module,
    name: str,
    x: torch.Tensor,
    dtype: torch.dtype,
    sizes: list[int],
    shape: str,
    cast: bool = True,
    keep: bool = False,
) -> None:
    declared, floats = dtype, _cast_dtype(model) if cast and dtype.is_floating_point else None
    dtype = floats or dtype  # after model.double(), .half(), .bfloat16(): the model's dtype
    keep = keep and dtype != declared  # read in any floating dtype (a sampling rate): the declared one stays
    wanted = str(dtype).removeprefix("torch.") + (" (the model's dtype)" if dtype != declared else "")
    wanted = str(declared).removeprefix("torch.") + " or " + wanted if keep else wanted
    to = declared if keep else dtype  # what a hint converts to
    if not isinstance(x, torch.Tensor):  # a numpy array, a list, a number, None: the fast test sent it here
        found = ("None" if x is None else type(x).__qualname__) + _input_hint(model, name, x, to, sizes, shape)
        raise TypeError(f"{type(model).__name__}: input `{name}` must be a tensor {shape}; found {found}")
    ok = x.dtype == dtype or (keep and x.dtype == declared)
    ok = ok and x.dim() == len(sizes) and all(s < 0 or s == x.shape[k] for k, s in enumerate(sizes))
    traced = torch.compiler.is_compiling()
    if traced and not isinstance(ok, bool):  # a symbolic size: a traced message holds constants only
        _require(model, ok, f"input `{name}` must be {shape} {wanted}")
    elif not ok:  # also while tracing, where a dtype, a rank or a static size decided it: the eager message
        hint = _input_hint(model, name, x, to, sizes, shape, bool(floats))
        _require(model, ok, f"input `{name}` must be {shape} {wanted}; found {tuple(x.shape)} {x.dtype}{hint}")
    if traced:  # decided while tracing (a dynamic batch of 0 passes)
        _require(model, x.numel() > 0, f"input `{name}` must be {shape} with every size at least 1")
    elif 0 in x.shape:  # the shapes were checked for sizes of at least 1
        axis = list(x.shape).index(0)
        raise ValueError(
            f"{type(model).__name__}: input `{name}` must be {shape} with every size at least 1; "
            f"found {tuple(x.shape)} (axis {axis} is empty)"
        )


def _cast_dtype(model: nn.Module) -> torch.dtype | None:
    """The dtype of the model's floating parameters (or buffers; None without any: complex weights stay)."""
    for group in (model.parameters(), model.buffers()):
        for t in group:
            if t.is_floating_point():
                return t.dtype
    return None


def _input_hint(
    model: nn.Module, name: str, x: object, dtype: torch.dtype, sizes: list[int], written: str, cast: bool = True
) -> str:
    """What a refused input looks like: not a tensor (a numpy array, a list, a number for a [B] input), another
    dtype, swapped last axes, a missing or extra size-1 axis. ``written``: its shape as the spec writes it, `[B]`."""
    if not isinstance(x, torch.Tensor):
        if type(x).__module__ == "numpy" and torch.compiler.is_compiling():  # dynamo cannot read its attributes
            return f" (`torch.from_numpy({name})` converts it)"
        if type(x).__module__ == "numpy" and getattr(x, "ndim", 0) > 0:  # an array: its dtype may differ too
            to = "" if str(getattr(x, "dtype", "")) == str(dtype).removeprefix("torch.") else f".to({dtype})"
            return f" (`torch.from_numpy({name}){to}` converts it)"
        if type(x).__module__ == "numpy" and getattr(x, "ndim", 1) == 0 and hasattr(x, "item"):
            x = x.item()  # a numpy scalar (np.float32(1000.0)) or 0-d array: the Python value it holds
        if isinstance(x, (list, tuple)):
            return f" (`torch.tensor({name}, dtype={dtype})` converts it)"
        if not isinstance(x, (int, float)) or isinstance(x, bool) or len(sizes) > 1:
            return ""
        fill = float(x) if dtype.is_floating_point else int(x)
        if not sizes:
            return f" (`torch.tensor({fill!r}, dtype={dtype})` makes it)"
        return f" (one value for each sample? `torch.full(({written[1:-1]},), {fill!r}, dtype={dtype})` makes it)"
    shape = list(x.shape)
    to = "" if x.dtype == dtype else f".to({dtype})"

    def fits(found: list[int]) -> bool:
        return len(found) == len(sizes) and all(s < 0 or s == n for s, n in zip(sizes, found, strict=True))

    if fits(shape):
        method = {torch.float64: "double", torch.float32: "float", torch.float16: "half"}.get(x.dtype, "bfloat16")
        floats = cast and x.dtype.is_floating_point
        return f" (`{name}{to}` converts it" + (f", or `model.{method}()` casts the model)" if floats else ")")
    if len(shape) >= 2 and fits(shape[:-2] + shape[:-3:-1]):
        layout = "layout" in getattr(type(model), "COMPILED_PARAMETERS", {})
        return f" (its last two axes look swapped: `{name}.transpose(-1, -2){to}` fits" + (
            ", or compile the model with the other `layout`)" if layout else ")"
        )
    left_out = []  # a size-1 axis left out: the batch, or one channel of [B, L, 1] / [B, 1, L]; each that fits
    for k in range(len(shape) + 1):  # (before a size-1 axis, inserting gives what inserting after it does)
        if fits([*shape[:k], 1, *shape[k:]]) and not (0 < k < len(shape) and shape[k] == 1):
            code = getattr(model.forward, "__code__", None)  # an input after the first: its batch size is set
            if k == 0 and sizes[0] < 0 and code is not None and code.co_varnames[1:2] != (name,):  # fs of 0-d: B
                batch = ", ".join([written[1:-1].split(",")[0].strip()] + ["-1"] * len(shape))  # fs.expand(B)
                one = f"`{name}.unsqueeze(0){to}` for a batch of 1"
                return f" (the same for every sample? `{name}.expand({batch}){to}` fits, or {one})"
            what = "one sample without its batch axis?" if k == 0 else "an axis of size 1 left out?"
            left_out.append(f"{what} `{name}.unsqueeze({k if k < len(shape) else -1}){to}` fits")
    if left_out:  # the batch and the last other axis that fit: sizes alone cannot tell ([4, 1024] for [B, L, C])
        return " (" + "; or ".join(left_out[:1] + left_out[1:][-1:]) + ")"
    extra = [f"`{name}.squeeze({k}){to}`" for k, n in enumerate(shape) if n == 1 and fits(shape[:k] + shape[k + 1 :])]
    return f" (an extra axis of size 1? {' or '.join(extra)} fits)" if extra else ""  # all: the sizes may not tell


def _real_weights(layer: str, names: str, found: torch.dtype) -> str:
    """The error of a layer whose complex weights (``names``, as the message writes them) are of the real dtype
    ``found``: ``model.to(dtype)`` (also ``.to(device, dtype)``) casts complex parameters to a real ``dtype``,
    dropping their imaginary parts (torch warns once per process), where ``.double()``, ``.half()`` and
    ``.bfloat16()`` cast the floating ones only. Loading a state_dict into the real parameters drops them again:
    the model is built again. Run on the failing path only."""
    dtype = "a real dtype" if torch.jit.is_scripting() else str(found)  # TorchScript writes a dtype as a number
    return (
        f"{layer}: its complex weights {names} are {dtype} now, their imaginary parts dropped: `model.to(dtype)` "
        "casts complex parameters to a real dtype (`.double()`, `.half()` and `.bfloat16()` cast only floating "
        "ones), so the model would compute with other weights. Build the model again, load the weights saved "
        "before the cast (`load_state_dict`) and cast it with `.double()`, `.half()` or `.bfloat16()` (a model "
        "whose weights are all complex, as B_03_FITS, keeps float32 whatever the cast); `.to(device)` moves it"
    )


def _bare(layer: nn.Module, kind: type) -> bool:
    """Whether ``layer`` is a plain ``kind`` (not a subclass, a quantized replacement or a wrapper) without
    hooks, so that reading its weights gives what calling it would."""
    return type(layer) is kind and not (
        layer._forward_pre_hooks or layer._forward_hooks or layer._backward_pre_hooks or layer._backward_hooks
    )


def _linear_over(layer: nn.Linear, x: torch.Tensor, dim: int) -> torch.Tensor:
    """``layer`` over dimension ``dim`` of ``x``, 0 of [in, M] or 1 of [B, in, M]: ``weight @ x`` with the bias as
    the column it starts from, no transposed copies. A layer that is not bare (``_bare``: quantized, wrapped,
    hooked) is called as a module on the transposed input."""
    if not _bare(layer, nn.Linear):
        return layer(x.transpose(dim, -1)).transpose(dim, -1)
    if layer.bias is None:
        return torch.matmul(layer.weight, x)
    if dim == 0:
        return torch.addmm(layer.bias[:, None], layer.weight, x)
    return torch.baddbmm(layer.bias[:, None], layer.weight.expand(x.shape[0], -1, -1), x)


def _explicit_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    dropout_p: float,
    scale: float | None = None,
    is_causal: bool = False,
) -> torch.Tensor:
    """softmax(q k^T * scale) v, dropout on the weights, written out. With dropout, torch's fused kernel takes its
    math fallback on a CPU, which this beats in a training step (1.03-1.26x on [4-16, 4-8, 64-1024, 16-32]); it
    also draws the dropout mask as an attention written out (the reference's) does."""
    scores = torch.matmul(q * (q.shape[-1] ** -0.5 if scale is None else scale), k.transpose(-2, -1))
    if is_causal:
        future = torch.ones(scores.shape[-2], scores.shape[-1], dtype=torch.bool, device=q.device).triu(1)
        scores = scores.masked_fill(future, float("-inf"))
    return torch.matmul(F.dropout(torch.softmax(scores, dim=-1), dropout_p), v)


def _checkpoint(module: nn.Module, *inputs: torch.Tensor, call=None):
    """``module(*inputs)``, or ``call(module, *inputs)``, with its activations recomputed in the backward pass instead
    of kept. The recomputation leaves the buffers of the modules inside in training mode as the forward pass left
    them (torch's would update running statistics a second time): a buffer it replaced (``self.running_mean =
    ...``, TSPN's FeatureBatchNorm) is put back, and one updated in place keeps its values where a module may do
    that — torch's norms, and any module with a buffer named ``running_*``."""
    function = module if call is None else lambda *args: call(module, *args)
    if torch.compiler.is_compiling():
        return torch.utils.checkpoint.checkpoint(function, *inputs, use_reentrant=False)
    calls: list[None] = []

    def run(*args):
        if not calls:  # the forward pass
            calls.append(None)
            return function(*args)
        held = [(m, dict(m._buffers)) for m in module.modules() if m.training and m._buffers]
        kept = [
            (b, b.clone())
            for m, buffers in held
            if isinstance(m, nn.modules.batchnorm._NormBase) or any(k.startswith("running_") for k in buffers)
            for b in buffers.values()
            if b is not None
        ]
        try:
            return function(*args)
        finally:  # also when torch stops the recomputation early (an exception), once it has what it needs
            with torch.no_grad():
                for m, buffers in held:
                    m._buffers.update(buffers)
                for buffer, value in kept:
                    buffer.copy_(value)

    return torch.utils.checkpoint.checkpoint(run, *inputs, use_reentrant=False)


def load_reference_state_dict(model: nn.Module, state_dict, strict: bool = True, prefix: str = "network."):
    """Load a PHM-Vibench state_dict or Lightning checkpoint (model keys `network.*`), or the path of a file holding
    one (read with torch.load(weights_only=True)), into ``model`` through its rename map; returns (missing,
    unexpected). All or nothing, as vibench.runtime.checkpoint's: a checkpoint that does not fit (a key over 1,024
    characters, a value that is no tensor with values or an expanded one, keys that collide after renaming with
    different values, a shape or dtype-kind mismatch, or missing or unexpected keys with ``strict``) raises a KeyError
    (also a ValueError) before anything is copied; a copy that fails all the same restores the model. A file torch
    cannot read (missing, cut short, damaged, not a checkpoint, holding objects besides tensors) or should not
    (compressed zip entries, objects nested past 1,000 levels) is that error too, in the runtime's words. A model,
    strict or prefix of another kind is a TypeError naming it."""
    error = type("ReferenceCheckpointError", (KeyError, ValueError), {"__str__": lambda e: str(e.args[0])})
    if (type(strict).__module__, type(strict).__name__) in (("numpy", "bool"), ("numpy", "bool_")):
        strict = bool(strict)  # a numpy bool (numpy 2 names its type `bool`) is the bool it holds
    for what, value, kinds, wanted in (  # in the caller's words ('str' object has no attribute 'state_dict')
        ("model", model, nn.Module, "a torch.nn.Module (the model to load into)"),
        ("strict", strict, bool, "True or False"),  # strict="no" was taken as true
        ("prefix", prefix, (str, type(None)), "a str (the prefix of the model's keys, 'network.') or None"),
    ):
        if not isinstance(value, kinds):
            raise TypeError(f"load_reference_state_dict: {what} must be {wanted}; found {type(value).__name__}")
    name, renames = type(model).__name__, getattr(type(model), "REFERENCE_STATE_DICT_RENAMES", ())
    own, converted = model.state_dict(), dict[str, torch.Tensor]()

    def key(k) -> str:  # as repr writes it, clipped
        try:
            text = repr(k)
        except Exception as err:  # a tuple nested past the recursion limit
            return f"<{type(k).__name__} key: repr raised {type(err).__name__}>"
        return text if len(text) <= 122 else text[:120] + "..."

    def listing(items: list) -> str:
        more = f", ... ({len(items) - 8} more)" if len(items) > 8 else ""
        return f"({len(items)}): " + ", ".join(items[:8]) + more

    def renamed(k):
        for pattern, replacement in renames if isinstance(k, str) else ():
            k = re.sub(pattern, replacement, k)
        return k

    def flaw(v) -> str:  # what keeps a value from loading ('' for a tensor with values)
        if not isinstance(v, torch.Tensor):
            return type(v).__name__
        what = "meta" if v.is_meta else "nested" if v.is_nested else "quantized" if v.is_quantized else ""
        what = what or str(v.layout)[6:]  # a nested tensor's layout is strided (or jagged)
        if what != "strided":
            return f"{what} tensor"
        # more elements than its storage holds (zeros(1).expand(2**40)): comparing it would walk them all
        stored = v.untyped_storage().nbytes() // v.element_size()
        return f"expanded tensor: {v.numel():,} elements over {stored:,} stored" if v.numel() > stored else ""

    def same(a, b) -> bool:  # one tensor saved under two names (TCN's conv1 is net.0), or equal ones, NaN as NaN
        def view(t) -> tuple:  # one storage, read alike (the caller compared the shapes)
            return t.dtype, t.stride(), t.storage_offset(), t.is_conj(), t.is_neg(), t.untyped_storage().data_ptr()

        if view(a) == view(b) or torch.equal(a, b):
            return True
        if a.is_complex() and b.is_complex():  # NaN in either part, in its place
            a, b = (torch.view_as_real(t.resolve_conj().resolve_neg()) for t in (a, b))
        return a.is_floating_point() and b.is_floating_point() and bool(((a == b) | (a.isnan() & b.isnan())).all())

    def kind(t) -> tuple:
        return t.shape, t.is_complex(), t.is_floating_point()

    def form(t) -> str:
        return f"{list(t.shape)} {str(t.dtype)[6:]}"

    def shown(text: str, limit: int) -> str:  # text from a file or from torch: control characters escaped, clipped
        def escape(c: str) -> str:  # a name's byte that is no UTF-8 (Python's surrogate escape) as \xff
            surrogate = 0xDC80 <= ord(c) <= 0xDCFF
            return f"\\x{ord(c) - 0xDC00:02x}" if surrogate else c.encode("unicode_escape").decode("ascii")

        flat = text if text.isprintable() else "".join(map(escape, text))
        return flat if len(flat) <= limit else flat[:limit] + "..."

    def unreadable(place: str, err: Exception) -> str:  # why torch.load refused a file, as the runtime's loader says
        text = str(err)
        refusals = (  # what weights_only refuses in a sound file (torch/_weights_only_unpickler.py)
            (r"GLOBAL (\S+) was not an allowed global", "GLOBAL {0}"),
            (r"unsupported GLOBAL (\S+) whose module (\S+) is blocked", "GLOBAL {0} (its module {1} is blocked)"),
            (r"call reduce for unrecognized function ([^\n]+)", "a call of {0}"),
            (r"Can only create new object for nn.Parameter .* but got ([^\n]+)", "an object of {0}"),
            (r"must be imported to load ([^\n]+)", "{0}"),
            (r"with (TorchScript archives|files saved in the legacy .tar format)", "{0}"),
        )
        for pattern, words in refusals:
            match = re.search(pattern, text)
            if match is None:
                continue
            # torch names weights_only in every unpickling error; a "global" that is no dotted name is damage
            if "GLOBAL" not in words or all(part.isidentifier() for part in match[1].split(".")):
                refused = shown(words.format(*(g.rstrip(".") for g in match.groups())), 120)
                return (
                    f"the checkpoint {place} holds objects besides tensors: torch's weights_only refused {refused}. "
                    "A Lightning checkpoint's hyper-parameters are such objects; if you trust the file, read it with "
                    "torch.load(path, weights_only=False) and pass what it holds"
                )
            break
        # A zip cut short has lost its central directory (at the end): torch's reader says so, or, when its search
        # for it runs past the file's start (a file under ~64 KiB), the seek fails with EINVAL (errno 22 on every
        # platform torch runs on); a legacy pickle ends mid-record.
        ends = ("truncated", "unexpected EOF", "failed finding central directory")
        lost = isinstance(err, EOFError) or (isinstance(err, OSError) and err.errno == 22)
        if lost or not text.strip() or any(sign in text for sign in ends):
            return f"cannot read the checkpoint {place}: the file ends early (truncated?)"
        reason = text.split("\n\nCheck the documentation of torch.load")[0]  # torch's reason, not its advice
        reason = reason.rpartition("WeightsUnpickler error:")[2] or reason.rpartition("trusted source.")[2] or reason
        reason = shown(" ".join(reason.split(". This is an internal miniz error")[0].split()) or "no reason given", 160)
        return f"cannot read the checkpoint {place}: the file is damaged or not a PyTorch checkpoint (torch: {reason})"

    def unzipped(fh, size: int) -> str:  # why a zip is not given to torch.load, as vibench.runtime.checkpoint_zip says
        import zipfile  # torch.save stores every entry: torch.load would expand a compressed one (1 MB: 1 GiB) unasked

        try:  # the directory alone, nothing extracted
            with zipfile.ZipFile(fh) as archive:  # its close leaves fh open
                entries = archive.infolist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as err:  # a version it lacks
            if str(err) == "File is not a zip file":  # no end record, as in a file cut short
                return "the file ends early (truncated?)"
            return f"the file is damaged or not a PyTorch checkpoint (zip: {shown(str(err), 160)})"
        # zipfile (these checks) and miniz (torch.load) must read one directory, where the end records say, and one
        # entry a name (miniz finds names in any case); torch.save writes no comment, a zip64 end record before it
        fh.seek(max(0, size - 98))
        tail = fh.read(98).rjust(98, b"\0")  # a zip64 end record (56 bytes), its locator (20), the end record (22)
        zip64, number = tail[56:60] == b"PK\x06\x07", lambda at, width: int.from_bytes(tail[at : at + width], "little")
        record, directory, offset = (
            (number(64, 8), number(40, 8), number(48, 8)) if zip64 else (size - 22, number(88, 4), number(92, 4))
        )
        seen, twins = dict[str, str](), ""
        for e in entries:
            twin = seen.setdefault(e.filename.lower(), e.filename)
            if twin is not e.filename and not twins:
                twins = f"two entries are named {shown(repr(twin), 120)} and {shown(repr(e.filename), 120)}"
        misplaced = (
            "its end record is not the file's last 22 bytes"
            if tail[76:80] != b"PK\x05\x06" or tail[96:] != b"\0\0"
            else "its zip64 end record is not right before its end record"
            if zip64 and (record != size - 98 or tail[:4] != b"PK\x06\x06")
            else f"its central directory is at byte {record - directory:,}, its end record says {offset:,}"
            if offset + directory != record
            else twins
        )
        if misplaced:
            return f"the file is not laid out as torch.save writes it: {misplaced}, so nothing was read"
        packed = sorted((e for e in entries if e.compress_type != zipfile.ZIP_STORED), key=lambda e: -e.file_size)
        if packed:
            name, verb = shown(repr(packed[0].filename), 120), "is" if len(packed) == 1 else "are"
            return (
                f"{len(packed):,} of its zip entries {verb} compressed ({name} expands {packed[0].compress_size:,} "
                f"bytes to {packed[0].file_size:,}), which torch.save never writes, so none was expanded; save the "
                "tensors again with torch.save"
            )
        declared = sum(e.file_size for e in entries)  # entries pointing at one stored block declare more
        if declared > size:
            return (
                f"the file is damaged or not a PyTorch checkpoint (zip: its entries declare {declared:,} bytes, more "
                f"than the file's {size:,})"
            )
        return ""

    def nested(fh, size: int) -> str:  # a pickle nesting past 1,000 levels, as vibench.runtime.checkpoint_pickle says:
        import io  # unpickling hashes a key in C a frame a level (a key 200,000 tuples deep crashed the process)
        import pickletools
        import zipfile

        def deepest(stream, pickles: int):  # the byte of the first opcode nesting past 1,000 levels, or None
            fills = ("APPEND", "APPENDS", "SETITEM", "SETITEMS", "ADDITEMS", "BUILD")  # the container stays
            for _ in range(pickles):
                stack, marks, memo = list[int](), list[int](), dict[object, int]()  # depths; where MARKs are
                for op, arg, byte in pickletools.genops(stream):  # its ValueError where the pickle is damaged
                    if op.name == "MARK":
                        marks.append(len(stack))
                    elif op.name in ("PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE") and stack:
                        memo[len(memo) if op.name == "MEMOIZE" else arg] = stack[-1]
                    elif op.name in ("GET", "BINGET", "LONG_BINGET") or (op.name == "DUP" and stack):
                        stack.append(stack[-1] if op.name == "DUP" else memo.get(arg, 0))
                    elif op.name == "POP" and marks and len(stack) == marks[-1]:  # nothing above it: POP takes the MARK
                        marks.pop()
                    else:
                        taken, below = [], len(op.stack_before)
                        if pickletools.markobject in op.stack_before:
                            below, taken = op.stack_before.index(pickletools.markobject), stack[marks[-1] :]
                            del stack[marks.pop() :]
                        if below > len(stack):
                            raise ValueError("the stack runs out")
                        held = stack[len(stack) - below :]
                        del stack[len(stack) - below :]
                        if op.name in fills:
                            stack.append(max([held[0], *(1 + depth for depth in held[1:] + taken)]))
                        else:
                            stack.extend([1 + max(held + taken) if held or taken else 0] * len(op.stack_after))
                    if len(marks) > 1000 or (stack and stack[-1] > 1000):
                        return byte or 0
            return None

        spans = [(0, size, 5, "")]  # a legacy file: a magic number, the protocol, sizes, the object, storage keys
        fh.seek(0)
        if fh.read(4) == b"PK\x03\x04":  # the stored .pkl entries, from their local headers (torch checks no CRC)
            with zipfile.ZipFile(fh) as archive:  # its close leaves fh open
                spans = []
                for e in (e for e in archive.infolist() if e.filename.lower().endswith(".pkl")):
                    fh.seek(e.header_offset)
                    header = fh.read(30)
                    start = e.header_offset + 30 + sum(int.from_bytes(header[k : k + 2], "little") for k in (26, 28))
                    spans.append((start, e.compress_size, 1, " " + shown(repr(e.filename), 120)))
        for start, length, pickles, where in spans:
            fh.seek(start)
            try:
                stream = fh if pickles > 1 else io.BytesIO(fh.read(max(0, min(length, size - start))))
                byte = deepest(stream, pickles)
            except Exception:  # damaged: torch's reader stops there too and says why
                byte = None
            if byte is not None:
                return (
                    f"its pickle{where} nests objects more than 1000 levels deep (at byte {byte:,}); vibench reads no "
                    "checkpoint nested so deep, as unpickling it could crash torch's reader: save the model's "
                    "state_dict alone"
                )
        return ""

    def read(path):  # torch.load on the CPU, tensors only; a file it cannot read is an error saying why
        import os  # here only: model.py's imports stay torch's and the helpers' (math, re)
        import stat

        path = os.fsdecode(path)  # a bytes path too: torch.load takes what is no str or os.PathLike for an open file
        place = shown(path, 200)
        try:  # the OS's reason is the open's only: torch.load's OSError is the file's (see unreadable)
            fh = open(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb")  # a FIFO: no wait
            try:
                status = os.fstat(fh.fileno())
                regular = stat.S_ISREG(status.st_mode)
                head = fh.read(4) if regular else b""
                zipped = unzipped(fh, status.st_size) if head == b"PK\x03\x04" else ""
            except BaseException:
                fh.close()
                raise
        except (OSError, ValueError) as err:  # ValueError: a path holding NUL
            raise error(f"cannot read the checkpoint {place}: {getattr(err, 'strerror', None) or err}") from None
        with fh:  # torch.load reads the file checked (the path opened again could be another by then)
            if not regular:
                raise error(f"cannot read the checkpoint {place}: it is not a regular file")
            if head[:4] != b"PK\x03\x04" and head[:1] != b"\x80":  # torch.save's zip archive; a legacy pickle
                found = "it is empty" if not head else f"it starts with {head!r}"
                raise error(f"{place} is not a PyTorch checkpoint (torch.save writes a zip archive; {found})")
            try:  # the pickle's nesting, read before torch.load builds (and hashes) what it holds
                problem = zipped or nested(fh, status.st_size)
                if not problem:
                    fh.seek(0)
                    return torch.load(fh, map_location="cpu", weights_only=True)
            except Exception as err:  # torch.load raises many kinds for a damaged or unsafe file
                raise error(unreadable(place, err)) from None
            raise error(f"cannot read the checkpoint {place}: {problem}")

    if isinstance(state_dict, (str, bytes)) or hasattr(state_dict, "__fspath__"):  # a path: tensors only
        state_dict = read(state_dict)
    if isinstance(state_dict, dict) and isinstance(state_dict.get("state_dict"), dict):
        state_dict = state_dict["state_dict"]  # a Lightning checkpoint
    if not isinstance(state_dict, dict):
        raise error(f"a reference checkpoint is a mapping of names to tensors, found {type(state_dict).__name__}")
    # A rename's time grows with a key's length; the library's longest model key has 84 characters.
    long = [f"{key(k)} ({len(k):,} characters)" for k in state_dict if isinstance(k, str) and len(k) > 1024]
    if long:
        raise error(f"a reference checkpoint's keys have at most 1,024 characters; nothing was loaded: {listing(long)}")
    # As written, or the keys that start with `prefix`, without it (a Lightning module's; TCN's own keys start with
    # `network.` too: the reading that names more of the model's keys).
    ours = {
        k[len(prefix) :]: v for k, v in state_dict.items() if prefix and isinstance(k, str) and k.startswith(prefix)
    }
    named = [len({renamed(k) for k in entries} & own.keys()) for entries in (ours, state_dict)]
    if ours and (not any(k.startswith(prefix) for k in own) or named[0] > named[1]):
        state_dict = ours
    bad = [f"{key(k)} ({flaw(v) or 'Tensor'})" for k, v in state_dict.items() if flaw(v) or not isinstance(k, str)]
    if bad:
        expanded = any(flaw(v).startswith("expanded") for v in state_dict.values())
        hint = ". An expanded tensor holds more elements than it stores: save it .contiguous()" if expanded else ""
        raise error(f"a reference checkpoint maps names (str) to tensors; entries that do not {listing(bad)}{hint}")
    for k, v in state_dict.items():
        new = renamed(k)
        # values are compared only at a key of the model's, of its shape: no more elements than the model has
        mismatched = new not in own or own[new].shape != v.shape  # reported below
        if new in converted and not (converted[new].shape == v.shape and (mismatched or same(converted[new], v))):
            first = next(s for s in state_dict if renamed(s) == new)
            raise error(
                f"reference keys collide after renaming: {key(first)} and {key(k)} hold different tensors and both "
                f"map to {key(new)}"
            )
        converted[new] = v
    missing, unexpected = sorted(own.keys() - converted.keys()), sorted(converted.keys() - own.keys())
    mismatched = sorted(
        f"{key(k)} (model {form(own[k])}, checkpoint {form(converted[k])})"
        for k in own.keys() & converted.keys()
        if kind(own[k]) != kind(converted[k])
    )
    problems = [f"shape or dtype mismatch {listing(mismatched)}"] if mismatched else []
    for what, keys in (("missing", missing), ("unexpected", unexpected)) if strict else ():
        if keys:
            problems.append(f"{what} {listing([key(k) for k in keys])}")
    if problems:
        raise error(
            f"the reference checkpoint does not fit {name} after renaming; nothing was loaded: " + "; ".join(problems)
        )
    backup = {k: own[k].detach().clone() for k in converted.keys() & own.keys()}
    try:
        model.load_state_dict({k: converted[k] for k in backup}, strict=False)
    except Exception as err:
        current = model.state_dict()
        with torch.no_grad():  # in place, past the loading hooks that may have raised
            for k, value in backup.items():
                current[k].copy_(value)
        raise error(f"loading the reference checkpoint into {name} failed ({err}); the model was restored") from err
    return missing, unexpected
