"""Bounds on what a small spec makes the compiler write or torch build (QA, security pass 1206e):
a `metadata:` list of 1,000 `${s}`, `s` a text of 100,000 characters, wrote a 119 MB model.py in
142 s; an lstm of 99,000 layers of hidden size 1 passed --check and took 25 minutes to build (torch's
constructor is quadratic in the layers)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import vibench
from vibench.compiler.blocks.recurrent import MAX_LAYERS
from vibench.compiler.codegen.text import long_string, width
from vibench.compiler.metadata_bounds import MAX_METADATA_CHARS

TEXT = 100_000  # the longest text one `${...}` gives


def _spec(metadata: object, **more: object) -> dict:
    return {"vibench": 1, "name": "M", "inputs": {"x": {"shape": ["B", 1, "L"]}},
            "nodes": {"a": {"block": "relu", "in": "x"}}, "outputs": {"y": "a"}, "metadata": metadata, **more}


def _errors(spec: dict, tmp_path: Path, run: Callable[..., object] = vibench.compile_spec, **kwargs: object) -> list:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec, indent=1), encoding="utf-8")
    with pytest.raises(vibench.SpecError) as err:
        run(str(path), **kwargs)
    return [d for d in err.value.diagnostics if d.severity == "error"]


# -- metadata ---------------------------------------------------------------------------------------


def test_metadata_its_expressions_make_too_large_is_e104_at_the_entry(tmp_path: Path) -> None:
    spec = _spec({"m": ["${s}"] * 20}, let={"s": f"${{'x' * {TEXT}}}"})
    for run in (vibench.check, vibench.compile_spec):  # --check says so too, before any model.py is written
        (diag,) = _errors(spec, tmp_path, run)
        assert diag.code == "E104" and diag.message == "`metadata` is too large for model.py"
        assert diag.expected is not None and f"{MAX_METADATA_CHARS:,} characters" in diag.expected
        # the entry that passes the limit: 9 texts of 100,002 characters, each cut in about 1,000 lines
        assert diag.notes[0].startswith("at METADATA['m'][8]")


def test_metadata_written_in_the_spec_too_large_is_located_at_its_entry(tmp_path: Path) -> None:
    (diag,) = _errors(_spec({"table": list(range(100_000))}), tmp_path)
    assert diag.code == "E104" and diag.message == "`metadata` is too large for model.py"
    text = (tmp_path / "spec.json").read_text().splitlines()
    assert diag.pos is not None and diag.pos.line > 1
    entry = int(text[diag.pos.line - 1].strip().rstrip(","))
    assert 40_000 < entry < 80_000  # each entry a line of about 20 characters in model.py


@pytest.mark.parametrize("leaf", ["long", "table"])
def test_metadata_below_the_limit_compiles_and_model_py_holds_it_in_about_that_many_characters(
        tmp_path: Path, leaf: str) -> None:
    """The count is what model.py writes: METADATA's lines stay within the limit, and fill most of it."""
    if leaf == "long":
        spec = _spec({"m": ["${s}"] * 8}, let={"s": f"${{'a b c ' * {TEXT // 6}}}"})
    else:
        spec = _spec({"k": {"table": list(range(40_000))}})
    (tmp_path / "ok.json").write_text(json.dumps(spec))
    source = vibench.compile_spec(str(tmp_path / "ok.json")).source
    lines = source.splitlines(keepends=True)
    start = next(k for k, line in enumerate(lines) if line.startswith("    METADATA = {"))
    end = next(k for k in range(start, len(lines)) if lines[k] == "    }\n")
    written = sum(len(line) for line in lines[start + 1 : end])
    assert 0.6 * MAX_METADATA_CHARS < written <= MAX_METADATA_CHARS
    namespace: dict = {}
    exec(compile(source, "model.py", "exec"), namespace)
    metadata = namespace["M"].METADATA
    assert metadata == ({"m": ["a b c " * (TEXT // 6)] * 8} if leaf == "long" else spec["metadata"])


@given(st.text(alphabet="ab  x", max_size=600), st.integers(3, 130))
def test_a_long_plain_text_is_cut_into_literals_that_fit(value: str, room: int) -> None:
    """The pieces of a text of printable ASCII (cut by slices, not a character at a time) as ruff cuts them:
    each literal fits the room, after a space when one is in the second half of the piece."""
    pieces = long_string(value, room)
    assert "".join(p[1:-1] for p in pieces) == value
    for piece in pieces:
        assert piece[0] == piece[-1] == '"' and width(piece) <= room
    most = room - 2
    for piece in pieces[:-1]:
        inner = piece[1:-1]
        if not inner.endswith(" "):  # cut at the room: no space in the second half to cut after
            assert len(inner) == most and " " not in inner[most // 2 + 1 :]


# -- recurrent layers -------------------------------------------------------------------------------


def _recurrent(block: str, layers: int, **params: object) -> dict:
    return {"vibench": 1, "name": "T", "inputs": {"x": {"shape": ["B", "L", 1]}},
            "nodes": {"a": {"block": block, "in": "x", "hidden_size": 1, "num_layers": layers, **params}},
            "outputs": {"y": "a"}}


@pytest.mark.parametrize("block", ["lstm", "gru"])
def test_recurrent_layers_past_the_bound_are_e104_at_num_layers(tmp_path: Path, block: str) -> None:
    (diag,) = _errors(_recurrent(block, MAX_LAYERS + 1), tmp_path, vibench.check)
    assert diag.code == "E104" and "num_layers" in diag.message
    assert diag.expected == f"less than or equal to {MAX_LAYERS}"
    text = (tmp_path / "spec.json").read_text().splitlines()
    assert diag.pos is not None and text[diag.pos.line - 1].strip().startswith('"num_layers"')
    vibench.check(text=json.dumps(_recurrent(block, MAX_LAYERS)))


def test_recurrent_layers_count_against_the_node_budget(tmp_path: Path) -> None:
    """Each layer and direction counts as a module: a `repeat` of deep lstms cannot make the build quadratic
    many times over."""
    spec = _recurrent("lstm", 600, bidirectional=True)
    (diag,) = _errors(spec, tmp_path, vibench.check, max_nodes=1_000)
    assert diag.code == "E213"
    vibench.check(text=json.dumps(_recurrent("lstm", 600)), max_nodes=1_000)


def test_a_recurrent_block_at_its_bound_builds_and_runs() -> None:
    torch = pytest.importorskip("torch")
    model = vibench.build(text=json.dumps(_recurrent("gru", MAX_LAYERS)))
    out = model(torch.randn(1, 3, 1))
    assert tuple(out.shape) == (1, 3, 1)
