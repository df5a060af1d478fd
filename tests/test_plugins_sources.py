"""A plug-in's source file as Python reads it, and a plug-in that breaks a check costing only itself:
a latin-1 file with a coding cookie and a UTF-8 file with a byte-order mark are valid Python whose
natives model.py can carry; a module shipped as bytecode only has no source to copy (W121, saying so).
None of them may cost the other plug-ins, the built-ins or a later lookup in the same process.

The end-to-end test installs the packages as tests/test_plugins_loading.py does (the real
`importlib.metadata` discovery, in a fresh process); the others check one function in this process,
on a copy of the registry's state.
"""

from __future__ import annotations

import importlib.util
import py_compile
import sys
import textwrap
import types
from pathlib import Path

import pytest

from tests.test_plugins_contract import HEADER
from tests.test_plugins_loading import HAAR_SPEC, install, install_haar, run_python, spec_text
from vibench.compiler import registry
from vibench.compiler.blocks import base, contract

NATIVE = '''
class {cls}(nn.Module):
    """Caf\u00e9 native: doubles its input."""  # caf\u00e9

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2.0


native_block({name!r}, {cls})
'''


def plugin_source(name: str, cls: str) -> str:
    """A plug-in module: one block `name` whose native `cls` has a non-ASCII docstring and comment."""
    return textwrap.dedent(HEADER) + NATIVE.format(name=name, cls=cls)


def install_encoded(site: Path, name: str, cls: str, how: str) -> None:
    """Install plug-in `name` as `p_<name>`, its module written ``how``: "latin-1" (with a coding cookie),
    "bom" (UTF-8 with a byte-order mark) or "bytecode" (a .pyc beside no .py, as some vendors ship)."""
    install(site, f"p_{name}", {}, [f"{name} = p_{name}"])
    module = site / f"p_{name}" / "__init__.py"
    module.parent.mkdir(parents=True)
    text = plugin_source(name, cls)
    if how == "latin-1":
        module.write_bytes(("# -*- coding: latin-1 -*-\n" + text).encode("latin-1"))
    elif how == "bom":
        module.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    else:
        module.write_text(text.replace("\u00e9", "e"), encoding="utf-8")
        py_compile.compile(str(module), cfile=str(module.with_suffix(".pyc")), doraise=True)
        module.unlink()


def test_plugins_in_other_encodings_or_bytecode_cost_only_themselves(tmp_path: Path) -> None:
    """A latin-1 and a BOM plug-in are admitted and their natives reach model.py; a bytecode-only one is
    refused (W121: no source); the example plug-in beside them, `--blocks`, `schema`, a misspelt built-in
    block and a second lookup in the same process all work (a UnicodeDecodeError while reading the
    bytecode or the latin-1 file made every one of them an internal error, exit 3)."""
    site = tmp_path / "site"
    install_haar(site)
    install_encoded(site, "latin_native", "Latin", "latin-1")
    install_encoded(site, "bom_native", "Bommed", "bom")
    install_encoded(site, "sourceless_native", "Sourceless", "bytecode")
    (tmp_path / "typo.yaml").write_text(spec_text("reluu"))
    (tmp_path / "latin.yaml").write_text(spec_text("latin_native", "bom_native", shape="[B, 4, L]"))
    (tmp_path / "sourceless.yaml").write_text(spec_text("sourceless_native", shape="[B, 4, L]"))
    run = run_python(f"""
        import torch
        from vibench.compiler import registry
        from vibench.compiler.cli import main
        assert main(["typo.yaml", "--check"]) == 1
        assert main(["--blocks"]) == 0
        assert main(["schema", "-o", "schema.json"]) == 0
        assert main([{HAAR_SPEC!r}, "-o", "haar.py"]) == 0
        assert main(["latin.yaml", "-o", "model.py"]) == 0
        assert main(["sourceless.yaml", "--check"]) == 1
        assert registry.get("latin_native") is not None and registry.get("haar_dwt") is not None  # again
        print(sorted(w.code for w in registry.plugin_warnings()))
        import model
        x = torch.randn(2, 4, 8)
        assert torch.allclose(model.M()(x), 4 * x)
        print("done")
    """, [site], tmp_path)
    assert run.returncode == 0 and run.stdout.rstrip().endswith("done"), run.stdout[-2000:] + run.stderr[-3000:]
    assert "Traceback" not in run.stderr and "this is a bug" not in run.stderr, run.stderr[-3000:]
    assert "['W121']" in run.stdout  # the bytecode-only plug-in, and nothing else
    assert "error[E110]: unknown block `reluu`" in run.stderr and "did you mean `relu`" in run.stderr
    assert ("warning[W121]: plug-in block `sourceless_native` of `sourceless_native = p_sourceless_native` "
            "(distribution p_sourceless_native 0.1) is refused: its native <class 'p_sourceless_native.Sourceless'> "
            "has no source file vibench can read: its module is bytecode only") in run.stderr, run.stderr[-3000:]
    assert "error[E110]: unknown block `sourceless_native`" in run.stderr
    for name in ("haar_dwt", "latin_native", "bom_native"):
        assert name in run.stdout and name in (tmp_path / "schema.json").read_text()
    model = (tmp_path / "model.py").read_text(encoding="utf-8")
    assert '"""Caf\u00e9 native: doubles its input."""' in model and "class Bommed(nn.Module):" in model
    assert "\ufeff" not in model and "class HaarDWT(nn.Module):" in (tmp_path / "haar.py").read_text()


def _module(tmp_path: Path, name: str, data: bytes) -> types.ModuleType:
    """Import the module file ``name``.py holding ``data`` (kept in sys.modules by the caller's monkeypatch)."""
    path = tmp_path / f"{name}.py"
    path.write_bytes(data)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SOURCE = 'class Native:\n    """Caf\u00e9."""\n\n    def forward(self, x):\n        return x\n'


@pytest.mark.parametrize(("encoding", "data"), [
    ("latin-1", ("# -*- coding: latin-1 -*-\n" + SOURCE).encode("latin-1")),
    ("utf-8 with a BOM", b"\xef\xbb\xbf" + SOURCE.encode("utf-8")),
    ("cp1252 cookie", ("# vim: set fileencoding=cp1252 :\n" + SOURCE).encode("cp1252")),
])
def test_a_native_is_read_in_the_encoding_its_file_declares(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           encoding: str, data: bytes) -> None:
    name = "vibench_test_native_" + encoding.replace(" ", "_").replace("-", "_")
    module = _module(tmp_path, name, data)
    monkeypatch.setitem(sys.modules, name, module)
    assert contract._not_copyable(module.Native) is None
    assert base.native_source(module.Native).startswith('class Native:\n    """Caf\u00e9."""')


def test_a_native_without_a_readable_source_is_refused_with_the_reason(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A module imported from bytecode only, and a file that is not what its cookie says, are reasons to
    refuse the block, never an exception out of the check."""
    module = _module(tmp_path, "vibench_test_sourceless", SOURCE.encode("utf-8"))
    compiled = tmp_path / "vibench_test_sourceless.pyc"
    py_compile.compile(str(tmp_path / "vibench_test_sourceless.py"), cfile=str(compiled), doraise=True)
    module.__file__ = str(compiled)
    monkeypatch.setitem(sys.modules, "vibench_test_sourceless", module)
    assert contract._not_copyable(module.Native) == (f"has no source file vibench can read: its module is bytecode "
                                                 f"only ({compiled})")

    lying = _module(tmp_path, "vibench_test_lying", SOURCE.encode("utf-8"))
    (tmp_path / "vibench_test_lying.py").write_bytes(SOURCE.encode("latin-1"))  # changed since the import
    monkeypatch.setitem(sys.modules, "vibench_test_lying", lying)
    why = contract._not_copyable(lying.Native)
    assert why is not None and why.startswith("has no source file vibench can read (UnicodeDecodeError: ")


@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """The registry's state as before any plug-in loaded, restored after the test."""
    registry.all_blocks()  # the built-ins imported
    monkeypatch.setattr(registry, "_BLOCKS", {n: b for n, b in registry._BLOCKS.items() if registry._is_builtin(b)})
    monkeypatch.setattr(registry, "_state", {**registry._state, "plugins": False})
    monkeypatch.setattr(registry, "_report", registry._Report())


def _block_class(block_name: str) -> type[base.Block]:
    from vibench.schemas.blocks import NoParams

    return type("Plugin_" + block_name, (base.Block,), {
        "name": block_name, "Params": NoParams, "__module__": __name__,
        "infer": lambda self, p, ins, ctx: ins})


@pytest.mark.usefixtures("fresh_registry")
def test_a_block_whose_check_raises_costs_only_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    """A check that raises on one class (what a source file in an unforeseen encoding did) refuses that
    block with W121 and the exception; the block beside it is admitted."""
    broken, good = _block_class("broken_check"), _block_class("good_check")
    real = contract.contract_problems

    def contract_problems(cls: object) -> list[contract.Problem]:
        if cls is broken:
            raise UnicodeDecodeError("utf-8", b"\xe9", 0, 1, "invalid continuation byte")
        return real(cls)

    monkeypatch.setattr(contract, "contract_problems", contract_problems)
    source = registry._Source("plug = p_plug", "p_plug 0.1")
    registry._admit([(source, broken), (source, good)])
    assert type(registry.get("good_check")) is good
    assert "broken_check" not in registry._BLOCKS
    (warning,) = registry.plugin_warnings()
    assert warning.code == "W121"
    assert warning.message == ("plug-in block `broken_check` of `plug = p_plug` (distribution p_plug 0.1) is refused: "
                               "checking it raised UnicodeDecodeError: 'utf-8' codec can't decode byte 0xe9 in "
                               "position 0: invalid continuation byte")


@pytest.mark.usefixtures("fresh_registry")
def test_loading_that_fails_leaves_the_plugins_unloaded(monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception out of loading (a bug of vibench's own) leaves no half-set state: the next lookup
    loads the plug-ins again, and meets the same error rather than a bare E110 and no warnings."""
    good = _block_class("half_loaded")
    source = registry._Source("plug = p_plug", "p_plug 0.1")
    monkeypatch.setattr(registry, "_entry_points", lambda: ["one"])
    monkeypatch.setattr(registry, "_load_entry_point", lambda ep, found: [(source, good)])
    real_admit = registry._admit

    def admit(found: list) -> None:
        real_admit(found)  # the block is in, then the bug
        raise RuntimeError("a bug of vibench's own")

    monkeypatch.setattr(registry, "_admit", admit)
    for _ in range(2):
        with pytest.raises(RuntimeError, match="a bug of vibench's own"):
            registry.get("half_loaded")
        assert registry._state["plugins"] is False and "half_loaded" not in registry._BLOCKS
        assert registry.plugin_warnings() == ()
    monkeypatch.setattr(registry, "_admit", real_admit)
    assert type(registry.get("half_loaded")) is good
