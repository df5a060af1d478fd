"""vibench-lsp and the template schema against the QA pass of 1206e: a slot's components are found from the folder
of the file that declares the slot, as the compiler finds them (vibench/compiler/slots.py).

``extends: ./lib/Slotted`` with ``with: {enc: |}``, where lib/Slotted.yaml declares ``enc: {slot: comp}`` and its
components are lib/comp/*.yaml: completion searched the edited document's folder (no comp/ there) and offered
nothing, and ``vibench-compile schema --template lib/Slotted.yaml`` listed no component. In-process, as
tests/test_lsp_documents.py drives the server's pieces (a :class:`Document` and a :class:`Catalog`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pygls", reason="vibench-lsp needs the `lsp` extra (pygls): pip install -r requirements-dev.txt")

from vibench.lsp import completion  # noqa: E402
from vibench.lsp.catalog import Catalog  # noqa: E402
from vibench.lsp.document import Document  # noqa: E402
from vibench.schemas.template_schema import load_template, with_schema  # noqa: E402

SLOTTED = """\
vibench: 1
name: Slotted
doc: A template with a slot of its own.
params:
  enc: {type: str, default: Wide, slot: comp, doc: The encoder.}
inputs: {x: {shape: [B, 4]}}
nodes: {e: {block: "comp/${enc}", in: x}}
outputs: {y: e}
"""


def component(name: str) -> str:
    return (f"vibench: 1\nname: {name}\ndoc: The {name} encoder.\ninputs: {{x: {{shape: [B, 4]}}}}\n"
            "nodes: {fc: {block: linear, in: x, out_features: 2}}\noutputs: {y: fc}\n")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "lib" / "comp").mkdir(parents=True)
    (tmp_path / "lib" / "Slotted.yaml").write_text(SLOTTED, encoding="utf-8")
    for name in ("Wide", "Narrow"):
        (tmp_path / "lib" / "comp" / f"{name}.yaml").write_text(component(name), encoding="utf-8")
    return tmp_path


def document(folder: Path, text: str, mark: str) -> tuple[Document, int]:
    """An open document (written to ``folder``) and the offset just after ``mark`` in it (``mark`` removed)."""
    offset = text.index(mark)
    clean = text.replace(mark, "", 1)
    path = folder / "doc.yaml"
    path.write_text(clean, encoding="utf-8")
    return Document(path.as_uri(), str(path), clean, 1), offset


def test_a_with_value_completes_the_components_beside_the_template(project: Path) -> None:
    doc, offset = document(project, "vibench: 1\nextends: ./lib/Slotted\nwith: {enc: N|}\n", "|")
    assert {i.label for i in completion.complete(doc, Catalog(), offset)} == {"Narrow", "Wide"}


def test_a_with_value_completes_from_a_document_in_another_folder(project: Path) -> None:
    """The template on the search path (`extends: Slotted`), the document in a folder of its own: the template's
    folder still."""
    (project / "runs").mkdir()
    doc, offset = document(project / "runs", "vibench: 1\nextends: Slotted\nwith: {enc: |}\n", "|")
    assert {i.label for i in completion.complete(doc, Catalog([str(project / "lib")]), offset)} == {"Narrow", "Wide"}


def test_a_node_parameter_of_a_template_block_completes_its_components(project: Path) -> None:
    doc, offset = document(project, "vibench: 1\nname: Host\ninputs: {x: {shape: [B, 4]}}\n"
                                    "nodes: {s: {block: ./lib/Slotted, in: x, enc: |}}\noutputs: {y: s}\n", "|")
    assert {i.label for i in completion.complete(doc, Catalog(), offset)} == {"Narrow", "Wide"}


def test_the_catalog_knows_the_folder_that_declares_a_slot(project: Path) -> None:
    catalog = Catalog()
    template = catalog.unit("./lib/Slotted", str(project))
    assert template is not None
    enc = template.param("enc")
    assert enc is not None and enc.slot == "comp" and enc.slot_dir == str(project / "lib")
    # a template extending it from elsewhere, setting the slot under `with:`: still the declaring file's folder
    # (from another folder of the edited document's, `../lib` as the compiler reads it: inside the document's folder)
    (project / "other").mkdir()
    (project / "other" / "Mine.yaml").write_text("vibench: 1\nextends: ../lib/Slotted\nwith: {enc: Narrow}\n",
                                                  encoding="utf-8")
    mine = catalog.unit("./other/Mine", str(project))
    assert mine is not None and mine.param("enc") is not None
    assert mine.param("enc").slot_dir == str(project / "lib")  # type: ignore[union-attr]
    doc, offset = document(project, "vibench: 1\nextends: ./other/Mine\nwith: {enc: |}\n", "|")
    assert {i.label for i in completion.complete(doc, catalog, offset)} == {"Narrow", "Wide"}


def test_hover_and_definition_find_the_component_from_the_declaring_folder(project: Path) -> None:
    """What hover and go-to-definition of a slot value read: the parameter, then its component from its folder."""
    from vibench.lsp.document import value_slot_param

    doc, offset = document(project, "vibench: 1\nextends: ./lib/Slotted\nwith: {enc: Nar|row}\n", "|")
    catalog = Catalog()
    param = value_slot_param(doc, catalog, doc.cursor(offset).path)
    assert param is not None and param.slot == "comp"
    unit = catalog.slot_component(param, "Narrow", doc.from_dir)
    assert unit is not None and unit.path == str(project / "lib" / "comp" / "Narrow.yaml")
    assert "The Narrow encoder." in unit.markdown()
    assert catalog.slot_definition(param, "Narrow", doc.from_dir) == (str(project / "lib" / "comp" / "Narrow.yaml"),
                                                                      1, 1)


def test_the_template_schema_lists_the_components_beside_a_template_off_the_search_path(project: Path) -> None:
    schema = with_schema(load_template(str(project / "lib" / "Slotted.yaml"), []))
    enc = schema["properties"]["enc"]
    assert enc["anyOf"][0]["enum"] == ["Narrow", "Wide"]


def test_the_catalog_lists_nothing_through_a_slot_folder_linked_outside(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.yaml").write_text(component("Secret"), encoding="utf-8")
    project = tmp_path / "project"
    project.mkdir()
    (project / "linkout").symlink_to(outside, target_is_directory=True)
    assert Catalog().slot_components("linkout", str(project)) == []
    assert Catalog([str(outside)]).slot_components("linkout", str(project)) == ["secret"]


def test_hover_and_definition_of_a_slot_value_find_the_component_beside_the_template(lsp: Any, project: Path) -> None:
    """Through the server: hover shows the component's doc, go-to-definition opens its file (both looked in the
    edited document's folder, where no comp/ is)."""
    from tests.lsp.client import file_uri

    text = "vibench: 1\nextends: ./lib/Slotted\nwith: {enc: Narrow}\n"
    path = project / "doc.yaml"
    path.write_text(text, encoding="utf-8")
    column = text.split("\n")[2].index("Narrow") + 2
    uri = file_uri(path)
    lsp.open(uri, text)
    lsp.diagnostics(uri)
    assert "The Narrow encoder" in lsp.hover(uri, 2, column)
    (target,) = lsp.definition(uri, 2, column)
    assert target["uri"] == file_uri(project / "lib" / "comp" / "Narrow.yaml")
    lsp.close(uri)
