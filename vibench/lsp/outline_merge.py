"""YAML's merge key in the tolerant outline: ``<<: *base``, ``<<: [*a, *b]`` or ``<<: {...}`` gives the mapping
the keys of the merged mappings that it does not write itself, as the compiler's loader does
(:meth:`vibench.compiler.load_compose.Composer._apply_merges`): the mapping's own keys win, then the earlier
merges, then the earlier mappings of a list; merged keys come after its own, in that order. A merged key keeps
the spans where it is written (in the anchored mapping), so hover, go to definition and the node's block read
as they do for a key written in place. The ``<<`` itself is no key of the outline: no node, symbol or completion
is called ``<<`` (a quoted ``"<<"`` is a plain key, as in YAML).

The scanner records, as it reads, each mapping that holds a plain ``<<`` key (:attr:`Outline.merges`) and each
plain ``*alias`` value with the path of the anchor it names (:attr:`Outline.aliases`); :func:`apply_merges`
then copies. A merge whose source is no mapping, or an alias of no anchor read before it, gives nothing (the
compiler reports it). What the copies add is counted against the outline's entries (:data:`MAX_ENTRIES`): a
chain of merges of merges, which may double at each step, ends there, as a text too large does.

>>> from vibench.lsp.outline import outline
>>> o = outline("base: &b {block: conv1d, k: 3}\\nnodes:\\n  c: {<<: *b, k: 5, in: x}\\n")
>>> o.keys(("nodes", "c")), o.value(("nodes", "c", "block")), o.value(("nodes", "c", "k"))
(['k', 'in', 'block'], 'conv1d', '5')
>>> merged_path(o, ("nodes", "c", "<<"))
('nodes', 'c')
"""

from __future__ import annotations

from vibench.lsp.outline_model import Entry, Outline, Path

MERGE = "<<"


def apply_merges(o: Outline, budget: int) -> None:
    """Give each mapping of :attr:`Outline.merges` its merged keys, then take every ``<<`` entry out; at most
    ``budget`` entries are added."""
    if not o.merges:
        return
    merger = _Merger(o, budget)
    # A merge inside what another merges is applied first, so that the copy carries its keys: each mapping that
    # holds `<<`, under each of its ancestors (a merged source is found among them in one look-up).
    for path in o.merges:
        for depth in range(len(path) + 1):
            merger.under.setdefault(path[:depth], []).append(path)
    for path in o.merges:
        if merger.budget <= 0:
            break
        merger.resolve(path)
    for path in o.merges:  # what each `<<` held (`seq`: the index after it is no key either), before any goes
        o.merges[path] = o.kind((*path, MERGE)) or "none"
    for path in o.merges:
        _remove(o, (*path, MERGE))


def merged_path(o: Outline, path: Path) -> Path:
    """``path`` as the scanner read it (through a ``<<`` and, for a list of mappings, its index) as a path of the
    merged outline: ``("nodes", "<<", "c")`` is ``("nodes", "c")``."""
    if MERGE not in path or not o.merges:
        return path
    out: list[str | int] = []
    index = 0
    while index < len(path):
        key = path[index]
        raw = path[:index]
        if key == MERGE and raw in o.merges:
            index += 2 if o.merges[raw] == "seq" and index + 1 < len(path) else 1
            continue
        out.append(key)
        index += 1
    return tuple(out)


class _Merger:
    def __init__(self, o: Outline, budget: int) -> None:
        self.o = o
        self.budget = budget
        self.under: dict[Path, list[Path]] = {}  # a path -> the mappings holding `<<` at or under it
        self.done: set[Path] = set()
        self.settled: set[Path] = set()  # sources whose merges are all applied: never looked through again

    def sources(self, path: Path) -> list[Path]:
        """The mappings the `<<` of the mapping at ``path`` merges, in order: written in place or anchored; never
        one that holds it (`&v vibench: 1` then `<<: *v`: YAML has no recursive alias, the compiler refuses it)."""
        o, at = self.o, (*path, MERGE)
        items = [(*at, index) for index in o.children.get(at, ())] if o.kind(at) == "seq" else [at]
        found = []
        for item in items:
            source = o.aliases.get(item) if o.kind(item) == "scalar" else item
            if source is not None and o.kind(source) == "map" and path[:len(source)] != source:
                found.append(source)
        return found

    def resolve(self, path: Path) -> None:
        """Merge into the mapping at ``path``, after every merge inside what it merges (without recursion: a
        chain of thousands of anchors is walked with a list)."""
        stack, waits = [path], {path}
        while stack:
            current = stack[-1]
            if current in self.done:
                waits.discard(stack.pop())
                continue
            sources = self.sources(current)
            waiting = [inner for source in sources if source not in self.settled
                       for inner in self.under.get(source, ()) if inner not in self.done and inner not in waits]
            if waiting:
                stack += waiting
                waits.update(waiting)
                continue
            self.done.add(current)
            self.settled.update(sources)
            waits.discard(stack.pop())
            for source in sources:
                self._merge(source, current)

    def _merge(self, source: Path, target: Path) -> None:
        o = self.o
        keys = o.children.setdefault(target, [])
        for key in list(o.children.get(source, ())):
            if (key == MERGE and source in o.merges) or (*target, key) in o.entries:
                continue  # the target's own key wins, as an earlier merge's does
            if not self._copy((*source, key), (*target, key)):
                return
            keys.append(key)

    def _copy(self, source: Path, target: Path) -> bool:
        """Copy the entry at ``source`` and all under it to ``target``; False when the budget ran out."""
        o = self.o
        work = [(source, target)]
        while work:
            src, dst = work.pop()
            if self.budget <= 0:
                return False
            self.budget -= 1
            entry = o.entries[src]
            o.entries[dst] = Entry(dst, entry.key_span, entry.kind, entry.value, entry.value_span, entry.end)
            children = [key for key in o.children.get(src, ()) if not (key == MERGE and src in o.merges)]
            if children:
                o.children[dst] = list(children)
                work += [((*src, key), (*dst, key)) for key in reversed(children)]
        return True


def _remove(o: Outline, path: Path) -> None:
    """Take the entry at ``path`` and all under it out of the outline."""
    if path not in o.entries:
        return
    parent = o.children.get(path[:-1])
    if parent is not None:
        parent[:] = [key for key in parent if key != path[-1]]
    work = [path]
    while work:
        current = work.pop()
        o.entries.pop(current, None)
        work += [(*current, key) for key in o.children.pop(current, ())]
