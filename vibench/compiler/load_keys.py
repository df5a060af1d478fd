"""A mapping's keys as the composer of :mod:`vibench.compiler.load_compose` puts them (:class:`MappingKeys`, a
mixin of its ``_Composer``): a key that repeats one of its mapping's is E005, or in a lenient read (a PHM-Vibench
config's) listed with both positions, the last value kept as PyYAML keeps it; a mapping or sequence written as a
key is E001; ``<<`` keys are collected while their mapping is built and merged when it ends, its own keys
winning (a ``<<`` of anything but mappings is E001). Separate from the composer's event loop, which puts a new
string key itself and calls here for every other one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vibench.compiler.ir import Pos
from vibench.compiler.load_numbers import _MERGE

if TYPE_CHECKING:
    from vibench.compiler.diagnostics import SpecError
    from vibench.compiler.load_compose import Loc


class MappingKeys:
    """The composer's mapping keys (a mixin of :class:`vibench.compiler.load_compose._Composer`). A frame is one
    container being built, as ``_Composer._document`` keeps it: ``[is_map, container, loc, pending_key, ...,
    merges | None, ...]``, ``pending_key`` the (key, position, event) whose value is being built."""

    if TYPE_CHECKING:  # the composer's
        file: str
        duplicates: list | None

        def error(self, code: str, message: str, mark: Any, error: type[SpecError] = SpecError,
                  **kw: Any) -> SpecError: ...

        def _written(self, pos: tuple[int, int]) -> tuple[int, int]: ...

    def _put(self, frame: list, key: Any, key_pos: tuple[int, int], key_event: Any, value: Any, loc: Loc,
             stack: list) -> None:
        if key is _MERGE:
            frame[6] = [*(frame[6] or ()), (value, loc, key_event)]
            return
        if isinstance(key, (dict, list)):
            raise self.error("E001", "mapping keys must be plain scalars", key_event.start_mark,
                             found="a mapping or sequence used as a key")
        if key in frame[1] and self.duplicates is not None:  # PyYAML's way: the last one wins
            path = tuple((f[3][0] if f[3] is not None else None) if f[0] else len(f[1])
                         for f in stack[:-1]) + (key,)
            first = frame[2].children[key][0]
            repeat = (key_event.start_mark.line + 1, key_event.start_mark.column + 1)
            self.duplicates.append((path, Pos(self.file, *self._written(repeat)),
                                    Pos(self.file, *self._written(first))))
        elif key in frame[1]:
            raise self.error("E005", f"duplicate key `{key}`", key_event.start_mark,
                             hint="each key may appear once in a mapping; YAML would silently keep the last")
        frame[1][key] = value
        frame[2].children[key] = (key_pos, loc)

    def _apply_merges(self, frame: list) -> None:
        for value, loc, key_event in frame[6]:
            sources = value if isinstance(value, list) else [value]
            locs = loc.children if isinstance(value, list) else [loc]
            for src, src_loc in zip(sources, locs, strict=False):
                if not isinstance(src, dict):
                    raise self.error("E001", "`<<` merges only mappings", key_event.start_mark)
                for k, v in src.items():
                    if k not in frame[1]:
                        frame[1][k] = v
                        frame[2].children[k] = src_loc.children[k]
