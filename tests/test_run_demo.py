"""`make run`, the README's main job: examples/run_demo.py compiles a shipped spec to a file, imports it
and runs it on a synthetic signal (run here as a subprocess)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_demo_compiles_imports_and_runs_a_shipped_spec(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, str(ROOT / "examples" / "run_demo.py")], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "output logits: (8, 10)" in run.stdout
    imported = re.search(r"\(imported from (\S+)\)", run.stdout)
    assert imported is not None and os.path.isabs(imported.group(1)), run.stdout
    assert Path(imported.group(1)).samefile(ROOT / "build" / "model.py")
    assert (ROOT / "build" / "model.py").is_file()  # the demo writes into the checkout, as `make run` does
