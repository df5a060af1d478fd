"""Blame trials that must give no verdict (12-06, a QA pass): a trial that stops at a limit of the trials' own
(2,000 nodes, the expression steps of 2,000 nodes) tells nothing of the errors past that point; a trial of an
error in the compiled file itself that meets a new error tells nothing of it (the new one may be what stops
the compile before it); an error about the given value itself (an unknown key, a value too large) names the
value already, so a note restating it is noise."""

from __future__ import annotations

from pathlib import Path

import pytest

import vibench
from vibench.compiler.cli import main
from vibench.compiler.diagnostics import Diagnostic

GIVEN = "the value is the one given on the command line"
IN_PYTHON = "as given in Python"


def _errors(spec: str | Path, **kw: object) -> list[Diagnostic]:
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(str(spec), **kw)  # type: ignore[arg-type]
    return [d for d in info.value.diagnostics if d.severity == "error"]


def _write(tmp_path: Path, name: str, text: str) -> Path:
    spec = tmp_path / name
    spec.write_text(text, encoding="utf-8")
    return spec


def test_a_chain_longer_than_a_trial_may_check_gets_no_verdict(tmp_path: Path) -> None:
    """2,100 nodes and a bad one at the end, whatever `p0` is: the trial without `p0` stops at 2,000 nodes
    (E213), which said that without `p0` the error goes away."""
    chain = "".join(f"  n{k}: {{block: linear, in: n{k - 1}, out_features: 8}}\n" for k in range(1, 2100))
    spec = _write(tmp_path, "big.yaml", "vibench: 1\nname: Big\nparams:\n  p0: {type: int, default: 8}\n"
                  "inputs:\n  x: {shape: [B, 8]}\nnodes:\n  n0: {block: linear, in: x, out_features: '${p0}'}\n"
                  + chain + "  bad: {block: linear, in: n2099, in_features: 5, out_features: 4}\n"
                  "outputs: {y: bad}\n")
    (d,) = _errors(spec, params={"p0": 4})
    assert d.code == "E301" and d.node == "bad"
    assert not any(IN_PYTHON in n for n in d.notes), d.notes


def test_a_template_past_the_trials_node_limit_blames_only_what_a_trial_could_check(
        capsys: pytest.CaptureFixture[str]) -> None:
    """Autoformer with 300 layers passes the parameter budget: every trial that keeps `e_layers=300` stops at
    2,000 nodes, so `dropout` (said to take the error away, first) is not blamed; `e_layers` is (without it
    the trial is small and within the budget)."""
    args = ["transformer/Autoformer", "--check", "--set", "dropout=0.2", "--set", "e_layers=300",
            "--max-params", "157000000"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "error[E307]" in err
    assert "`--set dropout=...`" not in err and "without `--set dropout`" not in err
    assert f"{GIVEN}: `--set e_layers=...`; without it the error goes away\n" in err


LETS = ("vibench: 1\nname: LT\nparams:\n  w: {{type: int, default: 8}}\n"
        "let:\n  s: \"${{sum([i % 3 for i in range({n})])}}\"\n"
        "inputs:\n  x: {{shape: [B, 8]}}\nnodes:\n"
        "  a: {{block: linear, in: x, out_features: '${{w}}'}}\n"
        "  b: {{block: linear, in: a, in_features: 5, out_features: '${{s % 7 + 1}}'}}\noutputs: {{y: b}}\n")


@pytest.mark.parametrize(("n", "code"), [(8000, "E301"), (30000, "E204")])
def test_a_trial_out_of_its_expression_steps_gives_no_verdict(tmp_path: Path, n: int, code: str) -> None:
    """A `let:` over 8,000 items fits the compile's steps (1,000,000) but not a trial's (20,000): the trial
    without `w` failed there, which read as 'without it the error goes away' for E301 at `b`. Over 30,000
    items the let fails the compile itself (an expression's 100,000 steps), and the trial's other message
    for it read as 'it gives the value checked'."""
    spec = _write(tmp_path, "let.yaml", LETS.format(n=n))
    errors = _errors(spec, params={"w": 8})
    assert [d.code for d in errors] == [code]
    assert not any(IN_PYTHON in n for d in errors for n in d.notes), errors[0].notes


def test_an_error_in_the_file_is_not_blamed_on_a_value_that_only_lets_the_compile_reach_it(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The default `w: 0` breaks node `a`; `--set w=8` fixes it, and node `c` fails whatever `w` is: without
    `w`, `a` fails first and `c` is not checked - that is no sign `w` gives `c`'s error."""
    spec = _write(tmp_path, "m1.yaml", "vibench: 1\nname: M\nparams:\n  w: {type: int, default: 0}\n"
                  "inputs:\n  x: {shape: [B, 8]}\nnodes:\n  a: {block: linear, in: x, out_features: '${w}'}\n"
                  "  b: {block: linear, in: a, out_features: 4}\n"
                  "  c: {block: linear, in: b, in_features: 5, out_features: 4}\noutputs: {y: c}\n")
    assert main([str(spec), "--check", "--set", "w=8"]) == 1
    err = capsys.readouterr().err
    assert "error[E301]" in err and "m1.yaml:10:" in err and GIVEN not in err


def test_an_unknown_given_key_gets_no_note_restating_it(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """E201 says `nosuch` came from --set: a note that it did, and that without it the error goes away, is
    noise - for a file with `params:`, one without, a template compiled by name and a file that extends one."""
    own = _write(tmp_path, "own.yaml", "vibench: 1\nname: M\nparams:\n  w: {type: int, default: 8}\n"
                 "inputs:\n  x: {shape: [B, 8]}\nnodes:\n  a: {block: linear, in: x, out_features: '${w}'}\n"
                 "outputs: {y: a}\n")
    bare = _write(tmp_path, "bare.yaml", "vibench: 1\nname: N\ninputs:\n  x: {shape: [B, 8]}\n"
                  "nodes:\n  a: {block: linear, in: x, out_features: 4}\noutputs: {y: a}\n")
    extending = _write(tmp_path, "ext.yaml", "vibench: 1\nextends: isfm/M_01_ISFM\nwith:\n"
                       "  backbone: B_08_PatchTST\n")
    for spec in (str(own), str(bare), "transformer/Autoformer", str(extending)):
        assert main([spec, "--check", "--set", "nosuch=5"]) == 1
        err = capsys.readouterr().err
        assert "error[E201]" in err and "unknown parameter `nosuch` (from --set)" in err, err
        assert GIVEN not in err, (spec, err)


def test_a_given_value_too_large_gets_no_note_restating_it(tmp_path: Path) -> None:
    spec = _write(tmp_path, "own.yaml", "vibench: 1\nname: M\nparams:\n  w: {type: int, default: 8}\n"
                  "inputs:\n  x: {shape: [B, 8]}\nnodes:\n  a: {block: linear, in: x, out_features: '${w}'}\n"
                  "outputs: {y: a}\n")
    deep: object = 1
    for _ in range(70):
        deep = [deep]
    for value, says in ((16**5000, "beyond 2**62"), (deep, "deeper than 64 levels")):
        (d,) = _errors(spec, params={"w": value})
        assert d.code == "E202" and "`w`" in d.message and says in d.message
        assert not any(IN_PYTHON in n for n in d.notes), d.notes


def test_a_given_value_that_breaks_a_node_is_still_named(tmp_path: Path) -> None:
    """The rules above leave the verdicts they should: `w=5` breaks `b` (5 groups of 8 channels), and the trial
    without it is clean."""
    spec = _write(tmp_path, "own.yaml", "vibench: 1\nname: Own\nparams: {w: 8}\ninputs: {x: {shape: [B, 2, 16]}}\n"
                  "nodes:\n  a: {block: conv1d, in: x, out_channels: '${w}', kernel_size: 3}\n"
                  "  b: {block: conv1d, in: a, out_channels: 8, kernel_size: 3, groups: 8}\noutputs: {y: b}\n")
    (d,) = _errors(spec, params={"w": 5})
    assert d.node == "b" and any(n.startswith(f"the value is `w` {IN_PYTHON}") for n in d.notes), d.notes
