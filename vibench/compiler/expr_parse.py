"""Parsing ``${...}`` templates (see :mod:`vibench.compiler.expr`): text -> :class:`Template`.

A template's expressions are parsed with :mod:`ast` and checked against the allowed syntax (nodes,
calls of :data:`~vibench.compiler.expr_functions.FUNCTIONS` only, nesting, length): a failure is an
:class:`ExprError` with ``syntax=True``. Also the helpers that read parsed values: plain names that
stand for ``${name}`` (:func:`bare_name`, :func:`written_name`...) and the names a template reads.
"""

from __future__ import annotations

import ast
import functools
import io
import keyword
import tokenize
import unicodedata
import warnings
from collections.abc import Callable
from typing import Any, TypeGuard

from vibench.compiler.expr_functions import FUNCTIONS, MAX_EXPR_CHARS, MAX_NESTING, ExprError
from vibench.compiler.ir import Pos, Template

# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------


def has_template(value: str) -> bool:
    return "${" in value


class _TextCache(dict[str, Any]):
    """What was computed from a template's text, by text: specs and aliases repeat the same short templates. Bounded
    by the characters of the texts it holds, not by their number (a process lives long: the language server's),
    and a text longer than :data:`_CACHED_TEXT` is never held: 400 distinct 90 KB templates held 80 MB, 60 of 4 MB
    600 MB. A parsed expression takes about 200 bytes per character at most (one syntax node per character)."""

    __slots__ = ("chars",)

    def __init__(self) -> None:
        super().__init__()
        self.chars = 0  # the characters of the texts held

    def keep(self, text: str, value: Any) -> None:
        if len(text) > _CACHED_TEXT:
            return
        self.chars += len(text)
        if self.chars > _CACHE_CHARS:  # start again: the templates in use come back at once
            self.clear()
            self.chars = len(text)
        self[text] = value

    def clear(self) -> None:
        super().clear()
        self.chars = 0


_CACHED_TEXT = 4_096  # characters: a template longer than this is parsed each time it is read
_CACHE_CHARS = 250_000  # characters held by each cache: about 50 MB of syntax trees at most, 18 MB as specs write
_PARSED = _TextCache()  # template text -> its parts


def parse_template(text: str, pos: Pos | None) -> Template | str:
    """Split a string into literal parts and parsed ``${...}`` expressions (ExprError on bad syntax)."""
    parts = _PARSED.get(text)
    if parts is None:
        parts = _split_template(text)
        _PARSED.keep(text, parts)
    return parts if isinstance(parts, str) else Template(text, parts, pos)


def _split_template(text: str) -> tuple | str:
    parts: list[Any] = []
    buf: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        if text.startswith("$${", i):
            buf.append("${")
            i += 3
            continue
        if text.startswith("${", i):
            end = _matching_brace(text, i + 2)
            if isinstance(end, str):
                raise ExprError(end, text, syntax=True)
            source = text[i + 2 : end].strip()
            if buf:
                parts.append("".join(buf))
                buf = []
            parts.append(parse_expression(source))
            i = end + 1
            continue
        buf.append(text[i])
        i += 1
    if buf:
        parts.append("".join(buf))
    if all(isinstance(p, str) for p in parts):
        return "".join(parts)
    return tuple(parts)


def _matching_brace(text: str, start: int) -> int | str:
    """The index of the `}` that closes the `${` before ``start``, or the message saying what is unclosed:
    a `(` or `[` still open at that `}` (`${ks[0}`), or the `${` itself when no `}` follows."""
    opened: list[int] = []  # the indices of the brackets open so far
    quote, escaped = "", False
    for j in range(start, len(text)):
        ch = text[j]
        if quote:
            if escaped:  # `'it\'s'`: the quote after a backslash does not end the string
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "{[(":
            opened.append(j)
        elif ch in ")]":
            if opened and text[opened[-1]] != "{":  # a stray closer is the parser's to report
                opened.pop()
        elif ch == "}":
            if not opened:
                return j
            if text[opened[-1]] != "{":
                return _unclosed(text, start, opened[-1], "before `}`")
            opened.pop()
    brackets = [k for k in opened if text[k] != "{"]
    if brackets:
        return _unclosed(text, start, brackets[-1], "and `}`")
    return "unclosed `${` (missing `}`)"


def _unclosed(text: str, start: int, k: int, where: str) -> str:
    closer = ")" if text[k] == "(" else "]"
    before = text[max(start, k - 20):k + 1]
    return (f"unclosed `{text[k]}` (missing `{closer}` {where}): it opens at `{before}`, "
            f"character {k - start + 1} after `${{`")


def parse_expression(source: str) -> ast.expr:
    if not source:
        raise ExprError("empty expression `${}`", source, syntax=True)
    if len(source) > MAX_EXPR_CHARS:
        raise ExprError(f"expression longer than {MAX_EXPR_CHARS} characters", source[:60] + "...", syntax=True)
    try:
        with warnings.catch_warnings():  # `${1x}`: Python's SyntaxWarning must not reach the user's terminal
            warnings.simplefilter("ignore")
            tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as err:
        detail = getattr(err, "msg", None) or str(err) or type(err).__name__
        raise ExprError(f"invalid expression: {detail}", source, syntax=True) from None
    if not source.isascii():
        _check_ascii_names(source)
    _check_allowed(tree.body, source)
    return tree.body


def _check_ascii_names(source: str) -> None:
    """E203 for a name that is not ASCII: Python reads `ｗｉｄｔｈ` as `width` (NFKC), and `wіdth` (a
    Cyrillic `і`) looks like `width` but is another name; a spec's names are ASCII (docs/language.md)."""
    try:
        tokens = [t.string for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type == tokenize.NAME]
    except (tokenize.TokenError, SyntaxError):  # (parsed already: not expected)
        return
    for name in tokens:
        if name.isascii():
            continue
        ch = next(c for c in name if not c.isascii())
        what = f"`{ch}` is U+{ord(ch):04X} ({unicodedata.name(ch, 'unnamed')})"
        normal = unicodedata.normalize("NFKC", name)
        if normal != name:
            fix = f"write `{normal}`" if normal.isascii() else _ASCII_NAMES
            raise ExprError(f"name `{name}` is not ASCII (Python reads it as `{normal}`)", source, syntax=True,
                            hint=f"{what}; {fix}")
        raise ExprError(f"name `{name}` is not ASCII", source, syntax=True,
                        hint=f"{what}, not the ASCII letter it may look like; {_ASCII_NAMES}")


_ASCII_NAMES = "a spec's names are ASCII letters, digits and underscores"


_ALLOWED_NODES = (
    ast.Constant, ast.Name, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.Subscript,
    ast.Slice, ast.List, ast.Tuple, ast.Call, ast.ListComp, ast.comprehension, ast.Load, ast.Store,
    ast.operator, ast.unaryop, ast.boolop, ast.cmpop,
)


_ALLOWED_OPERATORS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.USub, ast.UAdd,
                      ast.Not)
_OPERATOR_SYMBOLS = {ast.LShift: "<<", ast.RShift: ">>", ast.BitOr: "|", ast.BitXor: "^", ast.BitAnd: "&",
                     ast.MatMult: "@", ast.Invert: "~"}


# What the user wrote, in words (the messages said "`Dict` is not allowed", "`JoinedStr` is not allowed").
_SYNTAX_WORDS: dict[type, tuple[str, str | None]] = {
    ast.Dict: ("a mapping literal `{...}`", "write the mapping in YAML (a parameter's default, `with:`, `let:`), "
                                            "or build it with dict([[key, value], ...])"),
    ast.DictComp: ("a mapping comprehension", "build the mapping with dict([[key, value] for ...])"),
    ast.Set: ("a set literal `{...}`", "use a list [...]"),
    ast.SetComp: ("a set comprehension", "use a list comprehension [... for ...]"),
    ast.GeneratorExp: ("a generator expression", "use a list comprehension: sum([x for x in xs])"),
    ast.JoinedStr: ("an f-string", "write the text outside `${...}`: a value \"layer_${i}\" interpolates"),
    ast.Starred: ("unpacking with `*`", "join lists with +"),
    ast.Lambda: ("a lambda", None),
    ast.NamedExpr: ("assignment with `:=`", "name the value in `let:`"),
    ast.Attribute: ("attribute access", "call one of the allowed functions instead"),
    ast.Await: ("`await`", None),
}


def _check_allowed(node: ast.AST, source: str) -> None:
    stack = [(node, 1)]
    while stack:
        sub, depth = stack.pop()
        if depth > MAX_NESTING:
            raise ExprError(f"expression nests deeper than {MAX_NESTING} levels", source[:60], syntax=True,
                            hint="split it into parameters with their own expressions")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(sub))
        if not isinstance(sub, _ALLOWED_NODES):
            what, hint = _SYNTAX_WORDS.get(type(sub), (f"`{type(sub).__name__}`", None))
            raise ExprError(f"{what} is not allowed", source, syntax=True,
                            hint=hint or "spec expressions take names, literals, operators and allowed calls")
        if isinstance(sub, ast.BinOp | ast.UnaryOp) and not isinstance(sub.op, _ALLOWED_OPERATORS):
            symbol = _OPERATOR_SYMBOLS.get(type(sub.op), type(sub.op).__name__)
            raise ExprError(f"operator `{symbol}` is not allowed", source, syntax=True,
                            hint="spec expressions take + - * / // % ** on numbers (and + * on strings and lists)")
        if isinstance(sub, ast.Call):
            if isinstance(sub.func, ast.Attribute):
                raise ExprError(f"attribute access (`{ast.unparse(sub.func)}`) is not allowed", source, syntax=True,
                                hint=f"call one of the allowed functions instead: {', '.join(sorted(FUNCTIONS))}")
            if not isinstance(sub.func, ast.Name) or sub.func.id not in FUNCTIONS:
                name = sub.func.id if isinstance(sub.func, ast.Name) else ast.unparse(sub.func)
                raise ExprError(f"call of `{name}` is not allowed", source, syntax=True,
                                hint=f"allowed functions: {', '.join(sorted(FUNCTIONS))}")
            if sub.keywords:
                raise ExprError("keyword arguments are not allowed", source, syntax=True,
                                hint="pass the arguments by position")
        if isinstance(sub, ast.Constant) and not isinstance(sub.value, (int, float, str, bool, type(None))):
            raise ExprError(f"literal {sub.value!r} is not allowed", source, syntax=True)
        if isinstance(sub, ast.comprehension) and (sub.is_async or not isinstance(sub.target, ast.Name)):
            raise ExprError("comprehensions take one plain loop variable", source, syntax=True)
        if isinstance(sub, ast.Name) and sub.id.startswith("__"):
            raise ExprError(f"name `{sub.id}` is not allowed", source, syntax=True)


def parse_value(value: Any, pos: Pos | None) -> Any:
    """Replace every string with ``${...}`` in a (nested) value by a Template."""
    if isinstance(value, str):
        return parse_template(value, pos) if has_template(value) else value
    if isinstance(value, list):
        return [parse_value(v, pos) for v in value]
    if isinstance(value, dict):
        return {k: parse_value(v, pos) for k, v in value.items()}
    return value


def parse_located(value: Any, path: tuple, pos_of: Callable[[tuple], Pos | None]) -> Any:
    """:func:`parse_value` of the value at ``path`` of a document, each template at its own entry
    (``pos_of(path)``, asked only for a string holding ``${``); an ExprError carries the failing one's pos."""
    if isinstance(value, str):
        if not has_template(value):
            return value
        pos = pos_of(path)
        try:
            return parse_template(value, pos)
        except ExprError as err:
            err.pos = err.pos or pos
            raise
    if isinstance(value, list):
        return [parse_located(v, path + (i,), pos_of) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: parse_located(v, path + (k,), pos_of) for k, v in value.items()}
    return value


def bare_name(value: Any) -> str | None:
    """``value`` when it is a plain name such as ``channels``: in a field that takes no text, the name
    of a parameter, ``let`` or loop variable in scope reads its value (``out_channels: channels`` is
    ``out_channels: "${channels}"``), as a name does in a shape."""
    if isinstance(value, str) and value.isidentifier() and not keyword.iskeyword(value) and not value.startswith("__"):
        return value
    return None


def name_template(name: str, pos: Pos | None) -> Template:
    """The template a plain name stands for (``channels`` -> ``${channels}``)."""
    return Template("${" + name + "}", (_name_node(name),), pos)


def written_name(name: str, pos: Pos | None) -> Template:
    """A plain name where a template may stand, before the names pass knows whether it reads anything
    (its text is the name itself, not ``${name}``: see :func:`is_written_name`)."""
    return Template(name, (_name_node(name),), pos)


def is_written_name(value: Any) -> TypeGuard[Template]:
    return isinstance(value, Template) and "${" not in value.text


@functools.lru_cache(maxsize=4096)
def _name_node(name: str) -> ast.expr:
    return ast.Name(id=name, ctx=ast.Load())


def contains_template(value: Any) -> bool:
    if isinstance(value, Template):
        return True
    if isinstance(value, list):
        return any(contains_template(v) for v in value)
    if isinstance(value, dict):
        return any(contains_template(v) for v in value.values())
    return False


_NO_NAMES: frozenset[str] = frozenset()
_NAMES = _TextCache()  # template text -> the names it reads


def template_names(value: Any) -> frozenset[str]:
    """Every name a (nested) value's templates read."""
    if isinstance(value, Template):
        names = _NAMES.get(value.text)
        if names is None:
            found: set[str] = set()
            for part in value.parts:
                if not isinstance(part, str):
                    bound = {g.target.id for n in ast.walk(part) if isinstance(n, ast.ListComp)
                             for g in n.generators if isinstance(g.target, ast.Name)}
                    found |= {n.id for n in ast.walk(part) if isinstance(n, ast.Name) and n.id not in bound}
            names = frozenset(found)
            _NAMES.keep(value.text, names)
        return names
    if isinstance(value, list):
        return frozenset().union(*(template_names(v) for v in value)) if value else _NO_NAMES
    if isinstance(value, dict):
        return frozenset().union(*(template_names(v) for v in value.values())) if value else _NO_NAMES
    return _NO_NAMES
