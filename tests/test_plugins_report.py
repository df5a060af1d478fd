"""A spec that names an unknown block is told which block plug-ins did not load or were refused (W120,
W121), as notes on its E110: the block may be the broken plug-in's. Plug-ins are installed as pip does and vibench runs
in a fresh process (see tests/test_plugins_loading.py)."""

from __future__ import annotations

from pathlib import Path

from tests.test_plugins_contract import CONTRACT, HEADER
from tests.test_plugins_loading import install, install_broken, run_python, spec_text


def test_an_unknown_block_names_the_plugins_that_failed_or_were_refused(tmp_path: Path) -> None:
    site = tmp_path / "site"
    install_broken(site)
    install(site, "p_contract", {"p_contract/__init__.py": HEADER + CONTRACT}, ["contract = p_contract"])
    run = run_python(f"""
        import vibench
        for block in ("reluu", "no_params"):
            try:
                vibench.check(text={spec_text("BLOCK", shape="[B, 4, L]")!r}.replace("BLOCK", block))
            except vibench.SpecError as err:
                (e110,) = [d for d in err.diagnostics if d.code == "E110"]
                print(e110.notes)
    """, [site], tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    failed = "block plug-in `bad = p_broken` (distribution p_broken 0.1) failed to load (ImportError: boom: " \
             "missing dep scipy)"
    typo, refused = run.stdout.splitlines()
    assert typo == repr((failed,))
    assert refused == repr(("plug-in block `no_params` of `contract = p_contract` (distribution p_contract 0.1) "
                            "was refused: it defines no `Params` (a subclass of vibench.schemas.blocks.BlockParams)",
                            failed))
