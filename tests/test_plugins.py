"""A third-party block, one file in a package with a `vibench.blocks` entry point, works everywhere a
built-in block does: the compiler finds it, model.py carries its implementation, models build and run.

The package is `examples/plugin` (docs/extending.md, "Adding a block"); the test installs it the way pip
does — the package on the path with a `.dist-info` folder naming the entry point — and runs
vibench in a fresh process, so the real `importlib.metadata` discovery is exercised.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from tests.helpers import ROOT

PLUGIN = os.path.join(ROOT, "examples", "plugin")


def _install(site) -> None:
    shutil.copytree(os.path.join(PLUGIN, "vibench_haar"), site / "vibench_haar")
    info = site / "vibench_haar-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: vibench-haar\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[vibench.blocks]\nhaar_dwt = vibench_haar.haar\n")


def _python(code: str, *, path: list[str], cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path), "VIBENCH_CACHE": "0"}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_an_installed_plugin_block_compiles_emits_and_runs(tmp_path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    _install(site)
    spec = os.path.join(PLUGIN, "haar_demo.yaml")
    run = _python(f"""
import torch, vibench
from vibench.compiler.cli import main
assert main(["--blocks", "haar_dwt"]) == 0
program = vibench.check({spec!r}, inputs={{"x": (2, 1, 1000)}})
dwt = program.root.node("dwt")
assert str(dwt.outputs[0][1]) == "[B, 4, L // 8]", dwt.outputs
assert main([{spec!r}, "-o", "model.py"]) == 0
model = vibench.build({spec!r}).eval()
out = model(torch.randn(2, 1, 1000))
assert out.shape == (2, 4), out.shape
from vibench import testing
with open({spec!r}, encoding="utf-8") as fh:
    findings = testing.check_runtime(fh.read(), {{"x": (2, 1, 67)}}, backends=("script",))
assert findings == [], findings
""", path=[str(site), ROOT], cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    assert "haar_dwt" in run.stdout
    source = (tmp_path / "model.py").read_text()
    assert "class HaarDWT(nn.Module):" in source and "HaarDWT(levels=3)" in source
    # model.py stands alone: it runs where neither the plug-in nor vibench can be imported.
    alone = _python("""
import sys, torch
sys.modules["vibench"] = None
sys.modules["vibench_haar"] = None
import model
net = model.HaarClassifier().eval()
x = torch.arange(16.0).reshape(1, 1, 16)
assert net.dwt(x).shape == (1, 4, 2)
low = net.dwt(x)[0, 0]  # the approximation of a ramp, scaled by 2 ** (3 / 2)
assert torch.allclose(low, torch.tensor([3.5, 11.5]) * 2 ** 1.5)
# TorchScript takes it, as vibench.testing.check_runtime asks of every block (an odd length included)
scripted = torch.jit.script(net)
signal = torch.randn(2, 1, 1001)
assert torch.equal(scripted(signal), net(signal))
print("standalone ok")
""", path=[str(tmp_path)], cwd=tmp_path)
    assert alone.returncode == 0, alone.stderr[-2000:]


def test_a_plugin_block_that_is_not_installed_is_an_unknown_block() -> None:
    run = _python("""
import vibench
try:
    vibench.check(text="vibench: 1\\nname: M\\ninputs: {x: {shape: [B, 1, L]}}\\n"
                  "nodes: {d: {block: haar_dwt, in: x}}\\n"
                  "outputs: {y: d}\\n")
except vibench.SpecError as err:
    print(err.diagnostics[0].code)
""", path=[ROOT], cwd=ROOT)
    assert run.stdout.strip() == "E110", run.stderr[-2000:]
