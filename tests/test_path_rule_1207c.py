"""The places left on the old path rule (spec references are joined to the folder of the real file that writes
them, `..` left to the OS), and PHM-Vibench base configs, which keep PHM-Vibench's reading:

1. The language server took a document's folder as given and tidied its references and `-I` folders by name
   (`normpath`, `abspath`): for a document that is a link, or `link/..`, it named other files than the compiler.
2. A model family's folder was recorded for the build cache tidied by name (`abspath`): `top/link/../isfm` was
   watched as `top/isfm`.
3. Text given with a path (the editor's) kept the path as given as its document's path: its slot folder fallback
   and its PHM home were the link's folder, its references the real one's.
4. An experiment that is itself a link (`exps/exp.yaml -> ../real/exp.yaml`) read its base config beside the real
   file; PHM-Vibench (`yaml_path.parent / base`) reads it beside the link.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import vibench
from vibench.compiler import phm_checks
from vibench.compiler.pipeline import load
from vibench.compiler.resolve import Library
from vibench.lsp import checking

RESNET = "model:\n  type: CNN\n  name: ResNet1D\n  input_dim: 1\n  num_classes: {}\n"
BASE = ("vibench: 1\nname: {}\ninputs: {{x: {{shape: [B, 8]}}}}\nnodes:\n  r: {{block: relu, in: x}}\n"
        "outputs: {{y: r}}\n")


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def linked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project (its `.git`) with `top/link -> ../real/inner` and `X/link.yaml -> ../Y/spec.yaml`."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "real" / "inner").mkdir(parents=True)
    (tmp_path / "top").mkdir()
    (tmp_path / "top" / "link").symlink_to("../real/inner")
    for where in ("X", "Y"):
        _write(tmp_path / where / "base.yaml", BASE.format(f"{where}Base"))
    _write(tmp_path / "Y" / "spec.yaml", "vibench: 1\nextends: ./base\n")
    (tmp_path / "X" / "link.yaml").symlink_to("../Y/spec.yaml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VIBENCH_SPEC_PATH", raising=False)
    return tmp_path


# -- 1. the language server -------------------------------------------------------------------------------------


def test_a_checked_document_that_is_a_link_reads_its_references_from_its_real_folder(linked: Path) -> None:
    text = "vibench: 1\nextends: ./base\n"
    checked = checking.check(text, str(linked / "X" / "link.yaml"), 1, [])
    assert checked.program is not None and checked.program.root.name == "YBase"
    assert checked.folder == str((linked / "Y").resolve())
    assert checking._spec_file("./base", checked.folder, ()) == str((linked / "Y" / "base.yaml").resolve())


def test_a_reference_through_a_folder_link_is_found_where_the_os_opens_it(linked: Path) -> None:
    """`top/link/../m.yaml` is `real/m.yaml`; tidied by name it was `top/m.yaml`."""
    _write(linked / "top" / "m.yaml", BASE.format("Top"))
    _write(linked / "real" / "m.yaml", BASE.format("Real"))
    found = checking._spec_file("./link/../m.yaml", str(linked / "top"), (str(linked),))
    assert found == str((linked / "real" / "m.yaml").resolve())
    # a search folder `top/link/..` is `real/`, as the CLI's `-I top/link/..` is
    found = checking._spec_file("m", None, (str(linked / "top" / "link" / ".."),))
    assert found == str((linked / "real" / "m.yaml").resolve())


# -- 2. a model family's folder, recorded --------------------------------------------------------------------------


def test_a_family_folder_is_recorded_as_the_os_looks_it_up(linked: Path) -> None:
    library = Library([str(linked / "top" / "link" / "..")])
    phm_checks._subfolders("isfm", library)
    recorded = str(linked / "top" / "link" / ".." / "isfm")
    assert library.looked.get(recorded) == "folders"
    assert str(linked / "top" / "isfm") not in library.looked


# -- 3. text given with a path ------------------------------------------------------------------------------------


def test_text_given_with_a_path_that_is_a_link_is_the_real_file(linked: Path) -> None:
    doc = load(str(linked / "X" / "link.yaml"), "vibench: 1\nextends: ./base\n")
    assert doc.path == str((linked / "Y" / "spec.yaml").resolve())


# -- 4. PHM-Vibench base configs ----------------------------------------------------------------------------------


def test_an_experiment_that_is_a_link_reads_its_base_config_beside_the_link(linked: Path) -> None:
    """As PHM-Vibench's `yaml_path.parent / "m.yaml"`: `exps/m.yaml`, not `real/m.yaml` beside the real file."""
    _write(linked / "real" / "exp.yaml", "base_configs:\n  model: m.yaml\n")
    _write(linked / "real" / "m.yaml", RESNET.format(5))
    _write(linked / "exps" / "m.yaml", RESNET.format(7))
    (linked / "exps" / "exp.yaml").symlink_to("../real/exp.yaml")
    assert dict(vibench.check(str(linked / "exps" / "exp.yaml")).root.params)["num_classes"] == 7
    assert dict(vibench.check(str(linked / "real" / "exp.yaml")).root.params)["num_classes"] == 5
    # the editor's text with that path reads the same file
    text = (linked / "real" / "exp.yaml").read_text(encoding="utf-8")
    checked = checking.check(text, str(linked / "exps" / "exp.yaml"), 1, [])
    assert checked.program is not None and dict(checked.program.root.params)["num_classes"] == 7


def test_an_experiment_named_through_a_folder_link_reads_its_base_config_where_the_os_opens_it(
    linked: Path,
) -> None:
    """`top/link/exp.yaml` is `real/inner/exp.yaml`: `../m.yaml` from there is `real/m.yaml`, never `top/m.yaml`."""
    _write(linked / "real" / "inner" / "exp.yaml", "base_configs:\n  model: ../m.yaml\n")
    _write(linked / "real" / "m.yaml", RESNET.format(5))
    _write(linked / "top" / "m.yaml", RESNET.format(7))
    assert dict(vibench.check(str(linked / "top" / "link" / "exp.yaml")).root.params)["num_classes"] == 5
