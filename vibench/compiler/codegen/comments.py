"""The shape in the comment of each line of ``forward``, true in every use of the class.

A class shared by several uses (ResNet's ``BasicBlock`` at strides 1 and 2) writes a size that is
the same in every use as it is, and one that differs with the class's arguments where a form fits
every use (``(L - 1) // stride + 1``, ``D + 32``, ``(L + 1) // 2 if distil else L``), else ``?``.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

from vibench.compiler.codegen.code import names_in
from vibench.compiler.codegen.formula import FormulaNames, explain, explain_offset, explain_symbolic
from vibench.compiler.codegen.layout import flat
from vibench.compiler.codegen.plan import UnitPlan
from vibench.compiler.codegen.structure import Structure
from vibench.compiler.ir import TensorType
from vibench.compiler.spec_files import LIBRARY_DIR, working_folder
from vibench.compiler.symbolic import fmt_dim

LIBRARY_NAME = "vibench/specs/"  # how diagnostics name a library file (resolve.Library.display)


def shape_of(t: TensorType, named: dict[int, str] | None = None) -> str:
    """``[B, 16, L]`` (and the dtype unless float32): the shape of a node that one use of the class makes;
    ``named``: axes whose size is a free parameter of the model class, written by its name."""
    dims = [named[k] if named and k in named else fmt_dim(d) for k, d in enumerate(t.shape)]
    return "[" + ", ".join(dims) + "]" + ("" if t.dtype == "float32" else f" {t.dtype}")


def shape_in_every_use(s: Structure, name: str, port: str) -> str:
    """The shape of value ``name.port`` of class ``s``, written so that it holds in every use."""
    types: list[TensorType] = []
    uses: list[dict[str, Any]] = []
    for plan, values in zip(s.plans, s.values or [{}] * len(s.plans), strict=False):
        found = type_in(s, plan, name, port)
        if found is not None:
            types.append(found)
            uses.append(values)
    first = types[0]
    if len(types) == 1:  # one use: every dimension is written as it is
        return shape_of(first)
    dims = []
    for axis, d in enumerate(first.shape):
        column = [t.shape[axis] if axis < len(t.shape) else None for t in types]
        if all(x == d for x in column):
            dims.append(fmt_dim(d))
            continue
        formula, text = None, None
        searched = argument_names(s, name)
        if all(isinstance(x, int) for x in column) and uses and all(uses):
            names = [n for n in searched if n in uses[0] and all(isinstance(u.get(n), int) for u in uses)]
            formula = explain(column, uses, names)
            text = explain_offset(column, uses, names) if formula is None else None
        if formula is None and text is None:
            text = explain_symbolic(column, uses, searched)
        dims.append(flat(formula) if formula is not None else text or "?")
    return "[" + ", ".join(dims) + "]" + ("" if first.dtype == "float32" else f" {first.dtype}")


def argument_names(s: Structure, name: str) -> list[str]:
    """The arguments of class ``s`` a formula for a size of value ``name`` that differs between the uses may read
    (:class:`~vibench.compiler.codegen.formula.FormulaNames`; those its own constructor reads first), found once
    per class: a scan of every argument per line was quadratic in a class whose every node takes an argument."""
    if s.comment_names is None:
        values = s.values or [{}]
        reads = {m.slot: names_in(m.ctor) for m in s.members}
        s.comment_names = (FormulaNames(list(values[0]), values), reads)
    names, reads = s.comment_names
    return names.pick(reads.get(name, ()))


def type_in(s: Structure, plan: UnitPlan, name: str, port: str | None, depth: int = 0) -> TensorType | None:
    """The type of value ``name.port`` in one use of the class (None: no such value there). Where an
    optional layer is ``nn.Identity()``, its line still runs and gives its input (ResNet's ``downsample``
    of a stride-1 block keeps L, not (L + 1) // 2); a line under ``if self.with_<node>:`` runs only
    where the node is on, so other uses say nothing of it."""
    slot = plan.slots.get(name)
    if slot is not None:  # (by its port: the outputs of a for_each of n copies are n, and every use asks for each)
        return slot.node.find_output(port)
    if port is None:
        return dict(plan.unit.inputs).get(name)
    present = next((p.slots[name] for p in s.plans if name in p.slots), None)
    if (present is None or not present.ctors or len(present.node.outputs) != 1 or not present.inputs
            or depth > len(plan.slots)):
        return None
    source = present.inputs[0]
    return type_in(s, plan, source.node, source.port, depth + 1)


def comment_file_names(structures: list[Structure]) -> dict[str, str]:
    """How the shape comments name each spec file the nodes of ``structures`` come from: by its base name
    (``ResNet1D.yaml:50``), unless two of the files share it: then a library file by its name there
    (``vibench/specs/cnn/ResNet1D.yaml``), any other by its path from the root spec's folder (``sub/c.yaml``,
    ``../c.yaml``), never as diagnostics name it (from the working folder, absolute outside it)."""
    files = {slot.node.pos.file for s in structures for plan in s.plans for slot in plan.slots.values()
             if slot.node.pos is not None}
    bases = Counter(os.path.basename(f) for f in files)
    root = next((s.units[0].file for s in structures if s.is_root and s.plans), "")
    library = root.startswith(LIBRARY_NAME)  # spec text (`<string>`): the working folder, as the resolver's
    home = os.path.join(LIBRARY_DIR, root.removeprefix(LIBRARY_NAME)) if library else root
    home = os.path.realpath(os.path.dirname(home) if library or os.path.isfile(root) else working_folder())

    def from_home(file: str) -> str:
        try:
            return os.path.relpath(os.path.realpath(file), home).replace(os.sep, "/")
        except (ValueError, OSError):  # on another drive (Windows), or a relative name once the folder was removed
            return file

    return {f: os.path.basename(f) if bases[os.path.basename(f)] == 1 else f if f.startswith(LIBRARY_NAME)
            else from_home(f) for f in files}
