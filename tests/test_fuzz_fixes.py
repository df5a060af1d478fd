"""The causes behind fuzz regressions, each checked beyond its saved spec (tests/regressions/).

* runtime-failure-2f6ed8f625: the copies of a `for_each` node share one call line (the first
  copy's); ``isfm_universal_projection`` without ``target`` wrote max_len/max_out into that call, so
  every copy was cropped to the first copy's size (and a smaller one raised at runtime).
* script-failure-e08c67ae20: ``system_prompt``'s table called ``Tensor.norm(dim=...)``, which
  TorchScript does not take without ``p``.
* script-mismatch-a633231871: TorchScript drops random ops whose results nothing reads, so an
  output drawn after a dead draw gets other numbers than in eager mode: the oracle compares random
  draws in shape and dtype only (and everything else as before).
"""

from __future__ import annotations

import pytest
import torch

import vibench
from vibench.compiler.diagnostics import SpecError
from vibench.testing import oracles_runtime


def _projections(sizes: list[int], target: str = "") -> str:
    target_input = "\n  target: {shape: [B, T, 1]}" if target else ""
    ins = "{x: x, target: target}" if target else "{x: x}"
    return f"""vibench: 1
name: Projections
inputs:
  x: {{shape: [B, 6]}}{target_input}
nodes:
  p: {{block: isfm_universal_projection, in: {ins}, for_each: {sizes}, max_len: "${{item}}", max_out: "${{item}}"}}
outputs: {{a: p.0, b: p.1}}
"""


def test_for_each_copies_of_the_universal_projection_keep_their_own_size() -> None:
    text = _projections([5, 2])
    model = vibench.build(text=text, inputs={"x": (3, 6)}).eval()
    x = torch.randn(3, 6)
    with torch.no_grad():
        out = model(x)
        assert out["a"].shape == (3, 5, 5) and out["b"].shape == (3, 2, 2)  # the static shapes
        second = model.p[1]
        torch.testing.assert_close(out["b"], (x @ second.weight + second.bias).view(3, 2, 2))
        scripted = torch.jit.script(model)(x)
    torch.testing.assert_close(scripted["b"], out["b"])


def test_for_each_copies_with_a_target_fit_each_projection_or_get_a_located_error() -> None:
    text = _projections([4, 7], target="yes")
    model = vibench.build(text=text, inputs={"x": (2, 6), "target": (2, 4, 1)}).eval()  # L = max_len of copy 1
    with torch.no_grad():
        out = model(torch.randn(2, 6), torch.zeros(2, 4, 1))
    assert out["a"].shape == (2, 4, 1) and out["b"].shape == (2, 4, 1)
    with pytest.raises(SpecError) as err:
        vibench.compile_spec(text=text, inputs={"x": (2, 6), "target": (2, 5, 1)})  # too long for copy 1
    diag = err.value.diagnostics[0]
    assert diag.code == "E305" and diag.pos is not None and diag.pos.line == 7 and diag.node == "p"
    assert (diag.expected, diag.found) == ("T <= 4", "T = 5") and "(max_len)" in " ".join(diag.notes)


def test_system_prompt_scripts_and_keeps_its_norm_limit() -> None:
    text = """vibench: 1
name: Prompts
inputs:
  ids: {shape: [B], dtype: int64}
nodes:
  prompt: {block: system_prompt, in: ids, num_prompts: 4, prompt_dim: 16, max_norm: 0.05}
outputs: {prompt: prompt}
"""
    model = vibench.build(text=text, inputs={"ids": (5,)}).eval()
    ids = torch.tensor([0, 1, 2, 7, -3])
    with torch.no_grad():
        eager = model(ids)
        scripted = torch.jit.script(model)(ids)
    torch.testing.assert_close(scripted, eager, rtol=0, atol=0)
    # N(0, 0.1) rows of 16 are ~0.4 long: every prompt is scaled down to the limit
    torch.testing.assert_close(eager.norm(dim=-1), torch.full((5,), 0.05))


_SAMPLED = """vibench: 1
name: Sampled
inputs:
  x: {shape: [B, 8, 2]}
  fs: {shape: [B]}
nodes:
  patches: {block: hse_patch_sampling, in: {x: x, fs: fs}, patch_size_L: 2, patch_size_C: 1, num_patches: 3}
  plain: {block: relu, in: x}
outputs: {patches: patches, plain: plain}
"""


def test_only_outputs_that_a_seed_changes_count_as_random_draws() -> None:
    model = vibench.build(text=_SAMPLED, inputs={"x": (2, 8, 2), "fs": (2,)}).eval()
    xs = [torch.randn(2, 8, 2), torch.rand(2) + 1.0]
    names = ["patches", "plain"]
    eager = oracles_runtime._outputs(model, xs, names)
    assert oracles_runtime._drawn(model, xs, names, eager) == {"patches"}  # eval_sampling "random": drawn at eval too


def test_random_draws_are_compared_in_shape_and_dtype_only() -> None:
    a = {"drawn": torch.zeros(2, 3), "plain": torch.ones(2)}
    same_plain = {"drawn": torch.ones(2, 3), "plain": torch.ones(2)}
    assert oracles_runtime._compare(a, same_plain, 1e-4, 1e-5, frozenset({"drawn"})) is None
    other_values = {"drawn": torch.ones(2, 3), "plain": torch.zeros(2)}
    assert "plain" in (oracles_runtime._compare(a, other_values, 1e-4, 1e-5, frozenset({"drawn"})) or "")
    other_shape = {"drawn": torch.ones(3, 2), "plain": torch.ones(2)}
    assert "drawn" in (oracles_runtime._compare(a, other_shape, 1e-4, 1e-5, frozenset({"drawn"})) or "")
    assert "drawn" in (oracles_runtime._compare(a, same_plain, 1e-4, 1e-5) or "")  # not declared drawn: values count


def test_a_dead_random_copy_does_not_make_script_disagree() -> None:
    text = """vibench: 1
name: Dead
inputs:
  x: {shape: [B, 8, 2]}
  fs: {shape: [B]}
nodes:
  patches: {block: hse_patch_sampling, in: {x: x, fs: fs}, for_each: [0, 0], patch_size_L: 2, num_patches: 2}
outputs: {second: patches.1}
"""
    from vibench.testing.specs import TensorCase

    inputs = (TensorCase("x", (2, 8, 2), (2, 8, 2), "float32"), TensorCase("fs", (2,), (2,), "float32"))
    assert oracles_runtime.check_runtime(text, inputs, backends=("script",)) == []
