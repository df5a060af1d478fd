"""Models at scale, as the PHM-Vibench guide asks of them: activation checkpointing (`checkpoint: true`),
mixed precision (``torch.autocast``, bf16 on CPU) and distributed data parallel under ``torchrun``."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch

import vibench
from tests.helpers import ROOT

CHECKPOINTED = """
vibench: 1
name: Checkpointed
inputs: {x: {shape: [B, 4, L]}}
blocks:
  Pair:
    params: {cout: 8}
    inputs: {x: {shape: [B, C, L]}}
    nodes:
      conv: {block: conv1d, in: x, out_channels: "${cout}", kernel_size: 3, padding: 1}
      drop: {block: dropout, in: conv, p: 0.2}
      act: {block: gelu, in: drop}
    outputs: {y: act}
nodes:
  first: {block: Pair, in: x, checkpoint: "${recompute}"}
  second: {block: Pair, in: first, cout: 4, checkpoint: "${recompute}"}
  head: {block: conv1d, in: second, out_channels: 2, kernel_size: 1, checkpoint: "${recompute}"}
outputs: {y: head}
"""


def test_checkpointing_recomputes_the_same_gradients() -> None:
    """With dropout inside: checkpointing replays the RNG, so the gradients equal the plain model's."""
    plain = vibench.build(text=CHECKPOINTED.replace('"${recompute}"', "false")).train()
    saved = vibench.build(text=CHECKPOINTED.replace('"${recompute}"', "true")).train()
    source = vibench.compile_spec(text=CHECKPOINTED.replace('"${recompute}"', "true")).source
    assert "_checkpoint(self.first, x)" in source
    saved.load_state_dict(plain.state_dict())
    x = torch.randn(3, 4, 64)
    grads = []
    for model in (plain, saved):
        torch.manual_seed(7)
        model(x).square().sum().backward()
        grads.append({k: p.grad for k, p in model.named_parameters()})
    for key, grad in grads[0].items():
        torch.testing.assert_close(grads[1][key], grad)


def test_checkpoint_on_a_node_without_weights_is_an_error() -> None:
    text = CHECKPOINTED.replace('"${recompute}"', "false").replace(
        "act: {block: gelu, in: drop}", "act: {block: gelu, in: drop, checkpoint: true}")
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=text)
    assert err.value.diagnostics[0].code == "E211"
    assert "needs a node with a submodule" in err.value.diagnostics[0].message


@pytest.mark.parametrize(("spec", "params"), [
    ("cnn/ResNet1D", {"num_classes": 4, "layers": [1, 1, 1, 1], "initial_channels": 16}),
    ("transformer/PatchTST", {"num_classes": 4, "d_model": 32, "n_heads": 4, "num_layers": 1, "d_ff": 64}),
    ("mlp/gMLP", {"num_classes": 4, "seq_len": 128, "hidden_dim": 32, "num_layers": 1}),
])
def test_models_run_under_cpu_autocast_in_bfloat16(spec: str, params: dict) -> None:
    model = vibench.build(spec, **params).train()
    x = torch.randn(2, 128, 1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x)
    assert out.dtype == torch.bfloat16
    out.float().square().mean().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    model.eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        low = model(x).float()
    with torch.no_grad():
        full = model(x)
    assert torch.allclose(low, full, atol=0.1, rtol=0.1)


# The natives that call torch.fft, and a small model holding each (tests/test_export.py's sizes).
FFT_NATIVES = {
    "SpectralConv1d": ("no/FNO", {"input_dim": 2, "width": 8, "modes": 4, "n_layers": 1}, (2, 64, 2)),
    "AutoCorrelation": ("transformer/Autoformer", {"input_dim": 2, "d_model": 8, "n_heads": 2, "e_layers": 1,
                                                   "d_ff": 16, "num_classes": 3}, (2, 64, 2)),
    "LaplaceNeuralOperator": ("x_model/TSPN", {"in_channels": 2, "out_channels": 4, "scale": 2, "num_classes": 3,
                                               "signal_processing_configs": {"layer1": ["LNO", "WF", "HT", "I"]}},
                              (2, 64, 2)),
}
FFT_NATIVES["GaussianWaveFilter"] = FFT_NATIVES["HilbertEnvelope"] = FFT_NATIVES["LaplaceNeuralOperator"]


@pytest.mark.parametrize("native", sorted(FFT_NATIVES))
def test_fft_blocks_run_in_half_precision(native: str) -> None:
    """torch.fft has no bfloat16 kernels (CPU or CUDA; half ones only on CUDA, for powers of two), and
    CUDA's autocast hands it the bfloat16 of the layers before it (CPU autocast widens FFT inputs itself),
    as does a model cast with ``.bfloat16()``. Each FFT native transforms in float32 and returns the
    input's dtype: the float32 result on the widened input, rounded, instead of "Unsupported dtype"."""
    spec, params, shape = FFT_NATIVES[native]
    torch.manual_seed(0)
    model = vibench.build(spec, inputs={"x": shape}, **params).eval()
    module = next(m for m in model.modules() if type(m).__name__ == native)
    seen: list[torch.Tensor] = []
    module.register_forward_pre_hook(lambda _m, args: seen.append(args[0]) and None)
    with torch.no_grad():
        model(torch.randn(shape))
    x = seen[0].bfloat16()
    widened = copy.deepcopy(module).bfloat16().float()  # float32, with the bfloat16-rounded weights
    module.bfloat16()
    with torch.no_grad():
        low, expected = module(x), widened(x.float())
    assert low.dtype == torch.bfloat16 and low.shape == expected.shape
    assert torch.isfinite(low).all()
    if native == "AutoCorrelation":  # its projections run in bfloat16 too: close, not equal
        assert float((low.float() - expected).norm() / expected.norm()) < 0.05
    else:
        assert torch.equal(low, expected.bfloat16())


def test_feature_batch_norm_has_finite_gradients_for_a_feature_equal_across_the_batch() -> None:
    """TSPN's batch standardisation, (x - mean) / (std + eps): a feature with the same value in every
    sample (TSPN's `Mean` feature after its instance norm and linear mixing is one) has var 0, where
    sqrt's derivative is infinite. Same values as the formula, and finite gradients."""
    model = vibench.build(text="vibench: 1\nname: Standardise\ninputs: {x: {shape: [B, 3]}}\n"
                               "nodes: {norm: {block: feature_batch_norm, in: x}}\noutputs: {y: norm}\n").train()
    x = torch.tensor([[0.5, 1.0, -2.0], [0.5, 3.0, 1.0], [0.5, -1.0, 4.0]], requires_grad=True)
    out = model(x)
    mean, std = x.detach().mean(0), x.detach().var(0, unbiased=False).sqrt()
    torch.testing.assert_close(out.detach(), (x.detach() - mean) / (std + 0.1))
    (out * torch.arange(9.0).view(3, 3)).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    # Where var is 0 only the centring is differentiated: d/dx_i sum_j w_j (x_j - mean) / eps = (w_i - mean(w)) / eps.
    weights = torch.tensor([0.0, 3.0, 6.0])
    torch.testing.assert_close(x.grad[:, 0], (weights - weights.mean()) / 0.1)
    scripted = torch.jit.script(model)  # the emitted block stays scriptable (the fuzz campaign scripts models)
    assert torch.equal(scripted(x.detach()), model(x.detach()))


_DDP_SCRIPT = textwrap.dedent('''
    import json, os, sys
    import torch
    import torch.distributed as dist
    import vibench

    spec, out = sys.argv[1], sys.argv[2]
    params = {"num_classes": 3, "seq_len": 64, "hidden_dim": 16, "num_layers": 1, "dropout": 0.0}
    distributed = "RANK" in os.environ
    if distributed:
        dist.init_process_group("gloo")
        rank, world = dist.get_rank(), dist.get_world_size()
    else:
        rank, world = 0, 1
    torch.manual_seed(0)
    model = vibench.build(spec, **params)
    if distributed:
        model = torch.nn.parallel.DistributedDataParallel(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    generator = torch.Generator().manual_seed(1)
    x, y = torch.randn(8, 64, 1, generator=generator), torch.randint(0, 3, (8,), generator=generator)
    losses = []
    for _ in range(3):
        part = slice(rank * 8 // world, (rank + 1) * 8 // world)
        loss = torch.nn.functional.cross_entropy(model(x[part]), y[part])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total = loss.detach().clone()
        if distributed:
            dist.all_reduce(total)
            total /= world
        losses.append(total.item())
    with open(f"{out}.{rank}", "w") as fh:  # each rank's result, written before any teardown
        json.dump(losses, fh)
    if distributed:
        dist.barrier()  # no rank closes its connections while the other still reads (gloo aborts then)
        dist.destroy_process_group()
''')


@pytest.mark.slow
def test_torchrun_ddp_on_two_cpu_processes_matches_one_process(tmp_path) -> None:
    """gloo, 2 processes, each half of the global batch: the same losses (and so the same updates)
    as one process on the whole batch."""
    script = tmp_path / "train.py"
    script.write_text(_DDP_SCRIPT)
    env = {**os.environ, "PYTHONPATH": ROOT, "OMP_NUM_THREADS": "1"}
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    single = subprocess.run([sys.executable, str(script), "mlp/gMLP", str(tmp_path / "one.json")], env=env,
                            capture_output=True, text=True, timeout=600)
    assert single.returncode == 0, single.stderr[-2000:]
    ddp = subprocess.run([torchrun, "--standalone", "--nproc_per_node", "2", str(script), "mlp/gMLP",
                          str(tmp_path / "two.json")], env=env, capture_output=True, text=True, timeout=600)
    written = [tmp_path / f"two.json.{rank}" for rank in (0, 1)]
    # Rarely, gloo aborts a rank while the process group is torn down ("terminate called without an
    # active exception", SIGABRT; seen once in a fresh-clone CI run, not in 8 runs after), once the
    # training under test is over. That is accepted only when both ranks wrote their results first;
    # any other failure fails.
    torn_down = "SIGABRT" in ddp.stderr or "Signal 6" in ddp.stderr
    assert ddp.returncode == 0 or (torn_down and all(p.exists() for p in written)), ddp.stderr[-3000:]
    one = json.loads((tmp_path / "one.json.0").read_text())
    for path in written:
        assert one == pytest.approx(json.loads(path.read_text()), rel=1e-5, abs=1e-6)


def test_device_check_script_runs_its_checks_on_the_cpu(tmp_path) -> None:
    """`make device-check` is run by hand on a GPU machine (CI has none); on the CPU the same script
    must still run every check and report each one (so it cannot rot between GPU runs)."""
    out = tmp_path / "rows.json"
    command = [sys.executable, os.path.join(ROOT, "scripts", "device_check.py"), "--device", "cpu",
               "--only", "x_model/TSPN", "isfm/embedding/E_01_HSE", "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {row["case"]: row for row in json.loads(out.read_text())}
    assert set(rows) == {"x_model/TSPN", "isfm/embedding/E_01_HSE"}
    assert all(rows[c][k].startswith("ok") for c in rows for k in ("outputs", "autocast", "train"))
    assert not rows["x_model/TSPN"]["random_in_eval"] and rows["x_model/TSPN"]["error"] == 0.0  # same device
    assert rows["isfm/embedding/E_01_HSE"]["random_in_eval"]  # random patches in eval mode, as the reference
    assert "2 cases, 0 with a failed check" in done.stdout
