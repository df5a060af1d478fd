"""Grouping the uses of a composite into classes tries each use only against the classes it can join (a QA pass
on 12-07): 2,000 uses of a block whose dropout rate reads the copy index (each its own class) took 18 s of CPU to
emit, since every use was tried against every class before it; 14 levels of blocks nesting two distinct uses
each, over a minute. The classes are the ones trying every class gives."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

import vibench
from tests.helpers import EXAMPLES
from vibench.compiler.codegen import class_keys, structure
from vibench.compiler.codegen.plan import Child
from vibench.compiler.codegen.unify import matches


def _repeated(uses: int, node: str) -> str:
    return textwrap.dedent(f"""\
        vibench: 1
        name: G
        inputs: {{x: {{shape: [B, 4, L]}}}}
        blocks:
          Body:
            params: {{j: 0}}
            inputs: {{x: {{shape: [B, C, L]}}}}
            nodes:
              {node}
              r: {{block: relu, in: d}}
              s: {{block: add, in: [x, r]}}
            outputs: {{y: s}}
        nodes:
          a: {{block: Body, in: x, repeat: {uses}, j: i}}
        outputs: {{y: a}}
        """)


def _first_tries(uses: int) -> int:
    """The tries of ``uses`` uses that each get a class of their own, all of one key: each of the first tries
    every class before it, the others none."""
    return sum(range(min(uses, class_keys.KEYED_FROM)))


def _count_tries(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    tries = [0]
    real = structure._try_add

    def counted(*args: Any) -> bool:
        tries[0] += 1
        return real(*args)

    monkeypatch.setattr(structure, "_try_add", counted)
    return tries


def _classes(program: Any) -> list[list[str]]:
    """Each class's uses, by unit name, in the order the classes were found."""
    found = structure.group(program)
    return [[str(u.key) for u in s.units] for s in sorted(found.structures, key=lambda s: s.id)]


def test_uses_whose_code_differs_are_not_tried_against_each_other(monkeypatch: pytest.MonkeyPatch) -> None:
    """A dropout rate in the forward line (`F.dropout(x, p=...)`) differs in every use: 300 classes, and past the
    first few no use is tried against another's class (44,850 tries before)."""
    uses = 300
    program = vibench.check(text=_repeated(uses, 'd: {block: dropout, in: x, p: "${j * 0.001}"}'))
    tries = _count_tries(monkeypatch)
    classes = _classes(program)
    assert len(classes) == uses + 1 and tries[0] == _first_tries(uses)  # (the model's own class, too)
    source = vibench.compile_spec(text=_repeated(3, 'd: {block: dropout, in: x, p: "${j * 0.001}"}')).source
    assert "p=0.0," in source and "p=0.001," in source and "p=0.002," in source


def test_uses_that_differ_in_literals_only_share_one_class(monkeypatch: pytest.MonkeyPatch) -> None:
    """A dilation in the constructor (`nn.Conv1d(..., dilation=...)`): one class for every use, one try per use."""
    uses = 300
    spec = _repeated(uses, 'd: {block: conv1d, in: x, out_channels: 4, kernel_size: 1, dilation: "${j + 1}"}')
    program = vibench.check(text=spec)
    tries = _count_tries(monkeypatch)
    classes = _classes(program)
    assert len(classes) == 2 and len(classes[0]) == uses and tries[0] == uses - 1


def test_uses_that_differ_under_when_try_a_bounded_number_of_classes(monkeypatch: pytest.MonkeyPatch) -> None:
    """A node under `when` may be missing from some uses of a class, so it is not part of the key: uses that differ
    only there are tried against at most MAX_CLASS_TRIES classes each, and still get the classes they had."""
    uses = 200
    program = vibench.check(text=_repeated(uses, 'd: {block: dropout, in: x, p: "${j * 0.001}", when: "${j >= 0}"}'))
    tries = _count_tries(monkeypatch)
    classes = _classes(program)
    assert len(classes) == uses + 1
    limit = class_keys.MAX_CLASS_TRIES
    assert tries[0] == sum(min(k, limit) for k in range(uses))  # 19,900 before


def test_nested_distinct_uses_group_in_linear_tries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks nesting two uses each, the innermost with a rate per use: each level's uses differ in their
    children's classes, which the key holds, so past the first few no use is tried against another's class."""
    levels = 7
    blocks = ['  L0:\n    params: {j: 0}\n    inputs: {x: {shape: [B, C, L]}}\n'
              '    nodes: {d: {block: dropout, in: x, p: "${j * 0.0001}"}}\n    outputs: {y: d}']
    for k in range(1, levels + 1):
        blocks.append(f'  L{k}:\n    params: {{j: 0}}\n    inputs: {{x: {{shape: [B, C, L]}}}}\n'
                      f'    nodes: {{d: {{block: L{k - 1}, in: x, repeat: 2, j: "${{j * 2 + i}}"}}}}\n'
                      '    outputs: {y: d}')
    spec = ("vibench: 1\nname: N\ninputs: {x: {shape: [B, 4, L]}}\nblocks:\n" + "\n".join(blocks)
            + f"\nnodes:\n  a: {{block: L{levels}, in: x}}\noutputs: {{y: a}}\n")
    program = vibench.check(text=spec)
    tries = _count_tries(monkeypatch)
    classes = _classes(program)
    assert len(classes) == 2 ** (levels + 1)
    assert tries[0] == sum(_first_tries(2 ** (levels - k)) for k in range(levels + 1))  # 10,795 before


def _grouped(program: Any, monkeypatch: pytest.MonkeyPatch, keyed_from: int) -> list[list[str]]:
    """The classes when a composite's uses are tried by key from ``keyed_from`` structures of it on."""
    with monkeypatch.context() as m:
        m.setattr(class_keys, "KEYED_FROM", keyed_from)
        return _classes(program)


def _library_programs() -> list[tuple[str, Any]]:
    from tests.golden_cases import LIBRARY_CASES

    cases = [(spec, params) for spec, _, params in LIBRARY_CASES] + [(ex, {}) for ex in EXAMPLES]
    return [(spec, params) for spec, params in cases]


@pytest.mark.parametrize(("spec", "params"), _library_programs(), ids=[s for s, _ in _library_programs()])
def test_library_classes_are_those_of_trying_every_class(spec: str, params: dict,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Every golden case: the same classes whether each use is tried against every class of its composite or only
    against those of its key, and two constructors that match (equal up to literals and children's classes) have
    one shape."""
    from tests.helpers import ROOT

    monkeypatch.chdir(ROOT)
    program = vibench.check(spec, params=params or None)
    assert _grouped(program, monkeypatch, 0) == _grouped(program, monkeypatch, 10**9) == _classes(program)
    found = structure.group(program)

    def child_class(child: Child) -> int:
        return found.of_unit[child.unit.key].id  # type: ignore[union-attr]

    def same_child(a: Child, b: Child) -> bool:
        return child_class(a) == child_class(b)

    for s in found.structures:
        for name, slot in s.representative.slots.items():
            for plan in s.plans:
                other = plan.slots.get(name)
                for a, b in zip(slot.ctors, other.ctors if other else [], strict=False):
                    assert matches(a, b, same_child)
                    assert class_keys.code_shape(a, {}, child_class) == class_keys.code_shape(b, {}, child_class)
