"""Diagnostics: the one error type users see, its rendering, and "did you mean" suggestions.

Every problem with a spec becomes a :class:`Diagnostic` with a stable code (documented in
``docs/errors.md``), a source position, the node and port involved, what was expected, what was
found and a hint. Passes collect several independent diagnostics and raise them together as one
:class:`SpecError`. Rendering follows modern compilers: the source line with a caret under the
position, then ``= found`` / ``= hint`` notes. ``--format json`` prints :meth:`Diagnostic.to_json`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from vibench.compiler.ir import Pos


@dataclass(frozen=True)
class Diagnostic:
    """One problem in a spec, located and explained."""

    code: str
    message: str
    pos: Pos | None = None
    node: str | None = None
    port: str | None = None
    expected: str | None = None
    found: str | None = None
    hint: str | None = None
    severity: str = "error"
    notes: tuple[str, ...] = ()
    span: int = 1  # carets to draw under the position

    def to_json(self) -> dict:
        out: dict = {"code": self.code, "severity": self.severity, "message": self.message}
        if self.pos is not None:
            out["file"] = self.pos.file
            out["line"] = self.pos.line
            out["column"] = self.pos.col
        for key in ("node", "port", "expected", "found", "hint"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.notes:
            out["notes"] = list(self.notes)
        return out

    def render(self, sources: dict[str, str] | None = None) -> str:
        """The compiler-style text of this diagnostic (``sources`` maps file name to text)."""
        where = ""
        if self.node and f"node `{self.node}`" not in self.message:
            where = f" at node `{self.node}`"
        if self.port and f"port `{self.port}`" not in self.message:
            where += (", " if where else " at ") + f"port `{self.port}`"
        lines = [f"{self.severity}[{self.code}]: {self.message}{where}"]
        if self.pos is not None:
            lines.append(f"  --> {self.pos}")
            text = (sources or {}).get(self.pos.file)
            if text is not None and self.pos.line >= 1:
                src_lines = text.splitlines()
                if self.pos.line == len(src_lines) + 1:
                    src_lines.append("")  # the end of a file that ends with a newline
                if self.pos.line <= len(src_lines):
                    src = src_lines[self.pos.line - 1].expandtabs(1)
                    gutter = " " * len(str(self.pos.line))
                    lines.append(f"{gutter} |")
                    lines.append(f"{self.pos.line} | {src}")
                    span = self.span if self.span > 1 else _token_length(src, self.pos.col - 1)
                    caret = " " * max(self.pos.col - 1, 0) + "^" * span
                    if self.expected is not None:
                        caret += f" expected {self.expected}"
                    lines.append(f"{gutter} | {caret}")
                    lines.append(f"{gutter} |")
        elif self.expected is not None:
            lines.append(f"   = expected: {self.expected}")
        if self.found is not None:
            lines.append(f"   = found: {self.found}")
        for note in self.notes:
            lines.append(f"   = note: {note}")
        if self.hint is not None:
            lines.append(f"   = hint: {self.hint}")
        return "\n".join(lines)


def _token_length(line: str, start: int) -> int:
    """How many carets underline the value at ``start``: a quoted string, a name or number, or 1."""
    if start >= len(line):
        return 1
    quote = line[start]
    if quote in "'\"":
        end = line.find(quote, start + 1)
        return end - start + 1 if end > start else 1
    end = start
    while end < len(line) and (line[end].isalnum() or line[end] in "_-.$/#"):
        end += 1
    return max(end - start, 1)


class SpecError(Exception):
    """One or more problems in a spec. ``diagnostics`` holds them all, in source order.

    >>> import vibench
    >>> try:
    ...     vibench.check(text="vibench: 1\\nname: M\\ninputs: {x: {shape: [B, 4]}}\\n"
    ...                        "nodes: {fc: {block: lineer, in: x, out_features: 2}}\\noutputs: {y: fc}\\n")
    ... except vibench.SpecError as err:
    ...     print(err.diagnostics[0].code, err.diagnostics[0].hint)
    E110 did you mean `linear`?
    """

    def __init__(self, diagnostics: Sequence[Diagnostic], sources: dict[str, str] | None = None) -> None:
        self.diagnostics = tuple(sorted(diagnostics, key=_sort_key))
        self.sources = dict(sources or {})
        super().__init__(self.render())

    @property
    def codes(self) -> list[str]:
        return [d.code for d in self.diagnostics]

    def render(self) -> str:
        return "\n\n".join(d.render(self.sources) for d in self.diagnostics)

    def to_json(self) -> list[dict]:
        return [d.to_json() for d in self.diagnostics]


def _sort_key(d: Diagnostic) -> tuple:
    if d.pos is None:
        return ("", 0, 0, d.code)
    return (d.pos.file, d.pos.line, d.pos.col, d.code)


@dataclass
class Collector:
    """Accumulates diagnostics within a pass; ``raise_if_any`` ends the pass when there are errors."""

    sources: dict[str, str] = field(default_factory=dict)
    items: list[Diagnostic] = field(default_factory=list)
    _seen: set = field(default_factory=set)

    def add(self, diag: Diagnostic) -> None:
        key = (diag.code, diag.pos, diag.node, diag.message)
        if key not in self._seen:
            self._seen.add(key)
            self.items.append(diag)

    def extend(self, diags: Iterable[Diagnostic]) -> None:
        for d in diags:
            self.add(d)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "error"]

    def raise_if_any(self) -> None:
        if self.errors:
            raise SpecError(self.errors, self.sources)


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate a misspelt ``name`` most likely meant, or None when nothing is close."""
    import difflib  # only when there is something to suggest

    pool = sorted(set(candidates))
    matches = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    if not matches:
        lowered = {c.lower(): c for c in pool}
        if name.lower() in lowered:
            matches = [lowered[name.lower()]]
    return matches[0] if matches else None


def suggest(name: str, candidates: Iterable[str]) -> str | None:
    """A "did you mean" hint for a misspelt ``name``, or None when nothing is close."""
    match = closest(name, candidates)
    return f"did you mean `{match}`?" if match else None


def one_of(candidates: Iterable[str], limit: int = 12) -> str:
    """A short human list of valid choices."""
    pool = sorted(set(candidates))
    shown = ", ".join(f"`{c}`" for c in pool[:limit])
    return shown + (f" (and {len(pool) - limit} more)" if len(pool) > limit else "")
