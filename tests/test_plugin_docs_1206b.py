"""docs/extending.md's code works as written: its block snippet is a complete plug-in module (installed as pip
does, it is admitted, compiles, and model.py runs), and its "Test your block" example really catches a native
whose forward returns another shape than its shape rule claims, with the message the page shows."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT
from tests.test_plugins_loading import install, run_python

PAGE = Path(ROOT) / "docs" / "extending.md"


def _snippet(marker: str, language: str = "python") -> str:
    page = PAGE.read_text(encoding="utf-8")
    found = re.search(rf"<!-- {marker}:start -->\n```{language}\n(.*?)```\n<!-- {marker}:end -->", page, re.S)
    assert found is not None, f"docs/extending.md has no {marker} block"
    return found.group(1)


def test_the_block_snippet_is_a_complete_plugin(tmp_path: Path) -> None:
    snippet = _snippet("plugin-example")
    assert snippet.startswith("# vibench_haar/haar.py\n")
    site = tmp_path / "site"
    install(site, "doc_haar", {"doc_haar/__init__.py": "", "doc_haar/haar.py": snippet}, ["haar_dwt = doc_haar.haar"])
    (tmp_path / "spec.yaml").write_text("vibench: 1\nname: Doc\ninputs: {x: {shape: [B, 2, L]}}\n"
                                        "nodes: {dwt: {block: haar_dwt, in: x, levels: 2}}\noutputs: {y: dwt}\n")
    run = run_python("""
        import torch, vibench
        from vibench.compiler import registry
        from vibench.compiler.cli import main
        assert main(["spec.yaml", "-o", "model.py"]) == 0
        assert not registry.plugin_warnings(), registry.plugin_warnings()
        assert type(registry.get("haar_dwt")).__module__ == "doc_haar.haar"
        program = vibench.check("spec.yaml", inputs={"x": (2, 2, 64)})
        assert str(program.root.node("dwt").outputs[0][1]) == "[B, 6, L // 4]", program.root.node("dwt").outputs
        print("ok")
    """, [site], tmp_path)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stdout[-2000:] + run.stderr[-3000:]
    alone = run_python("""
        import sys, torch
        sys.modules["vibench"] = None
        sys.modules["doc_haar"] = None
        import model
        assert model.Doc()(torch.randn(2, 2, 64)).shape == (2, 6, 16)
        print("ok")
    """, [], tmp_path)
    assert alone.stdout.strip() == "ok", alone.stderr[-2000:]


def test_the_test_your_block_example_reports_the_shape_the_native_lies_about(tmp_path: Path) -> None:
    """The lying block of the page, installed, is admitted and builds; the page's test of it fails under
    pytest with the shape mismatch the page shows (`vibench.testing.check_runtime` catches what compiling
    does not)."""
    block, test = _snippet("liar-block"), _snippet("block-test")
    assert block.startswith("# vibench_halver/halver.py\n") and test.startswith("# tests/test_halver.py\n")
    site = tmp_path / "site"
    install(site, "vibench_halver", {"vibench_halver/__init__.py": "", "vibench_halver/halver.py": block},
            ["halver = vibench_halver.halver"])
    (tmp_path / "test_halver.py").write_text(test, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), ROOT]), "VIBENCH_CACHE": "0"}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                             "test_halver.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 1 and "1 failed" in result.stdout, result.stdout[-3000:] + result.stderr[-2000:]
    shown = re.search(r"```console\n(AssertionError: .*?)\n```", PAGE.read_text(encoding="utf-8"))
    assert shown is not None
    assert shown.group(1) in result.stdout, result.stdout[-3000:]
    # compiling and building do not catch it: only running the model does
    (tmp_path / "spec.yaml").write_text("vibench: 1\nname: H\ninputs: {x: {shape: [B, 2, L]}}\n"
                                        "nodes: {h: {block: halver, in: x}}\noutputs: {y: h}\n")
    built = run_python("""
        import vibench
        from vibench.compiler import registry
        model = vibench.build("spec.yaml")
        assert not registry.plugin_warnings(), registry.plugin_warnings()
        print("built")
    """, [site], tmp_path)
    assert built.stdout.strip() == "built", built.stderr[-2000:]
