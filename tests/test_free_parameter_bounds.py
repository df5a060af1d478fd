"""Free parameters (model.py's real constructor arguments): the probing that proves one free is bounded,
releases each probe's program before the next, and says what it left fixed (I105); a value that is not
finite is never free, and a free float really is the argument the model computes with."""

from __future__ import annotations

import inspect
import math
import weakref
from typing import Any

import pytest

import vibench
from vibench.compiler import pipeline


def _heads(count: int, body: int = 1, extra: str = "") -> str:
    """A model of ``count`` linear heads, each sized by a parameter of its own (all candidates), on a
    body of ``body`` relus."""
    params = "".join(f"  p{k:03d}: {{type: int, default: 3, ge: 1}}\n" for k in range(count))
    heads = "".join(f"  h{k:03d}: {{block: linear, in: body, out_features: '${{p{k:03d}}}'}}\n" for k in range(count))
    outputs = "".join(f"  y{k:03d}: h{k:03d}\n" for k in range(count))
    return (f"vibench: 1\nname: Heads\nparams:\n{params}{extra}inputs: {{x: {{shape: [B, 4]}}}}\nnodes:\n"
            f"  body: {{block: relu, in: x, repeat: {body}}}\n{heads}outputs:\n{outputs}")


def _count_probes(monkeypatch: pytest.MonkeyPatch) -> list[weakref.ref]:
    """Record every probe compilation (the compiler's own, ``locate_settings=False``) as a weak reference
    to its program; each one checks that the probes before it were released already."""
    probes: list[weakref.ref] = []
    compile_program = pipeline.compile_program

    def counted(*args: Any, **kwargs: Any) -> Any:
        program = compile_program(*args, **kwargs)
        if kwargs.get("locate_settings") is False:
            assert all(ref() is None for ref in probes), "an earlier probe's program is still alive"
            probes.append(weakref.ref(program))
        return program

    monkeypatch.setattr(pipeline, "compile_program", counted)
    return probes


def _free(source: str) -> list[str]:
    """The arguments of model.py's class (its free parameters), read from the source."""
    init = next(line for line in source.splitlines() if line.lstrip().startswith("def __init__(self"))
    return [a.split(":")[0].strip() for a in init.split("(self", 1)[1].split(")")[0].split(",")
            if a.strip() and not a.strip().startswith("**")]


# -- the bound ---------------------------------------------------------------------------------------


def test_probing_stops_at_the_budget_and_the_rest_stay_fixed(monkeypatch: pytest.MonkeyPatch) -> None:
    """12 candidates on a small model: 4 probe compilations (MAX_PROBES), the first 4 parameters free, the
    other 8 fixed. Every candidate was probed (one compilation each): 12 heads cost 12 compilations,
    N heads on one input N compilations of N nodes (1,000 heads took 4 minutes)."""
    probes = _count_probes(monkeypatch)
    source = vibench.compile_spec(text=_heads(12)).source
    assert len(probes) == 4
    assert _free(source) == ["p000", "p001", "p002", "p003"]
    assert "p011: int = 3" not in source and "COMPILED_PARAMETERS" in source
    from vibench.compiler import free_params

    assert free_params.MAX_PROBES == 4


def test_a_large_model_probes_fewer_candidates(monkeypatch: pytest.MonkeyPatch) -> None:
    """The probes together compile at most PROBE_NODES expanded nodes (here lowered to 100: a 45-node model
    probes 2), and always one, however large the model."""
    from vibench.compiler import free_params

    monkeypatch.setattr(free_params, "PROBE_NODES", 100)
    probes = _count_probes(monkeypatch)
    program = vibench.check(text=_heads(5, body=40))
    assert free_params.expanded_nodes(program) == 45 and free_params.probe_limit(program) == 2
    assert sorted(pipeline.free_parameters(program)) == ["p000", "p001"] and len(probes) == 2
    monkeypatch.setattr(free_params, "PROBE_NODES", 10)
    assert free_params.probe_limit(program) == 1
    assert sorted(pipeline.free_parameters(program)) == ["p000"] and len(probes) == 3


def test_each_probe_is_released_before_the_next(monkeypatch: pytest.MonkeyPatch) -> None:
    """compile_source pauses the garbage collector; a probe's program (which holds reference cycles) used to
    live until the end, so memory grew with every candidate (60 MB each on a 20,000-node body)."""
    probes = _count_probes(monkeypatch)  # asserts at each probe that the earlier ones are gone
    program = vibench.check(text=_heads(3))
    with pipeline.paused_gc():
        assert sorted(pipeline.free_parameters(program)) == ["p000", "p001", "p002"]
        assert len(probes) == 3 and all(ref() is None for ref in probes)


def test_num_classes_is_probed_first() -> None:
    """Under the budget, ``num_classes`` (PHM-Vibench passes it to every model) is the one kept free."""
    extra = "  num_classes: {type: int, default: 3, ge: 1}\n"
    text = _heads(6, extra=extra).replace("out_features: '${p005}'", "out_features: '${num_classes}'")
    program = vibench.check(text=text)
    assert sorted(pipeline.free_parameters(program)) == ["num_classes", "p000", "p001", "p002"]


def test_the_parameters_left_fixed_are_said_in_a_note(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    """I105 (a note: the model compiles) names how many candidates were not probed, where the first is
    declared; printed by vibench-compile, in the program's warnings for the API; none within the budget."""
    from vibench.compiler.cli import main

    (note,) = [w for w in vibench.check(text=_heads(6)).warnings if w.code == "I105"]
    assert note.severity == "note" and note.message.startswith("2 of 6 parameters")
    assert note.pos is not None and note.pos.line == 8  # p004's declaration
    assert any("not probed: p004, p005" in n for n in note.notes)
    assert not [w for w in vibench.check(text=_heads(4)).warnings if w.code == "I105"]
    spec = tmp_path / "heads.yaml"
    spec.write_text(_heads(6), encoding="utf-8")
    assert main([str(spec), "-o", str(tmp_path / "model.py")]) == 0
    err = capsys.readouterr().err
    assert "note[I105]: 2 of 6 parameters" in err and "not probed: p004, p005" in err
    assert _free((tmp_path / "model.py").read_text(encoding="utf-8")) == ["p000", "p001", "p002", "p003"]


def test_every_library_model_probes_all_its_candidates() -> None:
    """The budget leaves every library model (and golden case) its free parameters; no I105 anywhere (the
    goldens show which parameters are free). Candidates are only values a head's block takes free (12-06d:
    an output size, or a setting its shape rule never reads): H_05_RUL_pred has 2 (dropout, rul_max_value).
    MultiTaskHead's 4 (act, a string, and max_len, max_out, which bound an input) and TimesNet's 3 (read by
    a repeated block) never were free: the bound is at least what the library needs."""
    from tests.golden_cases import LIBRARY_CASES
    from vibench.compiler import free_params

    most = 0
    for spec, _, params in LIBRARY_CASES:
        program = vibench.check(spec, params=params or None)
        assert len(free_params.candidates(program)) <= free_params.probe_limit(program), spec
        assert not [w for w in program.warnings if w.code == "I105"], spec
        most = max(most, len(free_params.candidates(program)))
    assert 2 <= most <= free_params.MAX_PROBES  # the bound is at least what the library needs


# -- values that are not finite ------------------------------------------------------------------------

_CLAMP = ("vibench: 1\nname: Fl\nparams:\n  rate: {{type: float, default: {default}}}\n"
          "inputs: {{x: {{shape: [B, 4]}}}}\nnodes:\n  h: {{block: linear, in: x, out_features: 3}}\n"
          "  d: {{block: leaky_relu, in: h, negative_slope: '${{rate}}'}}\noutputs: {{y: d}}\n")
# (a clamp's bounds may be infinite since 12-06d - `max: .inf` is no bound - so a slope stands for any float)


@pytest.mark.parametrize("default", [".nan", ".inf", "-.inf"])
def test_a_default_that_is_not_finite_is_never_free(default: str) -> None:
    """`default: .nan` made `rate` a constructor argument that forward ignored (it hardcodes
    `torch.clamp(x, max=float("nan"))`): the nan "probe" (nan/2 + 0.01) differs from nan and gave the
    same code. Since 12-06d a block's float must be finite: the spec is refused (E104 at `max`), so no class
    takes it at all."""
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(text=_CLAMP.format(default=default))
    assert [(d.code, d.expected) for d in info.value.diagnostics if d.severity == "error"] == [
        ("E104", "a finite number")]


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_set_value_that_is_not_finite_is_never_free(value: float) -> None:
    """The same with a finite default and `--set rate=.nan` (params=)."""
    with pytest.raises(vibench.SpecError, match="parameter `negative_slope` of `leaky_relu`"):
        vibench.check(text=_CLAMP.format(default="0.5"), params={"rate": value})


@pytest.mark.parametrize(("value", "bounds"), [
    (math.nan, {}), (math.inf, {}), (-math.inf, {}), (0.02, {}), (1e308, {}), (-1e308, {}), (5e-324, {}),
    (0.5, {"gt": 0.0, "lt": 1.0}), (3, {}), (2**62, {"le": 2**62}), (True, {}),
])
def test_probe_values_are_finite_and_really_differ(value: float, bounds: dict) -> None:
    from vibench.compiler.free_params import _probes
    from vibench.compiler.ir import ParamDecl

    decl = ParamDecl("rate", "float", **bounds)
    probes = _probes(decl, value)
    if isinstance(value, bool) or not math.isfinite(value):
        assert probes == []
        return
    (probe,) = probes
    if isinstance(value, int):  # an int probe is the next or previous int
        assert type(probe) is int and abs(probe - value) == 1
    else:
        assert math.isfinite(probe) and not math.isclose(probe, value, rel_tol=1e-6) and repr(probe) != repr(value)
    assert bounds.get("gt", -math.inf) < probe < bounds.get("lt", math.inf) and probe <= bounds.get("le", math.inf)


def test_a_free_float_is_the_value_the_model_computes_with() -> None:
    """A finite float default that is free (a layer's constructor argument): the class built with another
    value computes what the model compiled with that value computes."""
    import torch

    text = ("vibench: 1\nname: Normed\nparams:\n  eps: {type: float, default: 0.5, gt: 0}\n"
            "inputs: {x: {shape: [B, 4]}}\nnodes:\n  h: {block: linear, in: x, out_features: 3}\n"
            "  norm: {block: layer_norm, in: h, eps: '${eps}'}\noutputs: {y: norm}\n")
    assert pipeline.free_parameters(vibench.check(text=text)) == frozenset({"eps"})
    model_cls = type(vibench.build(text=text))
    assert "eps" in inspect.signature(model_cls).parameters
    torch.manual_seed(0)
    given = model_cls(eps=2.0).eval()
    compiled = vibench.build(text=text, eps=2.0).eval()
    compiled.load_state_dict(given.state_dict())
    default = model_cls().eval()
    default.load_state_dict(given.state_dict())
    x = torch.randn(8, 4)
    with torch.no_grad():
        torch.testing.assert_close(given(x), compiled(x))
        assert not torch.allclose(given(x), default(x))
