"""The budget of spec files one compilation reads: bytes, files and values, each file read once.

The limits are lowered here (the defaults are 64 MiB, 2,000 files, 4,000,000 values; see
:mod:`vibench.compiler.limits`) so that each case writes a few hundred kilobytes; hard links stand for
copies of a large file, as in the reports these cases come from (200 links to a 15 MiB spec took 18 s
and 3.1 GB; a slot folder of 1,000 of them, over a minute; 400 `base_configs` entries naming one
15 MiB file, 32 s).
"""

from __future__ import annotations

import doctest
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from vibench.compiler import limits, load, phm
from vibench.compiler.diagnostics import SpecError
from vibench.compiler.pipeline import compile_program

PAD = "# " + "x" * 1022 + "\n"  # one KiB of comment: bytes that load no values
BLOCK = """\
vibench: 1
name: H
inputs: {x: {shape: [B, 4]}}
blocks:
  X:
    inputs: {x: {shape: [B, C]}}
    nodes:
      a: {block: relu, in: x}
    outputs: {y: a}
nodes:
  a: {block: relu, in: x}
outputs: {y: a}
"""


@pytest.fixture
def small_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """1 MiB, 10 files and 5,000 values per compilation."""
    monkeypatch.setattr(limits, "MAX_SOURCE_BYTES", 2**20, raising=False)
    monkeypatch.setattr(limits, "MAX_SOURCE_FILES", 10, raising=False)
    monkeypatch.setattr(limits, "MAX_SOURCE_VALUES", 5_000, raising=False)


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How often the loader opens each file (by real path)."""
    counts: Counter[str] = Counter()

    def counting_open(path: Any, *args: Any, **kwargs: Any) -> Any:
        counts[os.path.realpath(path)] += 1
        return open(path, *args, **kwargs)

    monkeypatch.setattr(load, "open", counting_open, raising=False)
    return counts


def chain(folder: Path, refs: list[str]) -> Path:
    """A model whose nodes use the block `X` of each file in ``refs``, one after the other."""
    lines = ["vibench: 1", "name: M", "inputs: {x: {shape: [B, 4]}}", "nodes:"]
    previous = "x"
    for k, ref in enumerate(refs):
        lines.append(f"  n{k}: {{block: ./{ref}#X, in: {previous}}}")
        previous = f"n{k}"
    lines.append(f"outputs: {{y: {previous}}}")
    path = folder / "model.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def links(folder: Path, text: str, count: int, stem: str = "h") -> list[str]:
    """``count`` hard links to one file holding ``text``: different paths, one inode."""
    first = folder / f"{stem}0.yaml"
    first.write_text(text, encoding="utf-8")
    for k in range(1, count):
        os.link(first, folder / f"{stem}{k}.yaml")
    return [f"{stem}{k}.yaml" for k in range(count)]


def refused(path: Path, **kw: Any) -> Any:
    with pytest.raises(SpecError) as info:
        compile_program(str(path), **kw)
    (d,) = [d for d in info.value.diagnostics if d.severity == "error"]
    return d


# --------------------------------------------------------------------------------------------
# Bytes, files and values of `block:` references and `extends:`
# --------------------------------------------------------------------------------------------


def test_hard_links_count_once_each_and_stop_at_the_byte_budget(tmp_path: Path, small_budget: None,
                                                                opened: Counter[str]) -> None:
    names = links(tmp_path, BLOCK + PAD * 300, 20)  # 20 paths of 300 KiB each
    read: set[str] = set()
    d = refused(chain(tmp_path, names), files_read=read)
    assert d.code == "E002" and d.message == "the compilation reads more than 1 MiB of spec files"
    assert d.expected == "at most 1,048,576 bytes, all files together"
    assert d.found is not None and d.found.startswith("`") and "after" in d.found
    assert any("a file used again is read once" in note for note in d.notes) and d.hint
    assert d.pos is not None and d.pos.file.endswith(".yaml")
    assert len(read) <= 6  # the spec and the links that fit: never all 20
    assert sum(opened.values()) <= 6


def test_a_file_used_many_times_is_read_once(tmp_path: Path, small_budget: None, opened: Counter[str]) -> None:
    (tmp_path / "h.yaml").write_text(BLOCK + PAD * 300, encoding="utf-8")  # 300 KiB: four uses would be 1.2 MiB
    program = compile_program(str(chain(tmp_path, ["h.yaml"] * 8)))
    assert len(program.root.nodes) == 8
    assert opened[str((tmp_path / "h.yaml").resolve())] == 1


def test_many_small_files_stop_at_the_file_budget(tmp_path: Path, small_budget: None) -> None:
    names = []
    for k in range(20):
        (tmp_path / f"s{k}.yaml").write_text(BLOCK, encoding="utf-8")
        names.append(f"s{k}.yaml")
    d = refused(chain(tmp_path, names))
    assert d.code == "E002" and d.message == "the compilation reads more than 10 spec files"
    assert d.found is not None and d.found.endswith("/s9.yaml` would be file 11")
    assert d.expected == "at most 10 files, all files together"
    assert compile_program(str(chain(tmp_path, names[:9]))).root.name == "M"  # the spec and 9 files fit


def test_values_of_all_files_together_are_bounded(tmp_path: Path, small_budget: None) -> None:
    dense = BLOCK.replace("name: H\n", "name: H\nmetadata: {table: [" + ", ".join(["1"] * 2_000) + "]}\n")
    for k in range(4):
        (tmp_path / f"d{k}.yaml").write_text(dense, encoding="utf-8")  # 2,000 values each, 8 KiB: bytes fit
    d = refused(chain(tmp_path, [f"d{k}.yaml" for k in range(4)]))
    assert d.code == "E002" and d.message == "the compilation reads more than 5,000 values from its spec files"
    assert d.pos is not None and d.pos.file.endswith("model.yaml")  # at the reference to the file that crosses it
    assert (tmp_path / "model.yaml").read_text().splitlines()[d.pos.line - 1][d.pos.col - 1:].startswith("./d2.yaml")


def test_the_budget_is_per_compilation(tmp_path: Path, small_budget: None) -> None:
    (tmp_path / "h.yaml").write_text(BLOCK + PAD * 400, encoding="utf-8")
    model = chain(tmp_path, ["h.yaml"])
    for _ in range(4):  # 4 x 400 KiB read in turn: each compilation has its own MiB
        assert compile_program(str(model)).root.name == "M"


def test_extends_counts_against_the_budget(tmp_path: Path, small_budget: None) -> None:
    (tmp_path / "e0.yaml").write_text(BLOCK + PAD * 300, encoding="utf-8")
    for k in range(1, 6):  # e5 extends e4, which extends e3, ...: six files of 300 KiB
        (tmp_path / f"e{k}.yaml").write_text(f"vibench: 1\nextends: ./e{k - 1}.yaml\n" + PAD * 300)
    d = refused(tmp_path / "e5.yaml")
    assert d.code == "E002" and "1 MiB" in d.message


# --------------------------------------------------------------------------------------------
# Slot folders
# --------------------------------------------------------------------------------------------

SLOT_MODEL = """\
vibench: 1
name: S
params:
  b: {type: str, default: c0, slot: comp}
inputs: {x: {shape: [B, 4]}}
nodes:
  n: {block: "comp/${b}", in: x, inherit: true}
outputs: {y: n}
"""
COMPONENT = "vibench: 1\nname: C\nparams: {p: 3}\ninputs: {x: {shape: [B, 4]}}\nnodes: {a: {block: relu, in: x}}\n" \
            "outputs: {y: a}\n"


def test_a_slot_folder_of_large_specs_stops_at_the_slot(tmp_path: Path, small_budget: None,
                                                        opened: Counter[str]) -> None:
    (tmp_path / "comp").mkdir()
    links(tmp_path / "comp", COMPONENT + PAD * 300, 30, "c")  # every component of the folder is read
    (tmp_path / "s.yaml").write_text(SLOT_MODEL, encoding="utf-8")
    d = refused(tmp_path / "s.yaml")
    assert d.code == "E002" and "1 MiB" in d.message
    assert d.pos is not None and (d.pos.file, d.pos.line) == (str(tmp_path / "s.yaml"), 4)  # the slot's declaration
    assert sum(opened.values()) <= 6  # not 30 files


def test_a_slot_folder_at_its_limit_of_small_specs_compiles(tmp_path: Path) -> None:
    (tmp_path / "comp").mkdir()
    for k in range(1_000):  # MAX_SLOT_COMPONENTS, each file its own (the default budget of 2,000 files)
        (tmp_path / "comp" / f"c{k}.yaml").write_text(COMPONENT.replace("p: 3", f"p{k}: 3"), encoding="utf-8")
    (tmp_path / "s.yaml").write_text(SLOT_MODEL, encoding="utf-8")
    program = compile_program(str(tmp_path / "s.yaml"))
    assert program.root.definition is not None
    assert len(program.root.definition.params) == 1_001  # `b` and the parameter of every component, all read


# --------------------------------------------------------------------------------------------
# PHM-Vibench base configs
# --------------------------------------------------------------------------------------------


def project(tmp_path: Path) -> Path:
    (tmp_path / ".git").mkdir()
    (tmp_path / "configs").mkdir()
    return tmp_path / "configs"


def test_a_base_config_named_by_many_entries_is_read_once(tmp_path: Path, small_budget: None,
                                                          opened: Counter[str]) -> None:
    configs = project(tmp_path)
    base = configs / "base.yaml"
    base.write_text("model: {type: CNN, name: ResNet1D, input_dim: 1, num_classes: 3}\n" + PAD * 300)
    entries = "".join(f"  e{k}: base.yaml\n" for k in range(400))
    (configs / "exp.yaml").write_text("base_configs:\n" + entries, encoding="utf-8")
    program = compile_program(str(configs / "exp.yaml"))
    assert str(program.root.outputs[0][2]) == "[B, 3]"
    assert opened[str(base.resolve())] == 1


def test_base_configs_merge_as_before_when_files_repeat(tmp_path: Path) -> None:
    configs = project(tmp_path)
    (configs / "a.yaml").write_text("model: {type: CNN, name: ResNet1D, input_dim: 1, num_classes: 3}\n")
    (configs / "b.yaml").write_text("model: {num_classes: 5, input_dim: 2}\n")
    for order, classes, channels in ((["a", "b"], 5, 2), (["a", "b", "a"], 3, 1), (["b", "a", "b"], 5, 2)):
        entries = "".join(f"  e{k}: {name}.yaml\n" for k, name in enumerate(order))
        (configs / "exp.yaml").write_text("base_configs:\n" + entries, encoding="utf-8")
        program = compile_program(str(configs / "exp.yaml"))
        assert str(program.root.outputs[0][2]) == f"[B, {classes}]", order
        assert str(program.root.inputs[0][1]) == f"[B, L, {channels}]", order


def test_base_configs_count_against_the_budget_at_their_entry(tmp_path: Path, small_budget: None) -> None:
    configs = project(tmp_path)
    names = links(configs, "model: {type: CNN, name: ResNet1D, input_dim: 1, num_classes: 3}\n" + PAD * 300, 8, "b")
    entries = "".join(f"  e{k}: {name}\n" for k, name in enumerate(names))
    (configs / "exp.yaml").write_text("base_configs:\n" + entries, encoding="utf-8")
    d = refused(configs / "exp.yaml")
    assert d.code == "E002" and "1 MiB" in d.message
    assert d.pos is not None and d.pos.file.endswith("exp.yaml") and d.pos.line == 5  # the entry `e3: b3.yaml`


def test_base_configs_have_at_most_1000_entries(tmp_path: Path) -> None:
    configs = project(tmp_path)
    (configs / "base.yaml").write_text("model: {type: CNN, name: ResNet1D, input_dim: 1, num_classes: 3}\n")
    entries = "".join(f"  e{k}: base.yaml\n" for k in range(phm.MAX_BASE_CONFIGS + 1))
    (configs / "exp.yaml").write_text("base_configs:\n" + entries, encoding="utf-8")
    d = refused(configs / "exp.yaml")
    assert d.code == "E002" and d.message == "`base_configs` has 1,001 entries"
    assert d.pos is not None and d.pos.line == 1


def test_the_loader_docstring_examples_run() -> None:
    result = doctest.testmod(load, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
