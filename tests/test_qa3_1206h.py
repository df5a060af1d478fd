"""Defects found by the second look at the day's fixes (12-06): substitution of bound symbols, and a plug-in's
wrong count taken as the spec's through a float parameter."""

from __future__ import annotations

import random

from pydantic import BaseModel

from vibench.compiler.ir import TensorType
from vibench.compiler.plugin_rule import spec_sized
from vibench.compiler.symbolic import Expr


def test_substituting_some_symbols_of_a_long_sum_gives_the_sum_with_them_put_in() -> None:
    # A partial --input binding substitutes into FLOP totals of thousands of terms (each addition copied the
    # running total: 27 s for 4,000 terms).
    rng = random.Random(3)
    terms: dict = {}
    for k in range(3000):
        terms[("B", f"L{k}")] = rng.randint(1, 9)
        terms[(f"L{k}",)] = 1
    total = Expr(terms, 7)  # (made at once: adding term by term is itself quadratic)
    put = total.subs({"B": 3})
    env = {f"L{k}": rng.randint(1, 50) for k in range(3000)}
    assert put.symbols() == set(env) and put.evaluate(env) == total.evaluate({**env, "B": 3})
    assert total.subs({"B": 3, **env}) == total.evaluate({**env, "B": 3})
    assert (Expr.symbol("N") - Expr.symbol("B")).subs({"B": 0, "N": 0}) == 0  # every term cancelled: a number


class _Clip(BaseModel):
    bound: float = 1e30
    width: int = 8


def test_a_float_parameter_explains_no_count() -> None:
    # Before: a clip bound of 1e30 let a plug-in's param_count of 10**40 pass as the spec's (E307, "raise
    # --max-params"); a count its integer sizes cannot reach is the plug-in's (E114).
    ins = [TensorType((4, 16), "float32")]
    assert not spec_sized(10**40, _Clip(), ins)
    assert spec_sized(2**63, _Clip(width=2**40), ins)  # an integer size squared does reach it


def test_the_e205_hints_of_one_compile_walk_each_folder_once(tmp_path, monkeypatch) -> None:
    # A spec naming many missing files walked up to 500 folders for each one's "did you mean" (9.5 s in the
    # editor for 1,000 references beside 600 folders).
    import os

    import pytest

    import vibench
    from vibench.compiler import resolve

    (tmp_path / "blocks.yaml").write_text(
        "vibench: 1\nname: Blocks\ninputs: {x: {shape: [B, 4]}}\nnodes: {r: {block: relu, in: x}}\noutputs: {y: r}\n"
        "blocks:\n  Act: {inputs: {x: {shape: [B, 4]}}, nodes: {r: {block: relu, in: x}}, outputs: {y: r}}\n",
        encoding="utf-8")
    for k in range(5):
        (tmp_path / f"sub{k}").mkdir()
    nodes = "".join(f"  n{k}: {{block: ./blokcs{k}.yaml#Act, in: x}}\n" for k in range(30))
    spec = tmp_path / "m.yaml"
    spec.write_text("vibench: 1\nname: M\ninputs: {x: {shape: [B, 4]}}\nnodes:\n" + nodes + "outputs: {y: n0}\n",
                    encoding="utf-8")
    walks: list[str] = []
    real_walk = os.walk

    def counted(top, *args, **kwargs):  # type: ignore[no-untyped-def]
        walks.append(str(top))
        return real_walk(top, *args, **kwargs)

    monkeypatch.setattr(resolve.os, "walk", counted)
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(str(spec))
    unknown = [d for d in info.value.diagnostics if d.code == "E205"]
    assert len(unknown) >= 2 and all("./blocks.yaml" in (d.hint or "") for d in unknown)
    assert len(walks) == len(set(walks))  # each root walked once, however many references miss


def test_a_component_in_a_new_family_folder_beside_the_experiment_is_found(tmp_path, monkeypatch) -> None:
    # The experiment's own folder was searched for `isfm/backbone/X` but left out of the family listing that finds
    # a component in another sub-folder (`isfm/aaa/X`): the library's file was compiled instead, silently.
    import vibench
    from vibench.compiler.spec_files import LIBRARY_DIR

    library_file = open(f"{LIBRARY_DIR}/isfm/backbone/B_04_Dlinear.yaml", encoding="utf-8").read()
    mine = library_file.replace("moving_avg: {type: int, default: 65,", "moving_avg: {type: int, default: 5,")
    assert mine != library_file
    (tmp_path / "isfm" / "aaa").mkdir(parents=True)
    (tmp_path / "isfm" / "aaa" / "B_04_Dlinear.yaml").write_text(mine, encoding="utf-8")
    (tmp_path / "exp.yaml").write_text(
        "model:\n  type: ISFM\n  name: B_04_Dlinear\n  num_patches: 8\n  output_dim: 4\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    program = vibench.check(str(tmp_path / "exp.yaml"))
    sizes = [c.params for n in program.root.nodes for c in n.copies if n.name == "decomposition"]
    assert sizes and all(dict(p).get("kernel_size") == 5 for p in sizes), sizes


def _tiny_weights_case(tmp_path):  # type: ignore[no-untyped-def]
    from tests.helpers import TINY_REFERENCE_SPEC

    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY_REFERENCE_SPEC, encoding="utf-8")
    return spec


def test_keys_set_aside_for_lacking_the_prefix_are_said(tmp_path, capsys) -> None:
    # A plain state_dict with one stray `network.` key was "missing" every key it held, with no hint.
    import torch

    from vibench.compiler.cli import EXIT_SPEC, main

    spec = _tiny_weights_case(tmp_path)
    torch.manual_seed(0)
    plain = {"classifier.weight": torch.randn(2, 3), "classifier.bias": torch.randn(2),
             "network.extra": torch.zeros(1)}
    torch.save(plain, tmp_path / "ck.pt")
    assert main([str(spec), "-o", str(tmp_path / "m.py"), "--weights", str(tmp_path / "ck.pt")]) == EXIT_SPEC
    err = capsys.readouterr().err
    assert "2 of 3 keys do not start with the prefix 'network.' and were set aside" in err
    assert "--weights-prefix ''" in err
    assert not (tmp_path / "m.py").exists()
    assert main([str(spec), "-o", str(tmp_path / "m.py"), "--weights", str(tmp_path / "ck.pt"),
                 "--weights-prefix", ""]) in (EXIT_SPEC,)  # `extra` is then unexpected: still refused, no hint
    assert "set aside" not in capsys.readouterr().err


def test_a_weights_file_linked_to_the_model_file_is_said_as_such(tmp_path, capsys) -> None:
    import os

    from vibench.compiler.cli import EXIT_USAGE, main

    spec = _tiny_weights_case(tmp_path)
    import torch

    torch.save({"network.classifier.bias": torch.zeros(2)}, tmp_path / "ck.pt")
    os.symlink("g.py", tmp_path / "g.pt")
    assert main([str(spec), "-o", str(tmp_path / "g.py"), "--weights", str(tmp_path / "ck.pt")]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "is a link to -o" in err and "names a .pt file" not in err
