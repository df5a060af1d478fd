"""vibench-lsp with plug-in blocks that misbehave, and text that would act where it is shown.

* A plug-in's `infer` raising a BaseException that is no Exception — KeyboardInterrupt, asyncio's
  CancelledError, GeneratorExit, a class of its own — is E114 at its node, as a RuntimeError is; the
  server goes on (a KeyboardInterrupt ended it; CancelledError lost the document's diagnostics). The
  checks run on a worker thread, where no signal is ever delivered, so none of these is a real Ctrl-C.
* What the editor shows — hover, completion documentation, diagnostics, symbols — carries no control or
  bidirectional character: each is written as its escape (``\\u202e``), as `--blocks` writes a block's doc;
  a value in a hover's code span cannot close it.

The plug-ins are installed as pip does (tests/test_plugins_loading.py) and the server runs as a subprocess.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("pygls", reason="vibench-lsp needs the `lsp` extra (pygls): pip install -r requirements-dev.txt")

from tests.lsp.client import LanguageServer, file_uri  # noqa: E402
from tests.lsp.server import ROOT  # noqa: E402
from tests.lsp.vibench_lsp import start_vibench_server  # noqa: E402
from tests.test_plugins_loading import install, spec_text  # noqa: E402

SOURCE = '''
import asyncio
from typing import Literal

from pydantic import Field

from vibench.compiler.blocks.base import Block
from vibench.compiler.codegen import code as c
from vibench.compiler.registry import register
from vibench.schemas.blocks import BlockParams


class Boom(BaseException):
    """An exception class of the plug-in's own, outside Exception."""


class KParams(BlockParams):
    k: int = Field(1, ge=1, description="k \\u202e evil \\x1b[31m red.")
    mode: Literal["a`b", "c"] = Field("c", description="A mode whose choice holds a backtick.")


def block(name, raises, doc="A plug-in block."):
    def infer(self, p, ins, ctx):
        if raises is not None:
            raise raises()
        return [ins[0]]

    def call_code(self, p, args, mod):
        return c.call("torch.tanh", args[0])

    cls = type(f"B_{name}", (Block,), {"__doc__": doc, "name": name, "Params": KParams, "infer": infer,
                                       "call_code": call_code, "__module__": __name__})
    register(cls)


block("p_kbint", KeyboardInterrupt)
block("p_cancel", asyncio.CancelledError)
block("p_genexit", GeneratorExit)
block("p_boom", lambda: Boom("boom"))
block("p_loud", lambda: RuntimeError("kaboom \\u202e bidi \\x1b[2J"))
block("p_bidi", None, doc="Safe \\u202e txet desrever \\x07 bell \\x1b[2J `code`.")
'''
RAISED = {"p_kbint": "KeyboardInterrupt", "p_cancel": "CancelledError", "p_genexit": "GeneratorExit",
          "p_boom": "Boom"}


@pytest.fixture(scope="module")
def lsp(tmp_path_factory: pytest.TempPathFactory):
    site = tmp_path_factory.mktemp("site")
    install(site, "p_odd", {"p_odd/__init__.py": SOURCE}, ["odd = p_odd"])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)]), "VIBENCH_CACHE": "0"}
    server = start_vibench_server(env=env)
    yield server
    server.shutdown()


def shown_raw(text: str) -> list[str]:
    """The characters of ``text`` that would act rather than show (controls, bidirectional overrides)."""
    return [ch for ch in text if not (ch.isprintable() or ch in "\n\t")]


def test_a_plugin_raising_a_base_exception_is_e114_and_the_server_goes_on(lsp: LanguageServer,
                                                                           tmp_path: Path) -> None:
    for name, raised in RAISED.items():
        uri = file_uri(tmp_path / f"{name}.yaml")
        lsp.open(uri, spec_text(name, shape="[B, 4, L]"))
        (diag,) = lsp.diagnostics(uri)
        assert diag["code"] == "E114", diag
        assert diag["message"].startswith(f"plug-in block `{name}` failed at node `n0`: its `infer` raised {raised}")
        assert diag["range"]["start"] == {"line": 4, "character": 2}, diag
        assert lsp.proc.poll() is None
    uri = file_uri(tmp_path / "fine.yaml")
    lsp.open(uri, spec_text("p_bidi", shape="[B, 4, L]"))
    assert lsp.diagnostics(uri) == []  # checks go on
    assert lsp.hover(uri, 4, 3).startswith("**n0**: `p_bidi`")
    assert not [line for line in lsp.stderr_lines if "Traceback" in line]


def test_what_the_editor_shows_is_escaped(lsp: LanguageServer, tmp_path: Path) -> None:
    rlo = "\u202e"
    text = (
        "vibench: 1\n"
        "name: M\n"
        f"params: {{width: {{type: int, default: 4, doc: width {rlo} doc}}}}\n"
        f"inputs: {{x: {{shape: [B, 4, L], doc: input {rlo} doc}}}}\n"
        "nodes:\n"
        f"  n0: {{block: p_bidi, in: x, k: 2, doc: node {rlo} doc}}\n"
        "  n1: {block: p_loud, in: n0}\n"
        "outputs: {y: n1}\n"
    )
    lines = text.split("\n")
    uri = file_uri(tmp_path / "shown.yaml")
    lsp.open(uri, text)
    diagnostics = {d["code"]: d["message"] for d in lsp.diagnostics(uri)}  # E114, and a warning: `width` unused
    shown = {"E114": diagnostics.pop("E114"), **diagnostics}
    shown["block hover"] = lsp.hover(uri, 5, lines[5].index("p_bidi") + 1)
    shown["parameter hover"] = lsp.hover(uri, 5, lines[5].index("k: 2"))
    shown["node hover"] = lsp.hover(uri, 5, 3)
    shown["input hover"] = lsp.hover(uri, 3, lines[3].index("x:"))
    shown["resolved item"] = lsp.resolve({"label": "p_bidi", "data": {"block": "p_bidi"}})["documentation"]["value"]
    items = lsp.completion(uri, 5, lines[5].index("k: 2"))
    shown["parameter item"] = next(i for i in items if i["label"] == "k")["documentation"]["value"]

    unknown = file_uri(tmp_path / "unknown.yaml")  # the compiler's message quotes the spec's text
    lsp.open(unknown, spec_text("relu").replace("{block: relu,", '{block: "rel\\u202eu\\x1b[2J",'))
    (e110,) = lsp.diagnostics(unknown)
    shown["E110"] = e110["message"]
    named = file_uri(tmp_path / "named.yaml")  # a node name that is refused, listed as a symbol
    lsp.open(named, spec_text("relu").replace("n0", f"a{rlo}b"))
    lsp.diagnostics(named)
    symbols = lsp.document_symbols(named)
    shown["symbols"] = "\n".join(s["name"] + " " + (s.get("detail") or "") for s in symbols)

    for what, value in shown.items():
        assert shown_raw(value) == [], (what, value)
    assert "found: RuntimeError: kaboom \\u202e bidi \\x1b[2J" in shown["E114"]
    assert "rel\\u202eu\\x1b[2J" in shown["E110"]
    assert "k \\u202e evil \\x1b[31m red." in shown["parameter hover"]
    assert "k \\u202e evil \\x1b[31m red." in shown["parameter item"]
    assert "k \\u202e evil \\x1b[31m red." in shown["resolved item"] and "\\x07 bell" in shown["resolved item"]
    assert "node \\u202e doc" in shown["node hover"] and "input \\u202e doc" in shown["input hover"]
    assert "a\\u202eb" in shown["symbols"]
    assert "``'a`b' | 'c'``" in shown["resolved item"]  # the type of `mode`, in a code span it cannot close


def test_a_value_cannot_close_its_code_span_in_a_hover(lsp: LanguageServer, tmp_path: Path) -> None:
    block = "a` [x](https://example.com) `b"
    text = spec_text("relu").replace("{block: relu,", f'{{block: "{block}",')
    uri = file_uri(tmp_path / "span.yaml")
    lsp.open(uri, text)
    lsp.diagnostics(uri)
    assert lsp.hover(uri, 4, 3).split("\n")[0] == "**n0**: ``a` [x](https://example.com) `b``"


def test_a_plugin_raising_keyboard_interrupt_at_import_does_not_end_the_server(tmp_path: Path) -> None:
    """The block registry imports the plug-ins on the checker's thread: a KeyboardInterrupt there (not a
    Ctrl-C: none reaches that thread) is the plug-in's failure to load, named where a block is missing, and
    the server answers on (it ended)."""
    site = tmp_path / "site"
    install(site, "p_kbimport", {"p_kbimport/__init__.py": "raise KeyboardInterrupt\n"}, ["kb = p_kbimport"])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)]), "VIBENCH_CACHE": "0"}
    lsp = start_vibench_server(env=env)
    try:
        missing = file_uri(tmp_path / "missing.yaml")
        lsp.open(missing, spec_text("p_missing"))
        (e110,) = lsp.diagnostics(missing)
        assert e110["code"] == "E110" and "failed to load (KeyboardInterrupt" in e110["message"], e110
        uri = file_uri(tmp_path / "m.yaml")
        lsp.open(uri, spec_text("relu"))
        assert lsp.hover(uri, 4, 3).startswith("**n0**: `relu`")
        assert not any("KeyboardInterrupt" in m["message"] for m in lsp.logged)  # no crash of a check logged
    finally:
        lsp.shutdown()
    assert lsp.proc.returncode == 0
