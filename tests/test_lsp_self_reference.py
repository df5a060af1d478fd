"""A diagnostic in the document's own file, read again from disk through a reference to itself
(``block: ./m.yaml#Inner`` in m.yaml), is placed in the document, where `vibench-compile --check` puts
it, with its quick fix. The compiler names the copy it reads from disk from the working folder
(``sub/m.yaml``), the editor's document by its absolute path: the two names are the same file.

While the editor's text differs from the file saved, the positions are of the saved file, not of the
text: the diagnostic stays at the reference, as one of another file, naming where it is.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pygls", reason="vibench-lsp needs the `lsp` extra (pygls): pip install -r requirements-dev.txt")

from tests.lsp.client import file_uri  # noqa: E402
from tests.lsp.server import ROOT  # noqa: E402
from tests.lsp.vibench_lsp import start_vibench_server  # noqa: E402
from vibench.lsp import checking  # noqa: E402
from vibench.lsp.outline import outline  # noqa: E402
from vibench.lsp.text import Lines  # noqa: E402

SELF = """\
vibench: 1
name: M
blocks:
  Inner:
    inputs: {x: {shape: [B, C]}}
    nodes:
      r: {block: relu, in: xx}
    outputs: {y: r}
inputs: {x: {shape: [B, 4]}}
nodes:
  a: {block: ./m.yaml#Inner, in: x}
outputs: {y: a}
"""


def placed(text: str, path: Path) -> list[checking.Problem]:
    checked = checking.check(text, str(path), 1, [])
    return checking.problems(checked, outline(text), Lines(text))


def test_an_error_in_the_documents_own_composite_read_from_disk_is_placed_in_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the compiler names files it reads relative to the working folder
    path = tmp_path / "sub" / "m.yaml"
    path.parent.mkdir()
    path.write_text(SELF)
    (problem,) = placed(SELF, path)
    assert problem.diagnostic.code == "E401" and str(problem.diagnostic.pos) == "sub/m.yaml:7:28"
    start = SELF.index("in: xx") + len("in: ")
    assert (problem.start, problem.end) == (start, start + 2)
    assert problem.message.startswith("node `r` reads unknown value `xx`") and problem.elsewhere is None
    assert problem.fix == (start, start + 2, "x")  # the quick fix of "did you mean `x`?"

    edited = "# not saved yet\n" + SELF  # the compiler read the saved file: its positions are not of this text
    (problem,) = placed(edited, path)
    reference = edited.index("./m.yaml#Inner")
    assert (problem.start, problem.end) == (reference, reference + len("./m.yaml#Inner"))
    assert problem.message.startswith("in sub/m.yaml:7:28: node `r` reads unknown value `xx`")
    assert problem.elsewhere == (str(path), 7, 28) and problem.fix is None


def test_a_spec_that_uses_its_own_file_gets_its_error_where_the_compiler_puts_it() -> None:
    """tests/broken/e206_self_reference.yaml: E206 at 8:3 (`expect:` in the file, and the command line),
    not at the `block:` value with an "in ...:" prefix."""
    path = ROOT / "tests" / "broken" / "e206_self_reference.yaml"
    text = path.read_text(encoding="utf-8")
    assert "# expect: E206 at 8:3" in text
    lsp = start_vibench_server()  # its working folder is the repository's
    try:
        uri = file_uri(path)
        lsp.open(uri, text)
        (diag,) = lsp.diagnostics(uri)
    finally:
        lsp.shutdown()
    assert diag["code"] == "E206" and diag["range"]["start"] == {"line": 7, "character": 2}, diag
    assert diag["message"].startswith("block `SelfReference` uses itself") and "relatedInformation" not in diag
