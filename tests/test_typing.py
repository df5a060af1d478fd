"""The IR is fully typed (issue 10, item 4): no `Any` in vibench/compiler/ir.py, and the IR, the pass
driver (pipeline.py), slot scoping and the unit builder with its parts (elaborate, typecheck,
build_warnings) pass `mypy --strict` (the rest of vibench passes the project's mypy settings, `make lint`)."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(__file__), "..")
STRICT = ["vibench/compiler/ir.py", "vibench/compiler/ir_verify.py", "vibench/compiler/pipeline.py",
          "vibench/compiler/scoped.py",
          "vibench/compiler/unit_builder.py", "vibench/compiler/elaborate.py", "vibench/compiler/typecheck.py",
          "vibench/compiler/typecheck_composite.py",
          "vibench/compiler/build_warnings.py", "vibench/compiler/unused_params.py",
          "vibench/compiler/dead_keys.py", "vibench/compiler/elaborated.py", "vibench/compiler/keyed.py",
          "vibench/compiler/shapes.py", "vibench/compiler/names.py", "vibench/compiler/adapters.py",
          "vibench/compiler/roles.py", "vibench/compiler/reference_text.py", "vibench/compiler/reference_templates.py"]


def test_the_ir_names_no_any() -> None:
    with open(os.path.join(ROOT, "vibench/compiler/ir.py"), encoding="utf-8") as f:
        tree = ast.parse(f.read())
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    annotations = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    assert "Any" not in used and not [a for a in annotations if "Any" in a.split()]


def test_the_ir_and_the_pass_driver_pass_mypy_strict(tmp_path) -> None:
    mypy = shutil.which("mypy", path=os.path.dirname(sys.executable))
    assert mypy is not None, "mypy is installed by requirements-dev.txt"
    run = subprocess.run([mypy, "--strict", "--follow-imports=silent", "--cache-dir", str(tmp_path), *STRICT],
                         cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
