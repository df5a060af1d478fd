"""Helpers the emitted model.py carries (copied by source, like native blocks), and their use.

* :func:`_check_settings` — the model class's keyword arguments: a free parameter must be of its
  declared type and within its declared bounds, as the compiler checks a value (nan is within no bound;
  None, where the type declares it, builds another structure: a head left out, so it asks for a new file;
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
  A check that tracing decides (a dtype, a rank) raises the eager message, also where the sizes are
  dynamic symbols: its failing path reads each size it names as the number it is (``range(n).stop``, a
  guard on a path that raises anyway), as dynamo cannot join a text that holds a symbol (the message was
  lost in ``missing sq_concat``). A floating input follows the model: after ``model.double()``
  (``.half()``, ``.bfloat16()``) it must have the dtype of the model's parameters (``_cast_dtype``; not
  for a model whose floating inputs differ in dtype, where the parameters say nothing of each input),
  or, with ``keep`` (an input only blocks' ``any_float_inputs`` read: a sampling rate), that or its
  declared dtype. A value that is not a tensor (a list, a number, None, a numpy array) is a TypeError
  naming the input and the conversion.
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
* ``load_reference_state_dict``, which model.py carries when the template has a reference, is in
  :mod:`vibench.compiler.codegen.reference_loader`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    import torch.nn.functional as F
    from torch import nn
else:
    from vibench.compiler.blocks.torchless import F, nn, torch


def _check_settings(model: nn.Module, given: dict, free: dict, command: str, sets: dict | None = None) -> tuple:
    name_of, fixed, values = type(model).__name__, getattr(type(model), "COMPILED_PARAMETERS", {}), {}

    def held(v: object) -> object:  # a numpy scalar or 0-d tensor: the Python value it holds
        if type(v).__module__ in ("numpy", "torch") and getattr(v, "ndim", 1) == 0 and hasattr(v, "item"):
            return v if getattr(v, "is_meta", False) else v.item()  # a meta tensor holds none: a wrong type
        return v

    def same(v: object, w: object) -> bool:  # as the compiler compares v with the value w it wrote, at any depth
        v = held(v)  # also in a list
        if type(w) is float and type(v) in (int, float):  # an int for a float is that float (a bool is no number)
            return v == w or (v != v and w != w)  # nan repeats nan: the same file
        if isinstance(v, (list, tuple)) and isinstance(w, (list, tuple)):  # a tuple is the list the file writes
            exact = {type(v), type(w)} <= {list, tuple}
            return exact and len(v) == len(w) and all(same(a, b) for a, b in zip(v, w, strict=True))
        if isinstance(v, dict) and isinstance(w, dict):  # keys in order: they order per-system heads and their keys
            return type(v) is type(w) is dict and list(v) == list(w) and all(same(v[k], w[k]) for k in v)
        return type(v) is type(w) and v == w

    def regenerate(name: str, value: object, compiled: str, what: str = "value") -> ValueError:
        others = "".join(f" --set {word}" for key, word in (sets or {}).items() if key != name)
        return ValueError(
            f"{name_of}: {name}={value!r} differs from the {what} this file was compiled and shape-"
            f"checked with ({compiled}); regenerate it: {command}{others} --set {name}=..."
        )

    for name, value in given.items():
        value = held(value)
        if name in free:
            values[name] = value
            kinds, ge, gt, le, lt, wanted = free[name]
            if value is None and None in kinds:  # declared (`int | None`), but another model: a head left out
                raise regenerate(name, value, wanted, "values")
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
            raise regenerate(name, value, repr(fixed[name]))
    return tuple(values[name] for name in free)


def _require(model: nn.Module, ok: bool, message: str, found: list[tuple[str, int, str]] | tuple = ()) -> None:
    text = f"{type(model).__name__}: {message}"
    if torch.compiler.is_compiling() and not isinstance(ok, bool):  # a symbolic size: the check stays in the graph
        torch._check(ok, lambda: text)
    elif not ok:  # also while tracing (dynamo: `raised exception ValueError(text)`); range(): a dynamic size's number
        sizes = ", ".join(f"{what} = {range(value).stop} ({where})" for what, value, where in found if where)
        so = " and ".join(f"{what} = {range(value).stop}" for what, value, where in found if not where)
        raise ValueError(text + (f"; found {sizes}" if sizes else "") + (f", so {so}" if so else ""))


def _same_size(model: nn.Module, first: str, size: int, second: str, other: int, symbol: str) -> None:
    message, same = f"inputs `{first}` and `{second}` share the size `{symbol}`", other == size
    if torch.compiler.is_compiling() and not isinstance(same, bool):  # a traced message holds constants only
        _require(model, same, message)
    elif not same:  # range(): the numbers also of dynamic sizes (see _check_input)
        _require(model, False, f"{message}; found {range(size).stop} and {range(other).stop}")


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
    if torch.compiler.is_compiling() and not isinstance(ok, bool):  # a symbolic size: constants only (export)
        _require(model, ok, f"input `{name}` must be {shape} {wanted}")
    elif not ok:  # also while tracing, where a dtype, a rank or a fixed size decided it: the eager message
        hint = _input_hint(model, name, x, to, sizes, shape, bool(floats))
        found = tuple(range(n).stop for n in x.shape)  # range(): numbers, also of dynamic sizes (a guard)
        _require(model, ok, f"input `{name}` must be {shape} {wanted}; found {found} {x.dtype}{hint}")
    if torch.compiler.is_compiling():  # decided while tracing (a dynamic batch of 0 passes)
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
    shape = [range(n).stop for n in x.shape]  # numbers, also where tracing made them symbols (see _check_input)
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
