"""Spectral helpers: real FFT and its inverse (torch.fft), and complex -> real element-wise maps.

Complex tensors are typed: ``rfft`` gives complex64 for float32 input (complex128 for float64),
``irfft``, ``real`` and ``imag`` need a complex input, and ``abs`` gives the real magnitude. A
spectral model typically reads ``rfft -> abs`` (an amplitude spectrum) or ``rfft -> ... -> irfft``.
A float16 or bfloat16 signal (in a model cast with ``.half()`` or ``.bfloat16()``) is transformed in
float32: its spectrum is complex64.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from vibench.compiler.blocks.base import COMPLEX_DTYPES, NUMERIC_DTYPES, Block, ShapeContext, norm_axis, numel
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.code import Code, non_default
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim
from vibench.schemas.blocks import BlockParams, NoParams


class RfftParams(BlockParams):
    n: int | None = Field(None, ge=1, description="Signal length (crop or zero-pad); default: the input's.")
    dim: int = Field(-1, description="Dimension to transform.")
    norm: Literal["backward", "ortho", "forward"] = Field("backward", description="Normalisation mode.")


class IrfftParams(BlockParams):
    n: int | None = Field(None, ge=1, description="Output length; default 2 * (m - 1) for m input bins.")
    dim: int = Field(-1, description="Dimension to transform.")
    norm: Literal["backward", "ortho", "forward"] = Field("backward", description="Normalisation mode.")


TO_COMPLEX = {"float32": "complex64", "float64": "complex128"}
TO_REAL = {complex_: real for real, complex_ in TO_COMPLEX.items()}
REAL_FFT_DTYPES = frozenset(TO_COMPLEX)  # torch.fft on CPU has no half-precision kernels


def _fft_flops(numel_: Dim, n: int | None) -> Dim:
    """About 5 N log2 N per transform of length N: ``5 * numel * log2(n)`` when n is known, else
    ``5 * numel`` (a symbolic length has no log in the dimension algebra)."""
    return 5 * numel_ * max(1, (n - 1).bit_length()) if n is not None else 5 * numel_


@register
class Rfft(Block):
    """Real-input FFT along one dimension (torch.fft.rfft): n real samples -> n // 2 + 1 complex bins.

    The transformed dimension of length L becomes ``n // 2 + 1`` (n defaults to L; a given n crops or
    zero-pads). float32 input gives complex64, float64 gives complex128. In a model cast with ``.half()``
    or ``.bfloat16()`` the input is transformed in float32 (torch's FFT has no bfloat16 kernels, and half
    ones only on CUDA for powers of two), as the FFT natives do: the spectrum is complex64, and ``abs``,
    ``real``, ``imag`` or ``irfft`` of it float32.
    """

    name = "rfft"
    Params = RfftParams
    category = "spectral"
    test_ranks = (2, 3)
    test_dtypes = ("float32", "float64")
    fresh_output = True  # the transform's backward needs neither its input nor its output

    def infer(self, p: RfftParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.dtype("x", t, REAL_FFT_DTYPES, "float32 or float64 (a real signal)")
        axis = norm_axis(ctx, p.dim, len(t.shape))
        n = t.shape[axis] if p.n is None else p.n
        shape = list(t.shape)
        shape[axis] = n // 2 + 1
        return [TensorType(tuple(shape), TO_COMPLEX[t.dtype])]

    def flops(self, p: RfftParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return _fft_flops(numel(ins[0]), p.n if p.n is not None else _known(ins[0].shape[p.dim]))

    def call_code(self, p: RfftParams, args: list[Code], mod: Code) -> Code:
        # At least float32: a model cast with .half() or .bfloat16() runs the transform in float32 (a no-op
        # .to() for float32 and float64); promote_types rather than a test keeps torch.fx able to trace it.
        x = args[0]
        wide = c.method(x, "to", c.call("torch.promote_types", c.attr(x, "dtype"), c.dotted("torch.float32")))
        return c.call("torch.fft.rfft", wide, n=non_default(p.n, None), dim=non_default(p.dim, -1),
                      norm=non_default(p.norm, "backward"))


@register
class Irfft(Block):
    """Inverse of rfft (torch.fft.irfft): m complex bins -> n real samples along one dimension.

    The output length is ``n`` when given, else ``2 * (m - 1)`` (which needs m >= 2). complex64
    input gives float32, complex128 gives float64.
    """

    name = "irfft"
    Params = IrfftParams
    category = "spectral"
    test_ranks = (2, 3)
    test_dtypes = ("complex64", "complex128")
    fresh_output = True

    def infer(self, p: IrfftParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        ctx.dtype("x", t, COMPLEX_DTYPES, "a complex spectrum (from rfft)")
        axis = norm_axis(ctx, p.dim, len(t.shape))
        m = t.shape[axis]
        if p.n is None:
            ctx.require(m, ">=", 2, "irfft without `n` needs at least 2 frequency bins (it gives 2 * (m - 1))",
                        param="n")
        shape = list(t.shape)
        shape[axis] = 2 * (m - 1) if p.n is None else p.n
        return [TensorType(tuple(shape), TO_REAL[t.dtype])]

    def flops(self, p: IrfftParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return _fft_flops(numel(outs[0]), p.n if p.n is not None else _known(outs[0].shape[p.dim]))

    def call_code(self, p: IrfftParams, args: list[Code], mod: Code) -> Code:
        return c.call("torch.fft.irfft", args[0], n=non_default(p.n, None), dim=non_default(p.dim, -1),
                      norm=non_default(p.norm, "backward"))


def _known(d: Dim) -> int | None:
    return d if isinstance(d, int) else None


class _ComplexPart(Block):
    Params = NoParams
    category = "spectral"
    test_ranks = (2, 3)
    test_dtypes: ClassVar[tuple[str, ...]] = ("complex64", "complex128")
    fn: ClassVar[str]
    accepts: ClassVar[frozenset[str]] = COMPLEX_DTYPES

    def infer(self, p: Any, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        if t.dtype in NUMERIC_DTYPES - self.accepts:
            raise ctx.fail(f"`{self.name}` reads a complex tensor; this input is {t.dtype}", code="E304", port="x",
                           expected=" or ".join(sorted(self.accepts)), found=t.dtype,
                           hint="the input is real already: drop this node, or use `abs` for a magnitude")
        ctx.dtype("x", t, self.accepts)
        return [TensorType(t.shape, TO_REAL.get(t.dtype, t.dtype))]

    def call_code(self, p: Any, args: list[Code], mod: Code) -> Code:
        return c.call(self.fn, args[0])


@register
class Abs(_ComplexPart):
    """Absolute value, element-wise (torch.abs): the magnitude of a complex input, |x| of a real one.

    Same shape; complex64 gives float32, complex128 gives float64, real types stay as they are.
    """

    name = "abs"
    fn = "torch.abs"
    accepts = NUMERIC_DTYPES
    test_dtypes = ("float32", "complex64", "complex128")
    fresh_output = True  # a new tensor (real and imag are views of their input)


@register
class Real(_ComplexPart):
    """Real part of a complex tensor (torch.real); same shape, complex64 -> float32, complex128 -> float64."""

    name = "real"
    fn = "torch.real"


@register
class Imag(_ComplexPart):
    """Imaginary part of a complex tensor (torch.imag); same shape, complex64 -> float32, complex128 -> float64."""

    name = "imag"
    fn = "torch.imag"
