"""Broken specs: random mutations of the shipped specs, on the YAML tree and on the text.

A mutant starts from a shipped spec (the library under ``vibench/specs`` and the checkout's
``examples/``) and applies one to a few operators: on the loaded tree (delete, retype, rewire a
reference, swap a block, add a parameter, renumber, rename, reorder, add ``repeat`` / ``when`` /
``for_each`` / ``inherit`` / ``with``, inject a string payload, swap subtrees, override a template
parameter) and then, sometimes, on the text (drop, duplicate or swap lines, insert YAML syntax,
truncate, re-indent). Every choice comes from one :class:`random.Random`, so a mutant is replayed
from its seed, and under hypothesis (``st.randoms()``) it shrinks like any draw.

The payloads carry :data:`MARKER`: an emitted file in which the marker is code rather than data
(a string or a comment) is a code injection (see :func:`vibench.testing.check_static`).

>>> import random
>>> mutant = mutate("vibench: 1\\nname: M\\nnodes: {a: {block: relu, in: x}}\\n", random.Random(3), "m.yaml")
>>> mutant.origin, len(mutant.operators) >= 1
('m.yaml', True)
"""

from __future__ import annotations

import glob
import math
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

MARKER = "__vibench_fuzz_pwned__"
"""An identifier that must never become code in an emitted file."""

_PAYLOADS = (
    f'"""\n{MARKER}()\n"""', f"'''; {MARKER}(); '''", f"\n{MARKER}()\n", f"\r{MARKER}()", f"\u2028{MARKER}()",
    f"\u2029{MARKER}()", f"\\\n{MARKER}()", f"\"); {MARKER}(); (\"", f"'); {MARKER}(); ('", f"\\x00\\\"{MARKER}",
    f"# \n{MARKER}()  #", f'{{"a": {MARKER}()}}', f"x\\N{{DIGIT ONE}}\\\n{MARKER}",
)
_INTERESTING: tuple[Any, ...] = (
    None, True, False, 0, 1, -1, 2, 3, 7, 64, 2**31, 2**62, -(2**63), 10**30, 0.5, -0.0, 1e308, math.nan, math.inf,
    "", " ", "x", "B", "L", "C", "None", "class", "self", "forward", "nn", "torch", "F", "super", "é", "ｘ", "𝔅",
    "a-b", "1abc", "float32", "int64", "complex64", "bool", "float16", "${}", "${", "}", "$${x}", "${x}", "${i}",
    "${item}", "${1/0}", "${1 // 0}", "${[1, 2][5]}", "${None}", "${True}", "${-1}", "${2**62}", "${'a' * 1000}",
    "${[0] * 100000}", "${len}", "${__import__}", "${().__class__}", "${x.y}", "${(lambda: 1)()}",
    "${[i for i in range(10**6)]}", "${10**100}", "${'%s' % 1}", "${f'{1}'}", "${{1: 2}}", "${{}}",
    "cnn/ResNet1D", "isfm/backbone/B_08_PatchTST", "../examples/resnet18_1d", "/etc/passwd", "relu", "linear",
    "conv1d", "lstm", "split", "concat", "nodes", "x.out", "x.0", "a" * 300, [], {}, [1], [[]], [1, 2, 3],
    ["B", 4], ["B", -1, "L"], [0], {"a": 1}, {"type": "int"}, {"from": "x"}, {"shape": ["B", 1]},
)
_TEXT_SNIPPETS = (
    ":", " :", "{", "}", "[", "]", '"', "'", "\t", "&a ", "*a", "!!python/object:os.system ", "!!binary ",
    "%YAML 1.1\n", "\x00", "\ufeff", "\u2028", "#", "- ", "? ", "|\n", ">-\n", "<<: *a\n", "---\n", "...\n",
    "\\", "${", "\r\n", "\x85", "a: &a [*a]\n",
)
# Names the emitted file uses for itself: a node, parameter or input renamed to one must be refused or work.
_EMITTED_NAMES = ("fixed", "cls", "super", "range", "len", "int", "input", "type", "print", "check_inputs",
                  "COMPILED_PARAMETERS", "REFERENCE_STATE_DICT_RENAMES", "METADATA", "math", "checkpoint", "re",
                  "OrderedDict", "F", "torch")
_KEYS = ("repeat", "when", "for_each", "inherit", "with", "doc", "in", "block", "dtype", "shape", "optional",
         "from", "extends", "params", "inputs", "outputs", "nodes", "blocks", "metadata", "reference", "name",
         "vibench", "default", "type", "ge", "le", "choices", "slot", "out_features", "kernel_size", "dim")


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


def shipped_specs(root: str | None = None) -> list[tuple[str, str]]:
    """(shown name, absolute path) of every shipped spec: the library, and ``examples/`` of the
    checkout at ``root`` (default: the one this package sits in, when there is one)."""
    from vibench.compiler.resolve import LIBRARY_DIR

    found = [("vibench/specs/" + os.path.relpath(p, LIBRARY_DIR).replace(os.sep, "/"), os.path.abspath(p))
             for p in sorted(glob.glob(os.path.join(LIBRARY_DIR, "**", "*.yaml"), recursive=True))]
    root = root or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for pattern in ("*.yaml", "*.json"):
        for p in sorted(glob.glob(os.path.join(root, "examples", pattern))):
            found.append(("examples/" + os.path.basename(p), os.path.abspath(p)))
    return found


def mutated_specs(sources: list[tuple[str, str]] | None = None, max_operators: int = 3) -> SearchStrategy[Mutant]:
    """Mutants of ``sources`` (default :func:`shipped_specs`): (shown name, path) pairs, each with
    1..``max_operators`` operators (see :func:`mutate`). ValueError for no sources."""
    import hypothesis.strategies as st

    _check_operators(max_operators)
    pool = sources if sources is not None else shipped_specs()
    if not pool:
        raise ValueError("sources is empty: give at least one (shown name, path) pair (None: the shipped specs)")
    texts = {path: _read(path) for _, path in pool}

    @st.composite
    def mutants(draw: Any) -> Mutant:
        shown, path = draw(st.sampled_from(pool))
        rng = draw(st.randoms(use_true_random=False))
        return mutate(texts[path], rng, shown, path, max_operators)

    return mutants()


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def mutate(text: str, rng: random.Random, origin: str = "<string>", path: str | None = None,
           max_operators: int = 3) -> Mutant:
    """Apply 1..``max_operators`` random operators to spec ``text`` (tree ones first, then text ones).

    ``max_operators`` is at least 1 (ValueError otherwise). A tree operator that finds nothing to act
    on (no node to rewire) is skipped; when none acted, one text operator is applied, so every mutant
    lists at least one operator. Most mutants are broken specs, not all: an edit may keep a spec valid.
    """
    import yaml

    _check_operators(max_operators)
    count = 1 + int(rng.random() ** 2 * max_operators)
    operators: list[str] = []
    params: dict[str, Any] | None = None
    try:
        data = yaml.load(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError:
        data = None
    text_ops = sum(rng.random() < 0.2 for _ in range(count)) if isinstance(data, dict) else count
    if isinstance(data, dict) and text_ops < count:
        for _ in range(count - text_ops):
            name, op = rng.choice(_TREE_OPERATORS)
            done = op(data, rng)
            if done:
                operators.append(f"{name}: {done}")
        if rng.random() < 0.1:
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


def _check_operators(max_operators: int) -> None:
    if isinstance(max_operators, bool) or not isinstance(max_operators, int):
        raise TypeError(f"max_operators is an int, not {type(max_operators).__name__}")
    if max_operators < 1:
        raise ValueError(f"max_operators must be at least 1, got {max_operators}")


# --------------------------------------------------------------------------------------------
# the tree
# --------------------------------------------------------------------------------------------

Slot = tuple[Any, Any]  # (container, key or index)


def _slots(data: Any) -> list[Slot]:
    out: list[Slot] = []

    def walk(node: Any, depth: int) -> None:
        if depth > 40:
            return
        if isinstance(node, dict):
            for key in list(node):
                out.append((node, key))
                walk(node[key], depth + 1)
        elif isinstance(node, list):
            for k in range(len(node)):
                out.append((node, k))
                walk(node[k], depth + 1)

    walk(data, 0)
    return out


def _node_dicts(data: Any) -> list[tuple[dict, str, dict]]:
    """(the nodes mapping, node name, node) for every node of the model and its composites."""
    out = []
    units = [data]
    if isinstance(data.get("blocks"), dict):
        units += [b for b in data["blocks"].values() if isinstance(b, dict)]
    for unit in units:
        nodes = unit.get("nodes")
        if isinstance(nodes, dict):
            out += [(nodes, name, node) for name, node in nodes.items() if isinstance(node, dict)]
    return out


def _value(rng: random.Random) -> Any:
    return rng.choice(_INTERESTING) if rng.random() < 0.85 else rng.choice(_PAYLOADS)


def _op_delete(data: Any, rng: random.Random) -> str:
    slots = _slots(data)
    if not slots:
        return ""
    container, key = rng.choice(slots)
    del container[key]
    return str(key)


def _op_retype(data: Any, rng: random.Random) -> str:
    slots = _slots(data)
    if not slots:
        return ""
    container, key = rng.choice(slots)
    container[key] = _value(rng)
    return f"{key} = {container[key]!r}"[:80]


def _op_number(data: Any, rng: random.Random) -> str:
    slots = [(c, k) for c, k in _slots(data) if isinstance(c[k], (int, float)) and not isinstance(c[k], bool)]
    if not slots:
        return ""
    container, key = rng.choice(slots)
    old = container[key]
    container[key] = rng.choice([old + 1, old - 1, old * 2, 0, -old, old * 1000, str(old), float(old), old // 2 or 1,
                                 old + 0.5, 2**40])
    return f"{key}: {old!r} -> {container[key]!r}"


def _op_rewire(data: Any, rng: random.Random) -> str:
    nodes = _node_dicts(data)
    if not nodes:
        return ""
    mapping, name, node = rng.choice(nodes)
    names = list(mapping)
    target = rng.choice([rng.choice(names), name, f"{rng.choice(names)}.out", f"{rng.choice(names)}.1",
                         f"{rng.choice(names)}.h_n", "x", "nowhere", f"{name}.*", [rng.choice(names), name],
                         {"x": rng.choice(names)}, {"y": "x"}, [], None, f"{rng.choice(names)}.{rng.choice(names)}"])
    if rng.random() < 0.2 and isinstance(data.get("outputs"), dict) and data["outputs"]:
        key = rng.choice(list(data["outputs"]))
        data["outputs"][key] = target if not isinstance(target, (list, dict)) else {"from": rng.choice(names)}
        return f"outputs.{key} -> {data['outputs'][key]!r}"
    node["in"] = target
    return f"{name}.in -> {target!r}"


def _op_block(data: Any, rng: random.Random) -> str:
    from vibench.compiler import registry

    nodes = _node_dicts(data)
    if not nodes:
        return ""
    _, name, node = rng.choice(nodes)
    local = list(data.get("blocks") or {}) if isinstance(data.get("blocks"), dict) else []
    catalogue = list(registry.all_blocks())
    old = str(node.get("block", ""))
    node["block"] = rng.choice(catalogue + local + [old[:-1], old + "x", old.upper(), "${item}", "cnn/ResNet1D",
                                                    "isfm/backbone/B_08_PatchTST", "isfm/task_head/${x}",
                                                    "../cnn/TCN", "/etc/passwd", "", 3, None])
    return f"{name}.block -> {node['block']!r}"


def _op_add_param(data: Any, rng: random.Random) -> str:
    from vibench.compiler import registry

    nodes = _node_dicts(data)
    if not nodes:
        return ""
    _, name, node = rng.choice(nodes)
    block = registry.get(str(node.get("block")))
    fields = list(block.Params.model_fields) if block is not None else []
    key = rng.choice(fields + list(_KEYS)) if fields and rng.random() < 0.7 else rng.choice(list(_KEYS) + ["zzz"])
    node[key] = _value(rng)
    return f"{name}.{key} = {node[key]!r}"[:80]


def _op_language(data: Any, rng: random.Random) -> str:
    nodes = _node_dicts(data)
    if not nodes:
        return ""
    _, name, node = rng.choice(nodes)
    key, value = rng.choice([
        ("repeat", rng.choice([0, 1, 2, 3, -1, 10**9, "${i}", "${2}", 2.5, True, "${len([])}"])),
        ("when", rng.choice([False, True, "${False}", "${i == 0}", "${nope}", 0, "yes", "${require(False, 'x')}"])),
        ("for_each", rng.choice([[1, 2], [], "${[1, 2, 3]}", [None], list(range(50)), "${range(3)}", {"a": 1}])),
        ("inherit", rng.choice([True, False, "yes"])),
        ("with", rng.choice([{}, {"zzz": 1}, "${{'a': 1}}", [1], "${None}"])),
        ("doc", rng.choice(_PAYLOADS)),
    ])
    node[key] = value
    return f"{name}.{key} = {value!r}"[:80]


def _op_rename(data: Any, rng: random.Random) -> str:
    slots = [(c, k) for c, k in _slots(data) if isinstance(c, dict)]
    if not slots:
        return ""
    container, key = rng.choice(slots)
    new = rng.choice([str(key)[:-1], str(key) + "_", str(key).upper(), "class", "self", "forward", "nn", "x",
                      "ｘ", "a-b", "_", "__init__", "training", "0", rng.choice(_KEYS), str(key) + "\u200b",
                      rng.choice(_EMITTED_NAMES)])
    items = [(new if k == key else k, v) for k, v in container.items()]
    container.clear()
    container.update(items)
    return f"{key} -> {new!r}"


def _op_reorder(data: Any, rng: random.Random) -> str:
    mappings = [c[k] for c, k in _slots(data) if isinstance(c[k], dict) and len(c[k]) > 1]
    if isinstance(data, dict) and len(data) > 1:
        mappings.append(data)
    if not mappings:
        return ""
    target = rng.choice(mappings)
    items = list(target.items())
    rng.shuffle(items)
    target.clear()
    target.update(items)
    return "shuffled"


def _op_duplicate(data: Any, rng: random.Random) -> str:
    import copy

    nodes = _node_dicts(data)
    if not nodes:
        return ""
    mapping, name, node = rng.choice(nodes)
    new = rng.choice([f"{name}_copy", name.upper(), f"{name}\u0301", "ｘ" if name == "x" else f"{name}2"])
    mapping[new] = copy.deepcopy(node)
    return f"{name} -> {new}"


def _op_payload(data: Any, rng: random.Random) -> str:
    slots = [(c, k) for c, k in _slots(data) if isinstance(c[k], str)]
    targets = ["doc", "name"]
    if rng.random() < 0.3 or not slots:
        key = rng.choice(targets + ["metadata"])
        data[key] = rng.choice(_PAYLOADS) if key != "metadata" else {"note": rng.choice(_PAYLOADS)}
        return key
    container, key = rng.choice(slots)
    container[key] = container[key] + rng.choice(_PAYLOADS)
    return str(key)


def _op_swap(data: Any, rng: random.Random) -> str:
    slots = _slots(data)
    if len(slots) < 2:
        return ""
    (c1, k1), (c2, k2) = rng.sample(slots, 2)
    try:
        c1[k1], c2[k2] = c2[k2], c1[k1]
    except (KeyError, IndexError):
        return ""
    if _cyclic(data):  # a subtree swapped into itself
        c1[k1], c2[k2] = c2[k2], c1[k1]
        return ""
    return f"{k1} <-> {k2}"


def _cyclic(data: Any) -> bool:
    seen: set[int] = set()

    def walk(node: Any, depth: int) -> bool:
        if depth > 60:
            return True
        if isinstance(node, (dict, list)):
            if id(node) in seen:
                return True
            seen.add(id(node))
            children = node.values() if isinstance(node, dict) else node
            result = any(walk(child, depth + 1) for child in children)
            seen.discard(id(node))
            return result
        return False

    return walk(data, 0)


def _overrides(data: Any, rng: random.Random) -> dict[str, Any]:
    declared = list(data.get("params") or {}) if isinstance(data.get("params"), dict) else []
    declared += list(data.get("with") or {}) if isinstance(data.get("with"), dict) else []
    names = declared + ["zzz", "num_classes", "d_model"]
    return {rng.choice(names): _value(rng) for _ in range(rng.randint(1, 2))}


_TREE_OPERATORS: tuple[tuple[str, Callable[[Any, random.Random], str]], ...] = (
    ("delete", _op_delete), ("retype", _op_retype), ("number", _op_number), ("number", _op_number),
    ("rewire", _op_rewire), ("rewire", _op_rewire), ("block", _op_block), ("add_param", _op_add_param),
    ("language", _op_language), ("language", _op_language), ("rename", _op_rename), ("reorder", _op_reorder),
    ("duplicate", _op_duplicate), ("payload", _op_payload), ("swap", _op_swap),
)


# --------------------------------------------------------------------------------------------
# the text
# --------------------------------------------------------------------------------------------


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True) or [""]


def _t_drop_line(text: str, rng: random.Random) -> str:
    lines = _lines(text)
    del lines[rng.randrange(len(lines))]
    return "".join(lines)


def _t_dup_line(text: str, rng: random.Random) -> str:
    lines = _lines(text)
    k = rng.randrange(len(lines))
    lines.insert(k, lines[k])
    return "".join(lines)


def _t_swap_lines(text: str, rng: random.Random) -> str:
    lines = _lines(text)
    a, b = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[a], lines[b] = lines[b], lines[a]
    return "".join(lines)


def _t_insert(text: str, rng: random.Random) -> str:
    k = rng.randint(0, len(text))
    return text[:k] + rng.choice(_TEXT_SNIPPETS) + text[k:]


def _t_truncate(text: str, rng: random.Random) -> str:
    return text[: rng.randint(0, len(text))]


def _t_indent(text: str, rng: random.Random) -> str:
    lines = _lines(text)
    k = rng.randrange(len(lines))
    lines[k] = rng.choice([" ", "  ", "\t", ""]) + (lines[k].lstrip(" ") if rng.random() < 0.5 else lines[k])
    return "".join(lines)


def _t_flip(text: str, rng: random.Random) -> str:
    if not text:
        return text
    k = rng.randrange(len(text))
    return text[:k] + chr(rng.choice([ord(text[k]) ^ (1 << rng.randrange(7)), 0x301, 0xFF58, 0x2028, 0x7F])) \
        + text[k + 1:]


_TEXT_OPERATORS: tuple[tuple[str, Callable[[str, random.Random], str]], ...] = (
    ("text:drop_line", _t_drop_line), ("text:dup_line", _t_dup_line), ("text:swap_lines", _t_swap_lines),
    ("text:insert", _t_insert), ("text:insert", _t_insert), ("text:truncate", _t_truncate),
    ("text:indent", _t_indent), ("text:flip", _t_flip),
)
