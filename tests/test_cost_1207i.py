"""Cost of many parameters passed on through composites (1207i): each body is read once, not once per key.

A model passing 1,000 parameters by key to a composite that passes them on to another took 13 s (the free-parameter
search read the composite's whole body once per key, and walked all its uses per key); 8,000 took minutes. Counted
here, not timed: the body is read once whatever the number of keys.
"""

from __future__ import annotations

import pytest

from tests.test_dead_keys_1207i import _passed_through
from vibench.compiler.pipeline import compile_program


@pytest.mark.parametrize("n", [10, 60])
def test_each_body_is_read_once_for_all_its_keys(n: int, monkeypatch: pytest.MonkeyPatch) -> None:
    import vibench.compiler.free_candidates as free_candidates

    calls: list[str] = []
    real = free_candidates._reads

    def counted(definition: object, unit: object) -> object:
        calls.append(getattr(definition, "name", "?"))
        return real(definition, unit)  # type: ignore[arg-type]

    monkeypatch.setattr(free_candidates, "_reads", counted)
    program = compile_program(text=_passed_through(n))
    assert program.root.name == "Stress"
    assert sorted(calls) == ["Inner", "Outer", "Stress"]  # once each (it was once per key of the node that uses it)
