"""The components a unit chose, for W104's wording (:mod:`vibench.compiler.build_warnings`): those built inside a unit
(:func:`inner_components`), the chosen ones by name with the nodes that build them (:class:`ChosenComponents`), and
where a `with:` key is written in the source texts (:class:`KeyColumns`). Each reads the built units or the texts;
none writes anything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from vibench.compiler.dead_keys import ReadersMemo, component_readers
from vibench.compiler.ir import Instance, Node, NodeDef, Pos, Unit
from vibench.compiler.unread_params import stem


def inner_components(unit: Unit, seen: dict[int, list[str]]) -> list[str]:
    """The components (spec files) built inside ``unit``, each once, in order, those inside them too; through its
    own `blocks:` (H_09_multiple_task's TaskHeads), which are no components. ``seen``: each unit's, by id (a unit
    that many copies share is walked once)."""
    found = seen.get(id(unit))
    if found is None:
        inside: dict[str, None] = {}
        for node in unit.nodes:
            for copy in node.copies:
                if copy.unit is not None:
                    if "#" not in copy.unit.qualname:
                        inside[stem(copy.unit.qualname)] = None
                    inside.update(dict.fromkeys(inner_components(copy.unit, seen)))
        found = seen[id(unit)] = list(inside)
    return found


class ChosenComponents:
    """The components that the composite nodes built (``chosen``) are, by name (`B_08_PatchTST`), in the order they
    are built: each copy's own (a `for_each` over ``ensemble_backbones`` builds one backbone a copy). ``nodes``: each
    component -> the nodes that build it, as messages name them (a copy of a `for_each` over a mapping, which is a
    node named by its key, by that key and its node: ``groups`` maps such a node to its keys); :meth:`value`: what
    its first copy holds for a parameter. One pass over the copies."""

    def __init__(self, chosen: list[Node], groups: Mapping[str, tuple[str, ...]]) -> None:
        group_of = {key: name for name, keys in groups.items() for key in keys}
        self.nodes: dict[str, list[str]] = {}
        self.first: dict[str, Instance] = {}
        self.readers: ReadersMemo = {}  # what in a component reads its parameters (:meth:`idle_in`)
        for node in chosen:
            named = (f"copy `{node.name}` of node `{group_of[node.name]}`" if node.name in group_of
                     else f"node `{node.name}`")
            for copy in node.copies:
                name = stem(copy.block or node.block)
                self.first.setdefault(name, copy)
                built = self.nodes.setdefault(name, [])
                if not built or built[-1] != named:  # (a node's copies come one after another)
                    built.append(named)

    def shown(self) -> str:
        """The components, each with those built inside it: `B_11_MomentumEncoder (its B_04_Dlinear)`."""
        seen: dict[int, list[str]] = {}
        out = []
        for name, copy in self.first.items():
            inner = inner_components(copy.unit, seen) if copy.unit is not None else []
            out.append(f"{name} (its {', '.join(inner)})" if inner else name)
        return ", ".join(out)

    def value(self, component: str, param: str) -> Any:
        """The value of parameter ``param`` of the first copy of ``component`` (None: it has none)."""
        unit = self.first[component].unit
        return None if unit is None else next((v for k, v in unit.params if k == param), None)

    def declaring(self, param: str) -> list[str]:
        """The components whose (first copy's) unit declares ``param``."""
        return [name for name, copy in self.first.items()
                if copy.unit is not None and any(k == param for k, _ in copy.unit.params)]

    def idle_in(self, param: str) -> tuple[str, list[NodeDef]] | None:
        """The first component chosen that declares ``param`` and reads it only in nodes it does not build
        (E_01_HSE_v2's prompt layers at `use_prompt: false`), with those nodes; None when there is none."""
        for name in self.declaring(param):
            unit = self.first[name].unit
            if unit is None or unit.definition is None or param not in unit.unread:
                continue
            readers, _ = component_readers(unit, {param}, self.readers)  # (a `for_each` copy is built: by position)
            if param in readers:
                return name, readers[param]
        return None


class KeyColumns:
    """The lines of the compilation's source texts, each file split once (at need)."""

    def __init__(self, sources: Mapping[str, str]) -> None:
        self.sources = sources
        self.lines: dict[str, list[str]] = {}

    def key_pos(self, pos: Pos | None, key: str) -> Pos | None:
        """Where the key ``key`` of the value at ``pos`` is written on its line (`  prompt_dim: 8`, `{prompt_dim: 8}`,
        `"prompt_dim": 8`); ``pos`` when it is not there (a block value is set at its key already)."""
        line = self.line(pos)
        if pos is None or line is None:
            return pos
        found = re.search(r"([\"']?)" + re.escape(key) + r"\1\s*:\s*$", line[: pos.col - 1])
        return pos if found is None else Pos(pos.file, pos.line, found.start() + 1)

    def written_key(self, pos: Pos | None) -> str | None:
        """The name of the key written at ``pos`` (`in_channels` of `  in_channels: 2`), or of the key whose value
        is at ``pos`` (`{in_channels: 2}`); None where no key is there (a value a base config gave)."""
        line = self.line(pos)
        if pos is None or line is None:
            return None
        found = re.match(r"([\"']?)([A-Za-z_]\w*)\1\s*:(\s|$)", line[pos.col - 1:]) or re.search(
            r"([\"']?)([A-Za-z_]\w*)\1\s*:\s*$", line[: pos.col - 1])
        return None if found is None else found.group(2)

    def line(self, pos: Pos | None) -> str | None:
        """The line of its file that ``pos`` stands on (None: no such line of a source text)."""
        if pos is None or pos.file not in self.sources:
            return None
        if pos.file not in self.lines:
            self.lines[pos.file] = self.sources[pos.file].splitlines()
        lines = self.lines[pos.file]
        return lines[pos.line - 1] if 0 < pos.line <= len(lines) else None
