"""The tree operators of :mod:`vibench.testing.mutations`: edits of a spec's loaded YAML tree.

Each operator takes the tree and the mutant's :class:`random.Random`, edits the tree in place and says
what it did ("" when it found nothing to act on): delete, retype, renumber, rewire a reference, swap a
block, add a parameter, add ``repeat`` / ``when`` / ``for_each`` / ``inherit`` / ``with``, rename,
reorder, duplicate a node, inject a string payload, swap subtrees; :func:`_overrides` draws template
parameter overrides. The values they write come from the pools below; the payloads carry
:data:`MARKER`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

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
# Names the emitted file uses for itself: a node, parameter or input renamed to one must be refused or work.
_EMITTED_NAMES = ("fixed", "cls", "super", "range", "len", "int", "input", "type", "print", "check_inputs",
                  "COMPILED_PARAMETERS", "REFERENCE_STATE_DICT_RENAMES", "METADATA", "math", "checkpoint", "re",
                  "OrderedDict", "F", "torch")
_KEYS = ("repeat", "when", "for_each", "inherit", "with", "doc", "in", "block", "dtype", "shape", "optional",
         "from", "extends", "params", "inputs", "outputs", "nodes", "blocks", "metadata", "reference", "name",
         "vibench", "default", "type", "ge", "le", "choices", "slot", "out_features", "kernel_size", "dim")


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


def _node_dicts(data: Any) -> list[tuple[dict, Any, dict]]:
    """(the nodes mapping, node name, node) for every node of the model and its composites. A name is the key
    as YAML read it, of any type: `on:`, `1:` and `~:` are a bool, an int and None, which a mutant keeps."""
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
    shown = str(name)  # the copy of a key YAML read as no string (`on:`, `1:`) gets a str name
    new = rng.choice([f"{shown}_copy", shown.upper(), f"{shown}\u0301", "ｘ" if name == "x" else f"{shown}2"])
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
    """Template parameter overrides, as ``--set`` gives them: keyed by str, a declared name YAML read as
    another type (`on:`, `1:`) as its text, so that the keys sort and reach the compiler as ``--set``'s."""
    declared = list(data.get("params") or {}) if isinstance(data.get("params"), dict) else []
    declared += list(data.get("with") or {}) if isinstance(data.get("with"), dict) else []
    names = [str(name) for name in declared] + ["zzz", "num_classes", "d_model"]
    return {rng.choice(names): _value(rng) for _ in range(rng.randint(1, 2))}


_TREE_OPERATORS: tuple[tuple[str, Callable[[Any, random.Random], str]], ...] = (
    ("delete", _op_delete), ("retype", _op_retype), ("number", _op_number), ("number", _op_number),
    ("rewire", _op_rewire), ("rewire", _op_rewire), ("block", _op_block), ("add_param", _op_add_param),
    ("language", _op_language), ("language", _op_language), ("rename", _op_rename), ("reorder", _op_reorder),
    ("duplicate", _op_duplicate), ("payload", _op_payload), ("swap", _op_swap),
)
