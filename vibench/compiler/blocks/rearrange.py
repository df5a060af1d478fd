"""einops-style ``rearrange``: split, merge and reorder axes with a readable pattern.

The pattern is parsed here, in Python, at compile time (no einops dependency), and the emitted code
is straight-line torch — ``unflatten`` for splits, ``permute`` for reordering, ``flatten`` for merges,
``squeeze``/``unsqueeze`` for unit axes — so model.py needs nothing but torch and scripts with
``torch.jit.script``::

    b c (n p) -> b n (p c)   with sizes {p: 16}
    x.unflatten(2, (-1, 16)).permute(0, 2, 3, 1).flatten(2, 3)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import Field

from vibench.compiler.blocks.base import ALL_DTYPES, Block, ShapeContext, ShapeError
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.code import Code
from vibench.compiler.ir import TensorType
from vibench.compiler.registry import register
from vibench.compiler.symbolic import Dim, product
from vibench.schemas.blocks import BlockParams


class RearrangeParams(BlockParams):
    pattern: str = Field(
        description="einops-style pattern, e.g. 'b c (n p) -> b n (p c)'; parentheses split or merge axes."
    )
    sizes: dict[str, int] = Field(
        default_factory=dict, description="Sizes of axes that a split cannot infer, e.g. {p: 16}."
    )

    def __hash__(self) -> int:  # dict field: hash by its sorted items
        return hash((self.pattern, tuple(sorted(self.sizes.items()))))


Group = tuple[str, ...]
"""The named axes of one dimension: one name, several (a parenthesised merge), or none (a unit axis)."""

_TOKEN = re.compile(r"\(|\)|[^\s()]+")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class PatternError(ValueError):
    """A malformed pattern; the message says what is wrong, without the pattern itself."""


@dataclass(frozen=True)
class Pattern:
    """A parsed pattern: one :data:`Group` per input dimension (left) and per output dimension (right).

    >>> parse_pattern("b c (n p) -> b n (p c)")
    Pattern(left=(('b',), ('c',), ('n', 'p')), right=(('b',), ('n',), ('p', 'c')))
    >>> parse_pattern("b 1 l -> b l ()").right
    (('b',), ('l',), ())
    """

    left: tuple[Group, ...]
    right: tuple[Group, ...]

    @property
    def left_axes(self) -> list[str]:
        return [a for g in self.left for a in g]

    @property
    def right_axes(self) -> list[str]:
        return [a for g in self.right for a in g]


def parse_pattern(text: str) -> Pattern:
    """Parse ``left -> right`` (raises :class:`PatternError`); each axis at most once per side."""
    sides = text.split("->")
    if len(sides) != 2:
        raise PatternError("a pattern has exactly one `->` between the input and the output axes")
    left, right = (_parse_side(s, name) for s, name in zip(sides, ("left", "right"), strict=True))
    return Pattern(left, right)


def _parse_side(text: str, side: str) -> tuple[Group, ...]:
    groups: list[Group] = []
    seen: set[str] = set()
    current: list[str] | None = None  # members of an open parenthesis
    for token in _TOKEN.findall(text):
        if token == "(":
            if current is not None:
                raise PatternError(f"nested parentheses on the {side} side")
            current = []
        elif token == ")":
            if current is None:
                raise PatternError(f"`)` without `(` on the {side} side")
            groups.append(tuple(current))
            current = None
        elif token == "1":
            if current is None:
                groups.append(())  # a unit axis; inside parentheses it contributes nothing
        elif _NAME.match(token):
            if token in seen:
                raise PatternError(f"axis `{token}` appears twice on the {side} side")
            seen.add(token)
            if current is None:
                groups.append((token,))
            else:
                current.append(token)
        else:
            raise PatternError(f"`{token}` is not an axis name (letters, digits and _), `1`, `(` or `)`")
    if current is not None:
        raise PatternError(f"`(` without `)` on the {side} side")
    if not groups:
        raise PatternError(f"the {side} side names no axes")
    return tuple(groups)


def _group_text(group: Group) -> str:
    if not group:
        return "1"
    return group[0] if len(group) == 1 else "(" + " ".join(group) + ")"


@register
class Rearrange(Block):
    """Split, merge and reorder axes with an einops-style pattern, e.g. 'b c (n p) -> b n (p c)'.

    Each side lists one entry per dimension: an axis name, a parenthesised group of axes (split on
    the left, merged on the right) or ``1`` for a unit axis. Both sides name the same axes. A split
    may leave one axis size unknown (it is inferred, and the dimension must divide by the others);
    give the rest in ``sizes``. ``[B, C, L]`` with ``b c (n p) -> b n (p c)``, ``sizes: {p: 16}``
    gives ``[B, L // 16, 16 * C]`` and requires ``L % 16 == 0``.
    """

    name = "rearrange"
    Params = RearrangeParams
    category = "shape"
    test_ranks = (3, 4)
    test_hints = {
        ("pattern", "sizes"): (
            ("b c l -> b l c", {}),
            ("b c (n p) -> b n (p c)", {"p": 4}),
            ("b c (n p) -> (b n) c p", {"p": 2}),
            ("b c (n p) -> b n p c", {"n": 2}),
            ("b c l -> b (c l)", {}),
            ("b c l -> (l b) c", {}),
            ("b c l -> b 1 c l", {}),
            ("(b 1) c l -> b c l ()", {}),
            ("b c (l p q) -> b (q c) p l", {"p": 2, "q": 2}),
            ("b c (x y) -> b c x y", {"x": 2, "y": 2}),
            ("b c h w -> b (c h) w", {}),
            ("b c h w -> b w h c", {}),
            ("b c h w -> (b c) (h w)", {}),
            ("b c h (w p) -> b c (h w) p", {"p": 2}),
        ),
    }

    def pattern(self, p: RearrangeParams, ctx: ShapeContext) -> Pattern:
        """The parsed and checked pattern (``ctx.fail`` naming the pattern when it is malformed)."""
        try:
            pat = parse_pattern(p.pattern)
        except PatternError as err:
            raise self._fail(ctx, p, str(err)) from None
        left, right = pat.left_axes, pat.right_axes
        only_left = [a for a in left if a not in right]
        only_right = [a for a in right if a not in left]
        if only_left or only_right:
            parts = []
            if only_left:
                parts.append(f"{_names(only_left)} only on the left")
            if only_right:
                parts.append(f"{_names(only_right)} only on the right")
            raise self._fail(ctx, p, "both sides must name the same axes: " + "; ".join(parts),
                             hint="rearrange moves axes; to drop or add one use a reduction, `slice` or "
                                  "`1` (a unit axis)")
        for axis, size in sorted(p.sizes.items()):
            if axis not in left:
                raise self._fail(ctx, p, f"`sizes` names axis `{axis}`, which the pattern does not have",
                                 param="sizes", hint=f"the axes are {_names(left)}")
            if isinstance(size, bool) or size < 1:
                raise self._fail(ctx, p, f"`sizes` gives axis `{axis}` the size {size}", param="sizes",
                                 expected="a positive integer")
        for group in pat.left:
            unknown = [a for a in group if a not in p.sizes]
            if len(group) > 1 and len(unknown) > 1:
                raise self._fail(ctx, p, f"the split {_group_text(group)} has more than one unknown size "
                                 f"({_names(unknown)})", param="sizes",
                                 hint=f"give all but one of them in `sizes`, e.g. sizes: {{{unknown[-1]}: ...}}")
        return pat

    def _fail(self, ctx: ShapeContext, p: RearrangeParams, message: str, *, param: str = "pattern",
              expected: str | None = None, hint: str | None = None) -> ShapeError:
        # E112: the parameters contradict themselves, whatever the input (shape problems stay E301).
        return ctx.fail(f"rearrange pattern '{p.pattern}': {message}", code="E112", param=param, expected=expected,
                        found=p.pattern if param == "pattern" else repr(dict(sorted(p.sizes.items()))), hint=hint)

    def infer(self, p: RearrangeParams, ins: list[TensorType], ctx: ShapeContext) -> list[TensorType]:
        (t,) = ins
        pat = self.pattern(p, ctx)
        ctx.rank("x", t, len(pat.left), "[" + ", ".join(_group_text(g) for g in pat.left) + "]")
        ctx.dtype("x", t, ALL_DTYPES)
        size: dict[str, Dim] = {}
        for k, (group, dim) in enumerate(zip(pat.left, t.shape, strict=True)):
            what = f"dimension {k} (`{_group_text(group)}` in '{p.pattern}')"
            if not group:
                ctx.equal(dim, 1, port="x", what=what, t=t, param="pattern")
                continue
            known = product([p.sizes[a] for a in group if a in p.sizes])
            unknown = [a for a in group if a not in p.sizes]
            if not unknown:
                ctx.equal(dim, known, port="x", what=what, t=t, param="sizes")
            elif isinstance(known, int) and known > 1:
                ctx.require(dim, "%", known, f"{what} splits into parts of {known}", param="sizes")
            for a in group:
                size[a] = p.sizes[a] if a in p.sizes else dim // known
        shape = tuple(product([size[a] for a in group]) for group in pat.right)
        return [TensorType(shape, t.dtype)]

    def flops(self, p: RearrangeParams, ins: list[TensorType], outs: list[TensorType]) -> Dim:
        return 0

    def call_code(self, p: RearrangeParams, args: list[Code], mod: Code) -> Code:
        pat = parse_pattern(p.pattern)  # infer has checked it
        code = args[0]
        # 1. Split groups and drop unit axes, right to left so earlier positions stay valid.
        for k in range(len(pat.left) - 1, -1, -1):
            group = pat.left[k]
            if not group:
                code = c.method(code, "squeeze", k)
            elif len(group) > 1:
                parts = [p.sizes.get(a, -1) for a in group]
                code = c.method(code, "unflatten", k, tuple(parts))
        # 2. Reorder the elementary axes into the right side's order.
        left, right = pat.left_axes, pat.right_axes
        order = [left.index(a) for a in right]
        if order != list(range(len(order))):
            code = c.method(code, "permute", *order)
        # 3. Merge groups and insert unit axes, left to right.
        for k, group in enumerate(pat.right):
            if not group:
                code = c.method(code, "unsqueeze", k)
            elif len(group) > 1:
                code = c.method(code, "flatten", k, k + len(group) - 1)
        return code


def _names(axes: list[str]) -> str:
    return ", ".join(f"`{a}`" for a in axes)
