"""The places still on the old path rule (QA report 1207c, after spec references were read as the file system
reads them): a path is joined to its folder and resolved by the OS, `..` never trimmed by name, and a spec's folder
is the folder of its real path.

1. A PHM-Vibench `base_configs` entry was tidied by name (`os.path.normpath`): `link/../m.yaml`, with
   `link -> ../real/inner`, read the `m.yaml` beside the link, not `real/m.yaml`, which PHM-Vibench
   (`yaml_path.parent / base`) and the OS open; the paths a lookup missed were recorded so too, and a base config
   created where the OS looks was not seen by a cached build.
2. A slot folder's listing was recorded for the build cache tidied by name (`os.path.abspath`): for a search folder
   `top/link/..` it watched `top/comp`, not the folder it listed, and a component added there kept the old model.
3. `vibench.build` decided whether an experiment's base-config lookup reached the working folder from the folder
   as given (by name): the compiler looks beside the real file, so an experiment reached through a link (or a
   `link/..` on the way) shared one entry across working folders that hold different base configs.
4. The language server's go-to-definition read references from the document's folder as given: for a document
   opened through a link it named another file than the one its diagnostics came from.
"""

from __future__ import annotations

import textwrap
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pytest

import vibench
from vibench.api import SpecWarning
from vibench.lsp import navigation
from vibench.lsp.catalog import Catalog
from vibench.lsp.document import Document

RESNET = "model:\n  type: CNN\n  name: ResNet1D\n  input_dim: 1\n  num_classes: {}\n"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _classes(spec: str, **kw: Any) -> int:
    return int(vibench.build(spec, **kw).classifier.out_features)


@pytest.fixture
def linked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project (its `.git`) with `top/link -> ../real/inner`: `top/link/..` is `real/` to the file system."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "real" / "inner").mkdir(parents=True)
    (tmp_path / "top").mkdir()
    (tmp_path / "top" / "link").symlink_to("../real/inner")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VIBENCH_SPEC_PATH", raising=False)
    return tmp_path


# -- 1. a base config's path ----------------------------------------------------------------------------------


def test_a_base_config_through_a_folder_link_is_the_file_the_os_opens(linked: Path, folder: Path) -> None:
    _write(linked / "top" / "m.yaml", RESNET.format(3))  # beside the link: what `normpath` made of the entry
    _write(linked / "real" / "m.yaml", RESNET.format(5))
    experiment = _write(linked / "top" / "exp.yaml", "base_configs:\n  model: link/../m.yaml\n")
    assert Path("top/link/../m.yaml").read_text() == RESNET.format(5)  # what PHM-Vibench opens
    assert vibench.check(str(experiment)).root.name == "ResNet1D"
    assert _classes(str(experiment)) == 5


def test_a_base_config_created_where_the_os_looks_first_is_read_by_the_next_build(
    linked: Path, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Missing beside the experiment and at the root, the entry is found from the working folder; once a file is
    there beside the experiment (through the link), it is the one read: the path missed was recorded as tried."""
    (linked / "w").mkdir()
    (linked / "w" / "link").symlink_to("../other/inner")
    _write(linked / "other" / "inner" / "keep.yaml", "")
    _write(linked / "other" / "m.yaml", RESNET.format(5))
    experiment = _write(linked / "top" / "exp.yaml", "base_configs:\n  model: link/../m.yaml\n")
    monkeypatch.chdir(linked / "w")
    assert _classes(str(experiment)) == 5
    _write(linked / "real" / "m.yaml", RESNET.format(9))
    assert _classes(str(experiment)) == 9


# -- 2. a slot folder's listing ---------------------------------------------------------------------------------

TOP = textwrap.dedent("""\
    vibench: 1
    name: Top
    params:
      body: {type: str, default: Bc, slot: comp}
    inputs: {x: {shape: [B, 8]}}
    nodes:
      b: {block: "comp/${body}", in: x, inherit: true}
    outputs: {y: b}
    """)
CHOSEN = "vibench: 1\nname: Bc\ninputs: {x: {shape: [B, 8]}}\nnodes:\n  r: {block: relu, in: x}\noutputs: {y: r}\n"


def _declares_depth(name: str) -> str:
    return (f"vibench: 1\nname: {name}\nparams: {{depth: {{type: int, default: 1, ge: 1}}}}\n"
            "inputs: {x: {shape: [B, 8]}}\nnodes:\n  fc: {block: linear, in: x, out_features: 8, repeat: depth}\n"
            "outputs: {y: fc}\n")


def _warned(call: Callable[[], Any]) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SpecWarning)
        call()
    return [str(w.message) for w in caught if w.category is SpecWarning]


def test_a_component_added_to_a_slot_folder_past_a_folder_link_is_in_the_next_build(
    linked: Path, folder: Path
) -> None:
    """The slot folder `comp` on the search folder `top/link/..` is `real/comp`; `top/comp` is none."""
    _write(linked / "real" / "comp" / "Bc.yaml", CHOSEN)
    _write(linked / "real" / "comp" / "A.yaml", _declares_depth("A"))
    spec = str(_write(linked / "spec" / "top.yaml", TOP))
    (first,) = _warned(lambda: vibench.build(spec, search_path=["top/link/.."], depth=3))
    assert "hint: it is read by A;" in first
    _write(linked / "real" / "comp" / "A2.yaml", _declares_depth("A2"))
    (second,) = _warned(lambda: vibench.build(spec, search_path=["top/link/.."], depth=3))
    assert "hint: it is read by A, A2;" in second


# -- 3. the working folder of a linked experiment's build -------------------------------------------------------


def _cwd_bases(root: Path) -> None:
    """A base config `m.yaml` in each of two working folders, `a` (5 classes) and `b` (7 classes)."""
    _write(root / "a" / "m.yaml", RESNET.format(5))
    _write(root / "b" / "m.yaml", RESNET.format(7))


def test_an_experiment_past_a_folder_link_looks_for_its_base_config_from_its_real_folder(
    linked: Path, folder: Path, compilations: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`top/link/../exp.yaml` is `real/exp.yaml`: its entry is looked for in `real/`, the root, then the working
    folder (as PHM-Vibench's `yaml_path.parent / "m.yaml"` is `real/m.yaml`), never in `top/`; found in the working
    folder, the entry is that folder's own."""
    _cwd_bases(linked)
    _write(linked / "top" / "m.yaml", RESNET.format(3))  # beside the name as given, trimmed: no file it reads
    _write(linked / "real" / "exp.yaml", "base_configs:\n  model: m.yaml\n")
    experiment = str(linked / "top" / "link" / ".." / "exp.yaml")
    for where, classes in (("a", 5), ("b", 7), ("a", 5)):
        monkeypatch.chdir(linked / where)
        assert _classes(experiment) == classes, where
    assert len(compilations) == 2  # one entry a working folder


def test_an_experiment_that_is_a_link_keys_its_build_by_the_working_folder_its_base_config_is_in(
    linked: Path, folder: Path, compilations: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _cwd_bases(linked)
    _write(linked / "real" / "exp.yaml", "base_configs:\n  model: m.yaml\n")
    (linked / "exps").mkdir()
    (linked / "exps" / "exp.yaml").symlink_to("../real/exp.yaml")
    for where, classes in (("a", 5), ("b", 7), ("a", 5)):
        monkeypatch.chdir(linked / where)
        assert _classes(str(linked / "exps" / "exp.yaml")) == classes, where
    assert len(compilations) == 2


# -- 4. go to definition ----------------------------------------------------------------------------------------


def _definition(path: Path, text: str, word: str, search_path: list[str] | None = None) -> str | None:
    """The file go-to-definition opens for the value ``word`` of the document ``text`` opened at ``path``."""
    doc = Document(path.as_uri(), str(path), text)
    line = next(number for number, row in enumerate(text.splitlines()) if word in row)
    offset = doc.lines.offset(line, text.splitlines()[line].index(word) + 1)
    found = navigation.definition(doc, Catalog(search_path or []), offset)
    return unquote(urlparse(found[0].uri).path) if found else None


def test_definition_in_a_document_that_is_a_link_opens_the_file_its_diagnostics_read(linked: Path) -> None:
    """`X/link.yaml -> ../Y/spec.yaml` reads `./base` as `Y/base.yaml`: so does go-to-definition."""
    model = "vibench: 1\nname: {}\ninputs: {{x: {{shape: [B, 8]}}}}\nnodes:\n  r: {{block: relu, in: x}}\n" \
            "outputs: {{y: r}}\n"
    for where in ("X", "Y"):
        _write(linked / where / "base.yaml", model.format(f"{where}Base"))
    text = "vibench: 1\nextends: ./base\n"
    _write(linked / "Y" / "spec.yaml", text)
    (linked / "X" / "link.yaml").symlink_to("../Y/spec.yaml")
    assert vibench.check(str(linked / "X" / "link.yaml")).root.name == "YBase"  # what its diagnostics come from
    assert _definition(linked / "X" / "link.yaml", text, "./base") == str((linked / "Y" / "base.yaml").resolve())


def test_definition_of_a_base_config_through_a_folder_link_opens_the_file_the_compiler_reads(
    linked: Path, folder: Path
) -> None:
    _write(linked / "top" / "m.yaml", RESNET.format(3))
    _write(linked / "real" / "m.yaml", RESNET.format(5))
    text = "base_configs:\n  model: link/../m.yaml\n"
    experiment = _write(linked / "top" / "exp.yaml", text)
    assert _definition(experiment, text, "link/../m.yaml") == str((linked / "real" / "m.yaml").resolve())
    assert _classes(str(experiment)) == 5  # the file the compiler reads
