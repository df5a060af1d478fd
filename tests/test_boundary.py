"""The torch-free boundary, determinism across processes, and standalone emitted files."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from tests.helpers import EXAMPLES, ROOT

RESNET = "examples/resnet18_1d.yaml"

PY = sys.executable


def _run(code: str, env_extra: dict[str, str] | None = None, cwd: str = ROOT) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update(env_extra or {})
    return subprocess.run([PY, "-c", textwrap.dedent(code)], capture_output=True, text=True, cwd=cwd, env=env)


def test_check_and_emit_never_import_torch(tmp_path) -> None:
    out = tmp_path / "model.py"
    proc = _run(f"""
        import sys
        from vibench.compiler.cli import main
        assert main([{RESNET!r}, "--check"]) == 0
        assert main([{RESNET!r}, "-o", {str(out)!r}, "--summary"]) == 0
        assert main(["schema", "-o", {str(tmp_path / 'schema.json')!r}]) == 0
        import vibench, vibench.schemas.document, vibench.compiler.pipeline
        loaded = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
        print("TORCH:", loaded)
    """)
    assert proc.returncode == 0, proc.stderr
    assert "TORCH: []" in proc.stdout
    assert out.exists()


def test_emitted_file_needs_only_torch(tmp_path) -> None:
    out = tmp_path / "model.py"
    proc = _run(f"""
        from vibench.compiler.cli import main
        raise SystemExit(main([{RESNET!r}, "-o", {str(out)!r}]))
    """)
    assert proc.returncode == 0, proc.stderr
    proc = _run(f"""
        import sys, importlib.abc

        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name == "vibench" or name.startswith("vibench."):
                    raise ImportError("vibench is not importable in this test")

        sys.meta_path.insert(0, Block())
        sys.path.insert(0, {str(tmp_path)!r})
        import torch, model
        cls = [v for k, v in vars(model).items() if isinstance(v, type) and issubclass(v, torch.nn.Module)][-1]
        m = cls().eval()
        print(tuple(m(torch.randn(2, 1, 256)).shape))
        print(sorted(k for k in sys.modules if k.startswith("vibench")))
    """, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "(2, 10)" in proc.stdout
    assert "[]" in proc.stdout


def test_emission_is_byte_identical_across_processes(tmp_path) -> None:
    outputs = []
    for seed in ("1", "2"):
        out = tmp_path / f"model_{seed}.py"
        proc = _run(f"""
            from vibench.compiler.cli import main
            for spec in {EXAMPLES!r}:
                assert main([spec, "-o", {str(out)!r} + "." + spec.replace("/", "_")]) == 0
        """, env_extra={"PYTHONHASHSEED": seed})
        assert proc.returncode == 0, proc.stderr
        outputs.append(sorted(tmp_path.glob(f"model_{seed}.py.*")))
    for a, b in zip(*outputs, strict=False):
        assert a.read_bytes().replace(b"model_1", b"model_X") == b.read_bytes().replace(b"model_2", b"model_X")


def test_emission_is_byte_identical_within_a_process() -> None:
    import vibench

    for spec in EXAMPLES:
        first = vibench.compile_spec(os.path.join(ROOT, spec)).source
        second = vibench.compile_spec(os.path.join(ROOT, spec)).source
        assert first == second


def test_python_dash_m_vibench_is_the_compiler_command(tmp_path) -> None:
    """``python -m vibench`` where the scripts folder is not on PATH: the same command, codes and messages."""
    env = {**os.environ, "PYTHONPATH": ROOT}
    out = tmp_path / "model.py"
    proc = subprocess.run([PY, "-m", "vibench", RESNET, "-o", str(out)], capture_output=True, text=True, cwd=ROOT,
                          env=env)
    assert proc.returncode == 0, proc.stderr
    assert "class ResNet18_1D(nn.Module)" in out.read_text(encoding="utf-8")
    proc = subprocess.run([PY, "-m", "vibench", "tests/broken/e301_shape_mismatch.yaml", "--check"],
                          capture_output=True, text=True, cwd=ROOT, env=env)
    assert proc.returncode == 1 and "error[E301]" in proc.stderr
    proc = subprocess.run([PY, "-m", "vibench", "--no-such-flag"], capture_output=True, text=True, cwd=ROOT, env=env)
    assert proc.returncode == 2 and "usage error" in proc.stderr
