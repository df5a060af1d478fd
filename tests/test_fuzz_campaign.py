"""The differential fuzz campaign, CI-sized (`make fuzz` runs the full one: scripts/fuzz.py).

Under the fixed-seed `ci` profile: a few hundred mutants of the shipped specs each get a located
SpecError or a program — never another exception, a hang, a diagnostic without a position, a
different answer on a second compile, or an emitted file that does not compile or runs injected
code; and generated valid specs across the whole catalogue (composites, repeat, when, for_each,
multi-input and multi-output blocks) compile, and their static shapes, dtypes and parameter counts
equal a real forward pass, the emitted file equals build(), and eager equals torch.compile,
torch.export and TorchScript (except blocks listed in KNOWN_UNSUPPORTED for that backend).
"""

from __future__ import annotations

from hypothesis import Phase, given, settings

from vibench import testing
from vibench.testing.regressions import known_unsupported

SOURCES = testing.shipped_specs()


def _show(findings: list[testing.Finding]) -> str:
    return "\n".join(f"{f.kind}: {f.message}" for f in findings)


# No shrinking (a shrink step costs a compile or a forward pass per backend): a failing case is shown
# whole; `make fuzz` minimises failures and saves them as regression specs.
@settings(max_examples=250, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(testing.mutated_specs(SOURCES))
def test_mutants_get_a_located_spec_error_or_a_program(mutant: testing.Mutant) -> None:
    verdict, findings = testing.check_static(mutant.text, mutant.path, mutant.params, timeout=10)
    assert not findings, f"{mutant.origin} {mutant.operators}\n{_show(findings)}\n{mutant.text[:3000]}"
    assert verdict in ("ok", "error")


@settings(max_examples=50, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(testing.graph_specs(max_nodes=4))
def test_generated_specs_agree_statically_and_at_runtime(case: testing.GraphCase) -> None:
    assert not case.crashes, case.crashes[0]
    verdict, findings = testing.check_static(case.text, inputs=case.bindings)
    assert verdict == "ok" and not findings, _show(findings)
    findings = [f for f in testing.check_runtime(case.text, case.inputs) if not known_unsupported(f, case.text)]
    assert not findings, f"{_show(findings)}\n{case.text}"


def test_the_generator_uses_the_language() -> None:
    """Generated specs use every language feature (`make fuzz` prints the block coverage: all blocks)."""
    from hypothesis import HealthCheck, seed

    features: set[str] = set()

    @seed(0)
    @settings(max_examples=120, database=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(testing.graph_specs())
    def draw(case: testing.GraphCase) -> None:
        features.update(case.features)

    draw()
    assert features >= {"composite", "repeat", "when", "for_each", "multi_input", "multi_output"}
