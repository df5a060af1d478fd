"""Broken specs: random mutations of the shipped specs, on the YAML tree and on the text.

A mutant starts from a shipped spec (the library under ``vibench/specs`` and the checkout's
``examples/``) and applies one to a few operators: on the loaded tree (delete, retype, rewire a
reference, swap a block, add a parameter, renumber, rename, reorder, add ``repeat`` / ``when`` /
``for_each`` / ``inherit`` / ``with``, inject a string payload, swap subtrees, override a template
parameter) and then, sometimes, on the text (drop, duplicate or swap lines, insert YAML syntax,
truncate, re-indent); the operators are :mod:`~vibench.testing.mutation_tree`'s and
:mod:`~vibench.testing.mutation_text`'s. Every choice comes from one :class:`random.Random`, so a
mutant is replayed from its seed, and under hypothesis (``st.randoms()``) it shrinks like any draw.

The payloads carry :data:`MARKER`: an emitted file in which the marker is code rather than data
(a string or a comment) is a code injection (see :func:`vibench.testing.check_static`).

>>> import random
>>> mutant = mutate("vibench: 1\\nname: M\\nnodes: {a: {block: relu, in: x}}\\n", random.Random(3), "m.yaml")
>>> mutant.origin, len(mutant.operators) >= 1
('m.yaml', True)
"""

from __future__ import annotations

import glob
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vibench.testing.mutation_text import _TEXT_OPERATORS
from vibench.testing.mutation_tree import _TREE_OPERATORS, MARKER, _overrides

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

__all__ = ["MARKER", "MAX_OPERATORS", "Mutant", "mutate", "mutated_specs", "shipped_specs"]

MAX_OPERATORS = 64
"""The most operators a mutant takes (``max_operators``): each walks the whole tree or text, and beyond a few
dozen edits little of the shipped spec is left to test (10**9 never finished)."""


@dataclass(frozen=True)
class Mutant:
    """A mutated spec: its text, the shipped spec it came from (``origin`` as shown, ``path`` on disk:
    compile the text with this path so that local references resolve), the operators applied, and
    template parameter overrides (``params``, like ``--set``; None for none)."""

    text: str
    origin: str
    path: str | None
    operators: tuple[str, ...]
    params: dict[str, Any] | None = None


def shipped_specs(root: str | os.PathLike[str] | None = None) -> list[tuple[str, str]]:
    """(shown name, absolute path) of every shipped spec: the library, and ``examples/`` of the
    checkout at ``root`` (default: the one this package sits in, when there is one). TypeError for a ``root`` that
    is no path, ValueError for one that is no folder (a mistyped checkout gave the library's specs alone)."""
    from vibench.compiler.resolve import LIBRARY_DIR

    checkout = checked_folder(root, "root", "a checkout's folder", "this package's") if root is not None else \
        os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    found = [("vibench/specs/" + os.path.relpath(p, LIBRARY_DIR).replace(os.sep, "/"), os.path.abspath(p))
             for p in sorted(glob.glob(os.path.join(LIBRARY_DIR, "**", "*.yaml"), recursive=True))]
    for pattern in ("*.yaml", "*.json"):  # escaped: a folder named `run[1]` is no pattern
        for p in sorted(glob.glob(os.path.join(glob.escape(checkout), "examples", pattern))):
            found.append(("examples/" + os.path.basename(p), os.path.abspath(p)))
    return found


def checked_folder(value: Any, name: str, kind: str, default: str) -> str:
    """Argument ``name``, a folder (``kind``: "a folder"; ``default``: what None means), as a str: TypeError for no
    path, ValueError for a path that is no folder (:func:`shipped_specs`' ``root``, the oracles' ``workdir``)."""
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} is {kind} (str or os.PathLike; None: {default}), not {type(value).__name__}")
    folder = os.fspath(value)
    if not isinstance(folder, str):
        raise TypeError(f"{name} is a folder whose path is a str, not {type(folder).__name__}")
    if not os.path.isdir(folder):
        raise ValueError(f"{name} {folder!r:.200} " + ("is not a folder" if os.path.exists(folder) else
                                                        "does not exist") + f": give {kind} (None: {default})")
    return folder


def mutated_specs(sources: list[tuple[str, str]] | None = None, max_operators: int = 3) -> SearchStrategy[Mutant]:
    """Mutants of ``sources`` (default :func:`shipped_specs`): a list of (shown name, path) pairs
    (``[("resnet18_1d.yaml", "examples/resnet18_1d.yaml")]``), each with 1..``max_operators`` operators
    (at most :data:`MAX_OPERATORS`; see :func:`mutate`, which also says how a source that nests deeper than
    the compiler reads is mutated: as text); a path may be an ``os.PathLike``. TypeError for ``sources`` of another
    kind (a bare path: write it as a pair in a list), ValueError for no sources or a path that names no readable text
    file."""
    import hypothesis.strategies as st

    _check_operators(max_operators)
    pool = _check_sources(sources) if sources is not None else shipped_specs()
    texts = {path: _read(path) for _, path in pool}

    @st.composite
    def mutants(draw: Any) -> Mutant:
        shown, path = draw(st.sampled_from(pool))
        rng = draw(st.randoms(use_true_random=False))
        return mutate(texts[path], rng, shown, path, max_operators)

    return mutants()


_EXAMPLE_SOURCE = "[('resnet18_1d.yaml', 'examples/resnet18_1d.yaml')]"


def _check_sources(sources: Any) -> list[tuple[str, str]]:
    """``sources`` as a list of (shown name, path) pairs of str (a path may be an ``os.PathLike``, as the API's are):
    TypeError or ValueError naming the entry, and for a pair of the wrong kinds the item that is."""
    if isinstance(sources, (str, bytes, os.PathLike)) or not isinstance(sources, (list, tuple)):
        hint = f": write [({os.path.basename(os.fspath(sources))!r:.60}, {os.fspath(sources)!r:.100})]" \
            if isinstance(sources, (str, os.PathLike)) else ""
        raise TypeError(f"sources is a list of (shown name, path) pairs such as {_EXAMPLE_SOURCE}, not a "
                        f"{type(sources).__name__}{hint}")
    if isinstance(sources, tuple) and len(sources) == 2 and isinstance(sources[0], str) \
            and isinstance(sources[1], (str, os.PathLike)):
        raise TypeError(f"sources is a list of (shown name, path) pairs, not one pair: write [{sources!r:.160}]")
    if not sources:
        raise ValueError("sources is empty: give at least one (shown name, path) pair (None: the shipped specs)")
    pool = []
    for k, pair in enumerate(sources):
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2):
            found = f"a {type(pair).__name__} of {len(pair)} items" if isinstance(pair, (list, tuple)) \
                else type(pair).__name__
            hint = f": write ({os.path.basename(pair)!r:.60}, {pair!r:.100})" if isinstance(pair, str) else ""
            raise TypeError(f"sources[{k}] is a (shown name, path) pair of str such as "
                            f"('resnet18_1d.yaml', 'examples/resnet18_1d.yaml'), not {found} ({pair!r:.60}){hint}")
        shown, given = pair
        if not isinstance(shown, str):
            raise TypeError(f"sources[{k}]: the shown name is a str, not {type(shown).__name__} ({shown!r:.60})")
        path = os.fspath(given) if isinstance(given, os.PathLike) else given
        if not isinstance(path, str):
            whose = f"{type(given).__name__} whose path is " if isinstance(given, os.PathLike) else ""
            raise TypeError(f"sources[{k}]: the path is a str or os.PathLike, not {whose}{type(path).__name__} "
                            f"({given!r:.60})")
        if not os.path.isfile(path):
            raise ValueError(f"sources[{k}]: path {path!r:.200} names no file (a spec file, YAML or JSON)")
        pool.append((shown, path))
    return pool


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except (OSError, UnicodeDecodeError) as err:  # unreadable, or not text: the caller's argument
        raise ValueError(f"sources: cannot read the spec file {path!r:.200} ({type(err).__name__}: {err})") from None


def mutate(text: str, rng: random.Random, origin: str = "<string>", path: str | None = None,
           max_operators: int = 3) -> Mutant:
    """Apply 1..``max_operators`` random operators to spec ``text`` (tree ones first, then text ones).

    ``max_operators`` is 1..:data:`MAX_OPERATORS` (ValueError otherwise); a template parameter override
    (``set: [...]`` in ``operators``) counts as one of them. A tree operator that finds nothing to act
    on (no node to rewire) is skipped; when none acted, one text operator is applied, so every mutant
    lists at least one operator. Most mutants are broken specs, not all: an edit may keep a spec valid.
    A text that nests deeper than the compiler's :data:`~vibench.compiler.load_compose.MAX_DEPTH` levels
    or holds more values than it reads (aliases expanded, as the compiler's E002 counts them: see
    :func:`_within_limits`) gets text operators only: its tree is not built, as neither YAML's composer
    nor its dumper recurses that deep safely, and the operators walk every alias-expanded value.
    An argument of another kind is a TypeError naming it (``text`` bytes or None, ``rng`` a seed).
    """
    import yaml

    _check_mutate(text, rng, origin, path)
    _check_operators(max_operators)
    count = 1 + int(rng.random() ** 2 * max_operators)
    operators: list[str] = []
    params: dict[str, Any] | None = None
    data = _tree(text)
    text_ops = sum(rng.random() < 0.2 for _ in range(count)) if isinstance(data, dict) else count
    if isinstance(data, dict) and text_ops < count:
        override = rng.random() < 0.1  # one of the count, drawn first so that the tree operators leave it room
        for _ in range(count - text_ops - int(override)):
            name, op = rng.choice(_TREE_OPERATORS)
            done = op(data, rng)
            if done:
                operators.append(f"{name}: {done}")
        if override:
            params = _overrides(data, rng)
            operators.append(f"set: {sorted(params)}")
        text = yaml.dump(data, Dumper=yaml.CSafeDumper, sort_keys=False, allow_unicode=True, width=100)
    if not operators and not text_ops:  # the tree operators found nothing to act on: a text one always does
        text_ops = 1
    for _ in range(text_ops):
        name, text_op = rng.choice(_TEXT_OPERATORS)
        text = text_op(text, rng)
        operators.append(name)
    return Mutant(text, origin, path, tuple(operators), params)


def _tree(text: str) -> Any:
    """The YAML tree of ``text``, or None: not YAML, or larger than the compiler reads (:func:`_within_limits`).
    The limits are counted on libyaml's event stream first, aliases expanded, so that no tree beyond them is
    ever built: libyaml's composer recurses in C and can crash the process on a 100,000-deep text, and what
    walks the tree here (PyYAML's dumper, ``copy.deepcopy``, the reducer's and the operators' walks) recurses
    in Python or visits every alias-expanded path."""
    import yaml

    try:
        if not _within_limits(yaml.parse(text, Loader=yaml.CSafeLoader)):
            return None
        return yaml.load(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError:
        return None


def _within_limits(events: Iterator[Any]) -> bool:
    """Whether a YAML event stream stays within the compiler's limits on a document (E002), counted as its
    loader counts them but with aliases expanded for the depth too: at most
    :data:`~vibench.compiler.load_compose.MAX_DEPTH` levels, an alias counting the levels of what it names where
    it stands (``&a0 [0]``, ``&a1 [*a0]``... nests one level more per anchor, written on one); at most
    :data:`~vibench.compiler.load_compose.MAX_EXPANDED` size units, of which aliases add at most
    :data:`~vibench.compiler.load_compose.MAX_ALIAS_UNITS` or ten times what the text writes (a unit is a value,
    or 64 characters of a string: ten aliases of ten aliases... eight levels deep is 10**8 values, written in
    432 characters). An alias of a node that contains it (a tree that nests without end) is beyond them too."""
    import yaml

    from vibench.compiler.load_compose import _CHARS_PER_UNIT, MAX_ALIAS_UNITS, MAX_DEPTH, MAX_EXPANDED

    starts, ends = (yaml.MappingStartEvent, yaml.SequenceStartEvent), (yaml.MappingEndEvent, yaml.SequenceEndEvent)
    stack: list[list[Any]] = []  # per open container: [its anchor, units before it, levels of its deepest child]
    anchors: dict[str, tuple[int, int]] = {}  # anchor -> (levels, size units) of its node, aliases expanded
    written = aliased = 0  # size units: of the values written out, and those that aliases add
    for event in events:
        if isinstance(event, yaml.ScalarEvent):
            levels, size = 0, 1 + len(event.value) // _CHARS_PER_UNIT
            written += size
            if event.anchor is not None:
                anchors[event.anchor] = (levels, size)
        elif isinstance(event, starts):
            if len(stack) >= MAX_DEPTH:
                return False
            stack.append([event.anchor, written + aliased, 0])
            continue
        elif isinstance(event, ends):
            anchor, before, deepest = stack.pop()
            written += 1
            levels = deepest + 1
            if anchor is not None:
                anchors[anchor] = (levels, written + aliased - before)
        elif isinstance(event, yaml.AliasEvent):
            if event.anchor not in anchors:  # unknown, or a node still open: one that contains this alias
                return False
            levels, size = anchors[event.anchor]
            aliased += size
            if aliased > max(MAX_ALIAS_UNITS, 10 * written):
                return False
        else:
            continue
        if written + aliased > MAX_EXPANDED or len(stack) + levels > MAX_DEPTH:
            return False
        if stack:
            stack[-1][2] = max(stack[-1][2], levels)
    return True


def _check_mutate(text: Any, rng: Any, origin: Any, path: Any) -> None:
    """TypeError naming the argument of :func:`mutate` of another kind, before the YAML loader or the
    first draw fails with words of its own."""
    if not isinstance(text, str):
        hint = ": decode it first (text.decode('utf-8'))" if isinstance(text, (bytes, bytearray)) else ""
        raise TypeError(f"text is the spec's YAML or JSON as a str, not {type(text).__name__}{hint}")
    if not isinstance(rng, random.Random):
        hint = f": write random.Random({rng!r:.40})" if isinstance(rng, int) and not isinstance(rng, bool) else ""
        raise TypeError(f"rng is a random.Random (every choice of the mutant comes from it), not "
                        f"{type(rng).__name__}{hint}")
    if not isinstance(origin, str):
        raise TypeError(f"origin is the shown name of the spec, a str, not {type(origin).__name__}")
    if path is not None and not isinstance(path, str):
        raise TypeError(f"path is the spec file's path, a str (None: none), not {type(path).__name__}")


def _check_operators(max_operators: int) -> None:
    if isinstance(max_operators, bool) or not isinstance(max_operators, int):
        raise TypeError(f"max_operators is an int, not {type(max_operators).__name__}")
    if not 1 <= max_operators <= MAX_OPERATORS:
        raise ValueError(f"max_operators must be at least 1 and at most {MAX_OPERATORS} (MAX_OPERATORS), "
                         f"got {max_operators}")
