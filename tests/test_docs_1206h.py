"""QA of 12-06 (h), what the documents promise against what the code does: `l`, `O` and `I` name nothing model.py
writes as a Python name (E106, with ruff's reason), an over-long plain key in a flow mapping gets its E001 note,
run_demo.py writes where `-o` says, and the README's Python version, worker count, node keys and load.py's codes
are the ones the pinned environment, the Makefile and the compiler have."""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import vibench.compiler.load
from vibench.compiler.diagnostics import SpecError
from vibench.compiler.pipeline import compile_program
from vibench.schemas.document import NODE_KEYS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
ERRORS_DOC = (ROOT / "docs" / "errors.md").read_text(encoding="utf-8")


def _diagnostics(text: str) -> list:
    with pytest.raises(SpecError) as info:
        compile_program(text=text)
    return info.value.diagnostics


# -- `l`, `O`, `I` -------------------------------------------------------------------------------------------------

_CONV = "nodes: {c: {block: conv1d, in: x, out_channels: 4, kernel_size: 1}}\noutputs: {y: c}\n"
_X = "inputs: {x: {shape: [B, 1, L]}}\n"


_AMBIGUOUS = [
    # pl.yaml: `def __init__(self, l: int = 4, ...)` failed ruff check (E741)
    ("parameter `l`", "vibench: 1\nname: T\nparams: {l: 4}\n" + _X
     + "nodes: {c: {block: conv1d, in: x, out_channels: l, kernel_size: 1}}\noutputs: {y: c}\n", "E741"),
    ("parameter `I`", "vibench: 1\nname: T\nparams: {I: 4}\n" + _X
     + "nodes: {c: {block: conv1d, in: x, out_channels: I, kernel_size: 1}}\noutputs: {y: c}\n", "E741"),
    ("parameter `O`", "vibench: 1\nname: T\nblocks:\n  Blk:\n    params: {O: 4}\n    inputs: {x: {shape: [B, C, L]}}\n"
     "    nodes: {c: {block: conv1d, in: x, out_channels: O, kernel_size: 1}}\n    outputs: {y: c}\n" + _X
     + "nodes: {a: {block: Blk, in: x}}\noutputs: {y: a}\n", "E741"),
    ("let `l`", "vibench: 1\nname: T\nlet: {l: 4}\n" + _X
     + "nodes: {c: {block: conv1d, in: x, out_channels: l, kernel_size: 1}}\noutputs: {y: c}\n", "E741"),
    ("input `O`", "vibench: 1\nname: T\ninputs: {O: {shape: [B, 1, L]}}\n"
     "nodes: {c: {block: relu, in: O}}\noutputs: {y: c}\n", "E741"),
    ("node `l`", "vibench: 1\nname: T\n" + _X + "nodes: {l: {block: relu, in: x}}\noutputs: {y: l}\n", "E741"),
    # a composite block that model.py writes as `class O(nn.Module)` (E742)
    ("block `O`", "vibench: 1\nname: T\nblocks:\n  O:\n    inputs: {x: {shape: [B, C, L]}}\n    nodes:\n"
     "      c: {block: conv1d, in: x, out_channels: C, kernel_size: 1}\n      s: {block: add, in: [x, c]}\n"
     "    outputs: {y: s}\n" + _X + "nodes: {a: {block: O, in: x, repeat: 3}}\noutputs: {y: a}\n", "E742"),
    ("model `I`", "vibench: 1\nname: I\n" + _X + _CONV, "E742"),
]


@pytest.mark.parametrize(("what", "text", "rule"), _AMBIGUOUS, ids=[what for what, _, _ in _AMBIGUOUS])
def test_l_O_and_I_name_nothing_model_py_writes_as_a_python_name(what: str, text: str, rule: str) -> None:
    """Each compiled to a model.py that `ruff check` refused; a node or input was refused, but "an nn.Module
    attribute or a name the emitted code uses" was not the reason."""
    kind, name = what.split()
    found = [d for d in _diagnostics(text) if d.code == "E106" and name in d.message]
    assert len(found) == 1, [d.render() for d in _diagnostics(text)]
    d = found[0]
    assert d.message == f"{kind} name {name} is reserved" and d.pos is not None
    assert f"ruff refuses it as a Python name ({rule})" in (d.found or "") and "nn.Module" not in (d.found or "")
    assert d.hint is not None and d.hint.startswith("rename it with a word it stands for")


def test_an_output_or_a_shape_symbol_may_be_named_l() -> None:
    """Output names stay strings in model.py, shape symbols text in its docstring: neither is refused."""
    program = compile_program(text="vibench: 1\nname: T\ninputs: {x: {shape: [B, 1, l]}}\n"
                                   "nodes: {c: {block: relu, in: x}}\noutputs: {l: c}\n")
    assert [output[0] for output in program.root.outputs] == ["l"]


# -- an over-long plain key in a flow mapping ------------------------------------------------------------------------

_LONG = "k" * 1100


@pytest.mark.parametrize("metadata", [
    f"metadata: {{{_LONG}: 1}}",  # /tmp/qa_docs/s/longkey.yaml
    f"metadata: {{a: 1, {_LONG}: 1}}",
    f"metadata: {{\n  a: 1,\n  {_LONG}: 1}}",
    f"metadata: [{_LONG}: 1]",
    f"metadata:\n  {_LONG}: 1",  # (a block key: noted before too)
])
def test_an_e001_after_a_plain_key_over_1024_characters_says_so(metadata: str) -> None:
    (d,) = _diagnostics(f"vibench: 1\nname: T\n{metadata}\n")
    assert d.code == "E001"
    assert any("longer than 1,024 characters" in note for note in d.notes), d.render()
    assert d.hint == "shorten the key (a name has at most 32 characters)"


def test_a_key_of_1024_characters_in_a_flow_mapping_is_still_a_key() -> None:
    codes = {d.code for d in _diagnostics(f"vibench: 1\nname: T\nmetadata: {{{'k' * 1024}: 1}}\n")}
    assert "E001" not in codes  # (the spec lacks inputs and nodes: E103)


# -- run_demo.py -o --------------------------------------------------------------------------------------------------

def _demo(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("VIBENCH_SPEC_PATH", None)
    return subprocess.run([sys.executable, str(ROOT / "examples" / "run_demo.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_run_demo_writes_the_file_o_names_from_the_callers_folder(tmp_path: Path) -> None:
    """It always wrote <checkout>/build/model.py, whatever folder it ran in."""
    (tmp_path / "out").mkdir()
    run = _demo(str(ROOT / "examples" / "tiny_cnn.json"), "-o", "out/tiny.py", "--batch", "2", "--length", "256",
                cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    written = tmp_path / "out" / "tiny.py"
    assert written.is_file() and "class TinyCNN(nn.Module):" in written.read_text(encoding="utf-8")
    imported = re.search(r"\(imported from (\S+)\)", run.stdout)
    assert imported is not None and Path(imported.group(1)).samefile(written), run.stdout


def test_run_demo_refuses_an_o_it_cannot_or_must_not_write(tmp_path: Path) -> None:
    spec = tmp_path / "tiny.json"
    spec.write_text((ROOT / "examples" / "tiny_cnn.json").read_text(encoding="utf-8"), encoding="utf-8")
    before = spec.read_text(encoding="utf-8")
    for out, message in (("nodir/m.py", "folder"), ("tiny.json", "is a file this compile reads")):
        run = _demo("tiny.json", "-o", out, "--batch", "2", "--length", "256", cwd=tmp_path)
        assert run.returncode == 2 and message in run.stderr and "Traceback" not in run.stderr, run.stderr[-2000:]
    assert spec.read_text(encoding="utf-8") == before


def test_the_readme_says_where_run_demo_writes() -> None:
    assert "[-o FILE]" in README and "It writes `build/model.py` of the\ncheckout" in README


# -- the README and the errors against the environment, the Makefile and the code ------------------------------------

def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def test_the_readme_names_the_python_the_pinned_environment_needs() -> None:
    """The README said 3.10+ for `make run`/`make test`, whose pins (numpy 2.4.6, networkx 3.6.1) need 3.11."""
    floors = []
    for line in (ROOT / "requirements-dev.txt").read_text(encoding="utf-8").splitlines():
        name, _, pinned = line.split("#")[0].strip().partition("==")
        if not pinned:
            continue
        try:
            meta = importlib.metadata.metadata(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        floor = re.search(r">=\s*([\d.]+)", meta["Requires-Python"] or "")
        if meta["Version"].split("+")[0] == pinned and floor is not None:  # (+cpu: torch's local build)
            floors.append(_version(floor[1]))
    assert floors, "no pinned package is installed here"
    needed = ".".join(map(str, max(floors)[:2]))
    commands = README.split("## The two commands", 1)[1].split("\n## ", 1)[0]
    stated = re.search(r"On a fresh machine with Python (\d+\.\d+)\+", commands)
    assert stated is not None and stated[1] == needed, (needed, commands[:300])
    own = re.search(r'^requires-python = ">=([\d.]+)"$', (ROOT / "pyproject.toml").read_text(encoding="utf-8"),
                    flags=re.M)
    assert own is not None and f"The package itself declares Python {own[1]}+" in commands


def test_the_readme_says_how_many_processes_make_test_runs() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    cap = re.search(r"^TEST_WORKERS \?=.*\( n < (\d+) \? n : \1 \)", makefile, flags=re.M)
    assert cap is not None
    assert f"one process per CPU core, at most {cap[1]}" in README


def test_e111_lists_every_node_key() -> None:
    section = ERRORS_DOC.split("\n## E111", 1)[1].split("\n## ", 1)[0]
    listed = re.search(r"neither a node key \(([^)]*)\)", section)
    assert listed is not None
    assert re.findall(r"`(\w+)`", listed[1]) == list(NODE_KEYS)


def test_e106_says_why_l_O_and_I_are_refused() -> None:
    section = ERRORS_DOC.split("\n## E106", 1)[1].split("\n## ", 1)[0]
    assert "`l`, `O` and `I`" in section and "E741" in section


def test_the_codes_load_py_names_are_documented() -> None:
    """Its docstring said E001-E006; there is no E006."""
    doc = vibench.compiler.load.__doc__ or ""
    first, last = re.search(r"\(E(\d{3})-E(\d{3})\)", doc).groups()
    documented = set(re.findall(r"^## (E\d{3})\b", ERRORS_DOC, flags=re.M))
    assert {f"E{k:03d}" for k in range(int(first), int(last) + 1)} <= documented
    assert f"E{int(last) + 1:03d}" not in documented
