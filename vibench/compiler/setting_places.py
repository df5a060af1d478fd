"""Where one entry of a parameter's value was set: the line of `b:` in a user's `with: {tasks: {a: ..., b: ...}}`.

A template's node that reads one entry of a parameter (a `for_each` copy's ``${item}``, or
``${tasks[key]}``) fails because of that entry, not the whole value. When the value was set in
another file, :class:`Places` (the loader's position map of it, see
:class:`~vibench.compiler.load_compose.Loc`) says where each entry is written, and :func:`entry_read`
says which entry a node value reads, so that the error is reported at that entry. Where the entry
cannot be known (a value that reads the whole parameter too, a key the value does not have, a
parameter set anew with ``--set``) nothing is said, and the error stays at the whole value.

>>> from vibench.compiler.load import load_text
>>> doc = load_text("with:\\n  tasks:\\n    a: 1\\n    b: 2\\n", "user.yaml")
>>> str(Places.of(doc, ("with", "tasks")).entry_pos("b"))
'user.yaml:4:5'
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vibench.compiler.expr import ExprError, evaluate_value, template_names
from vibench.compiler.ir import NodeDef, Pos, Template, UnitDef

if TYPE_CHECKING:
    from vibench.compiler.load import LoadedDoc
    from vibench.compiler.load_compose import Loc

ENTRY_NAMES = frozenset({"item", "key"})
"""The names through which a `for_each` copy reads one entry of what it iterates over."""


@dataclass(frozen=True, eq=False)
class Places:
    """Where a value was written: the file and the loader's position map of the value."""

    file: str
    loc: Loc

    @classmethod
    def of(cls, doc: LoadedDoc, path: tuple) -> Places | None:
        """The places of the value at ``path`` of ``doc``, None when the document has none there."""
        loc = doc.locate(path)
        return None if loc is None else cls(doc.file, loc)

    def entry_pos(self, part: Any) -> Pos | None:
        """Where entry ``part`` is written: a mapping's key, a list's item; None when it is not there."""
        children = self.loc.children
        if isinstance(children, dict):
            entry = children.get(part)
            return None if entry is None else Pos(self.file, *entry[0])
        if isinstance(children, list) and part.__class__ is int and 0 <= part < len(children):
            return Pos(self.file, *children[part].pos)
        return None


def entry_read(value: Any, env: Mapping[str, Any], param: str, reads_param: Callable[[set[str]], bool],
               each: Any = None) -> Any:
    """The entry of parameter ``param`` (its key or index in ``env[param]``) that ``value`` reads, or None.

    ``value`` reads an entry through the names ``item`` and ``key`` of a `for_each` copy (``each``: the
    `for_each` expression whose copy ``env`` is, when it reads the parameter) or through a subscript
    ``${name[k]}`` of the parameter or of a `let:` value that reads it (``k`` known in ``env``);
    ``reads_param(names)`` tells whether names read the parameter. The value read must be the
    parameter's own entry: at the same key or index, or, for a mapping or list, that very object (a
    `let:` that renames the keys). A value that reads two entries, or the whole parameter besides,
    reads no one entry."""
    if not isinstance(value, Template):
        return None
    exprs = [part for part in value.parts if isinstance(part, ast.expr)]
    bound = {g.target.id for e in exprs for n in ast.walk(e) if isinstance(n, ast.comprehension)
             for g in (n,) if isinstance(g.target, ast.Name)}
    subscripts: list[tuple[str, Any]] = []  # (container, key) of each subscript with a known key
    names: set[str] = set()
    for e in exprs:
        _scan(e, env, bound, subscripts, names)
    reads = [(key, env[name][key]) for name, key in subscripts if reads_param({name})]
    names |= {name for name, _ in subscripts if not reads_param({name})}
    target = env.get(param)
    copy = env["key"] if "key" in env else env.get("i")  # the entry a `for_each` copy is made for, if one
    found = set()
    for key, read in reads:
        at = _locate(target, key, read)
        if at is None and "item" in env and key == copy:
            continue  # a `let:` keyed like the parameter, read at the copy's own key (`task_ids[key]`): that entry's
        found.add(at)
    if names & ENTRY_NAMES and "item" in env and reads_param(set(template_names(each))):
        # A copy of a `for_each` that reads the parameter: its item is an entry of it (or only derived from it,
        # as an index of `range(len(tasks))` is, which reads no one entry)
        entry = _locate(target, env["key"] if "key" in env else env.get("i"), env["item"])
        found |= {entry} if entry is not None else set()
        names -= ENTRY_NAMES
    if reads_param(names) or len(found) != 1:
        return None
    return found.pop()


def _scan(node: ast.AST, env: Mapping[str, Any], bound: set[str], subscripts: list[tuple[str, Any]],
          names: set[str]) -> None:
    """Collect the subscripts ``name[k]`` whose key is known into ``subscripts``, every other name into ``names``."""
    if (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id not in bound
            and isinstance(env.get(node.value.id), (dict, list))):
        key = _known(node.slice, env, bound)
        if key is not _UNKNOWN and _has(env[node.value.id], key):
            subscripts.append((node.value.id, key))
            _scan(node.slice, env, bound, subscripts, names)
            return
    if isinstance(node, ast.Name) and node.id not in bound:
        names.add(node.id)
    for child in ast.iter_child_nodes(node):
        _scan(child, env, bound, subscripts, names)


_UNKNOWN = object()


def _known(node: ast.expr, env: Mapping[str, Any], bound: set[str]) -> Any:
    """The key a subscript reads, when it reads only names bound in ``env`` (``key``, ``i``, literals)."""
    if any(isinstance(n, ast.Name) and (n.id in bound or n.id not in env) for n in ast.walk(node)):
        return _UNKNOWN
    try:
        key = evaluate_value(Template("", (node,), None), env)
    except ExprError:
        return _UNKNOWN
    return key if isinstance(key, (str, int)) and not isinstance(key, bool) else _UNKNOWN


def _has(container: Any, key: Any) -> bool:
    if isinstance(container, dict):
        return key in container
    return key.__class__ is int and 0 <= key < len(container)


def _locate(target: Any, key: Any, read: Any) -> Any:
    """The key or index of ``target`` that holds ``read``: ``key`` itself, else the one entry that is ``read``."""
    if not isinstance(target, (dict, list)):
        return None
    if _has(target, key) and target[key] == read:
        return key
    entries = target.items() if isinstance(target, dict) else enumerate(target)
    held = [k for k, v in entries if v is read] if isinstance(read, (dict, list)) else []
    return held[0] if len(held) == 1 else None


class SettingPlaces:
    """Where a unit's node values were set (the methods of :class:`~vibench.compiler.elaborate.Elaborator` that
    place an error about a value at the user's setting of it, in another file), from the state it sets below."""

    udef: UnitDef
    param_pos: dict[str, Pos | None]
    set_elsewhere: set[str]
    places: dict[str, Places]
    let_reads: dict[str, set[str]]

    def source_pos(self, value: Any, nd: NodeDef, own: Pos | None = None,
                   env: Mapping[str, Any] | None = None) -> Pos | None:
        """Where a value of a node's `with:` (the whole mapping, or one key's) comes from: the user's setting
        of the parameter it reads (`${task_configs[key]}`, through `let:` values and `for_each`; the entry
        it reads, when known: see ``setting_pos``), else where it is written (``own``; the `with:` itself by
        default). ``env``: the values of the node's copy."""
        read = self.parameters_read(self.names_read(value, nd))
        order = [d.name for d in self.udef.params if d.name in read]
        return self.value_setting(value, nd, env) or (self.param_pos[order[0]] if len(order) == 1
                                                      else own or nd.with_pos)

    def value_setting(self, value: Any, nd: NodeDef, env: Mapping[str, Any] | None) -> Pos | None:
        """The setting elsewhere (``setting_pos``) of what a node value reads, for the copy of ``nd`` with ``env``."""
        if not self.set_elsewhere:
            return None
        return self.setting_pos(self.names_read(value, nd), value, env, nd.for_each)

    @staticmethod
    def names_read(value: Any, nd: NodeDef) -> set[str]:
        """The names a node value reads: a `for_each` copy's `item` and `key` read what `for_each` reads."""
        names = set(template_names(value))
        if names & ENTRY_NAMES:
            names |= template_names(nd.for_each)
        return names

    def parameters_read(self, names: Iterable[str]) -> set[str]:
        """The parameters of this unit that ``names`` (parameters, `let:` values, loop variables) read."""
        read: set[str] = set()
        for n in names:
            read |= self.let_reads.get(n, {n} if n in self.param_pos else set())
        return read

    def block_setting(self, nd: NodeDef) -> Pos | None:
        """Where a user set, in another file, the name a `block: ${...}` of this node reads, if anywhere."""
        return None if isinstance(nd.block, str) else self.setting_pos(template_names(nd.block))

    def setting_pos(self, names: Iterable[str], value: Any = None, env: Mapping[str, Any] | None = None,
                    each: Any = None) -> Pos | None:
        """The setting in another file (see ``set_elsewhere``) of the first declared parameter that
        ``names`` read, if any: a user's `with: {n_heads: 7}` of PatchTST is where `nhead: n_heads`
        fails, not the template's line. When ``value`` (read with ``env``, in a copy of `for_each:
        each`) reads one entry of that parameter and the file wrote it out, the setting is that
        entry: `b:` of `with: {tasks: {a: ..., b: ...}}` for the copy `b` of `for_each: tasks`
        (:func:`~vibench.compiler.setting_places.entry_read`)."""
        if not self.set_elsewhere:
            return None
        read = self.parameters_read(names) & self.set_elsewhere
        first = next((d.name for d in self.udef.params if d.name in read), None)
        if first is None:
            return None
        places = self.places.get(first)
        if places is not None and env is not None:
            entry = entry_read(value, env, first, lambda names: first in self.parameters_read(names), each)
            if entry is not None:
                return places.entry_pos(entry) or self.param_pos[first]
        return self.param_pos[first]
