"""A block whose float output comes from its own weights or buffers, not from a float input (an embedding's
rows, a system's prompt, a learned or sinusoidal position table), has the model's float dtype: model.py
casts the whole module to the one float dtype of its inputs (``self.to(torch.float64)``), so these outputs
are float64 (float16, bfloat16) at run time, and ``--check`` says so (it said float32, and refused
``add [x, embedding]`` of a float64 x with E304). Each case is compiled with ``--check``, written as
model.py and built with ``vibench.build``; the dtype the compiler states is the one the forward returns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

import vibench
from tests.helpers import load_file_module
from vibench.compiler import cli

TABLES = {
    "embedding": ("[B]", "{block: embedding, in: ids, num_embeddings: 5, embedding_dim: 4}"),
    "system_prompt": ("[B]", "{block: system_prompt, in: ids, num_prompts: 3, prompt_dim: 4}"),
    "system_prompt_tokens": ("[B]", "{block: system_prompt, in: ids, num_prompts: 3, prompt_dim: 4, tokens: 2}"),
    "learned_table": ("[B, 6, 2]", "{block: learned_table, in: ids, rows: 1, width: 4}"),
    "sinusoidal_position_table": ("[B, 6, 2]", "{block: sinusoidal_position_table, in: ids, d_model: 4, max_len: 16}"),
}
"""Case -> (the shape of the int64 input ``ids`` it reads, the node)."""

DTYPES = ("float64", "float16", "bfloat16", "float32")


def _spec(name: str, ids_shape: str, node: str, x_dtype: str | None, extra_inputs: str = "") -> str:
    x = f"  x: {{shape: [B, 4], dtype: {x_dtype}}}\n" if x_dtype else ""
    return (f"vibench: 1\nname: {name}\ninputs:\n{x}  ids: {{shape: {ids_shape}, dtype: int64}}\n{extra_inputs}"
            f"nodes:\n  t: {node}\noutputs: {{y: t{', x: x' if x_dtype else ''}}}\n")


def _checked_dtype(tmp_path: Path, text: str, output: str, capsys: pytest.CaptureFixture[str]) -> str:
    """The dtype ``vibench-compile --check`` gives an output (float32 when it names none)."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    capsys.readouterr()
    assert cli.main([str(spec), "--check"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.strip().startswith(f"output {output}:"))
    last = line.split()[-1]
    return last if not last.endswith("]") else "float32"


def _arguments(text: str) -> dict[str, torch.Tensor]:
    program = vibench.check(text=text)
    generator = torch.Generator().manual_seed(0)
    out = {}
    for name, t in program.root.inputs:
        shape = tuple(d if isinstance(d, int) else 2 for d in t.shape)
        dtype = getattr(torch, t.dtype)
        out[name] = (torch.randint(0, 3, shape, generator=generator) if not dtype.is_floating_point
                     else torch.randn(shape, generator=generator)).to(dtype)
    return out


def _runtime_dtypes(tmp_path: Path, text: str, name: str, output: str) -> tuple[str, str]:
    """The dtype of ``output`` from the emitted model.py and from ``vibench.build``."""
    found = []
    path = tmp_path / "model.py"
    assert cli.main([str(tmp_path / "spec.yaml"), "-o", str(path)]) == 0
    module = load_file_module(str(path), f"dtypes_1206d_{name}")
    for model in (getattr(module, name)(), vibench.build(text=text)):
        with torch.no_grad():
            result: Any = model.eval()(**_arguments(text))
        tensor = result[output] if isinstance(result, dict) else result  # one output: the tensor itself
        found.append(str(tensor.dtype).removeprefix("torch."))
    return found[0], found[1]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(TABLES))
def test_a_table_output_has_the_models_float_dtype(case: str, dtype: str, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    ids_shape, node = TABLES[case]
    name = f"T_{case}_{dtype}"
    text = _spec(name, ids_shape, node, dtype)
    static = _checked_dtype(tmp_path, text, "y", capsys)
    assert static == dtype  # float32 models are as before
    assert vibench.check(text=text).root.outputs[0][2].dtype == dtype
    assert _runtime_dtypes(tmp_path, text, name, "y") == (dtype, dtype)


@pytest.mark.parametrize("case", list(TABLES))
def test_without_one_float_input_the_module_stays_float32(case: str, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    # No float input, or two float dtypes (x float64, z float32): model.py does not cast the module.
    ids_shape, node = TABLES[case]
    for x_dtype, extra in ((None, ""), ("float64", "  z: {shape: [B, 3], dtype: float32}\n")):
        name = f"U_{case}_{x_dtype}"
        text = _spec(name, ids_shape, node, x_dtype, extra)
        assert _checked_dtype(tmp_path, text, "y", capsys) == "float32"
        assert _runtime_dtypes(tmp_path, text, name, "y") == ("float32", "float32")


DT2 = """\
vibench: 1
name: DT2
inputs:
  x: {shape: [B, 4], dtype: float64}
  ids: {shape: [B], dtype: int64}
nodes:
  e: {block: embedding, in: ids, num_embeddings: 5, embedding_dim: 4}
  s: {block: add, in: [x, e]}
  fc: {block: linear, in: e, out_features: 3}
outputs: {s: s, y: fc}
"""


def test_a_float64_input_adds_to_an_embedding(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Refused with E304 "different element types (float32, float64)"; both are float64 at run time.
    assert _checked_dtype(tmp_path, DT2, "s", capsys) == "float64"
    assert _checked_dtype(tmp_path, DT2, "y", capsys) == "float64"  # the linear after the embedding too
    assert _runtime_dtypes(tmp_path, DT2, "DT2", "s") == ("float64", "float64")
    assert _runtime_dtypes(tmp_path, DT2, "DT2", "y") == ("float64", "float64")
    assert "        y [B, 3] float64\n" in vibench.compile_spec(text=DT2).source  # model.py's docstring


def test_an_optional_input_nothing_reads_does_not_count(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # z (float32) is not taken, so model.py casts the module to float64, x's dtype.
    text = DT2.replace("name: DT2", "name: DT2z").replace(
        "  ids:", "  z: {shape: [B, 3], dtype: float32, optional: true}\n  ids:")
    assert [name for name, _ in vibench.check(text=text).root.inputs] == ["x", "ids"]
    assert _checked_dtype(tmp_path, text, "s", capsys) == "float64"
    assert _runtime_dtypes(tmp_path, text, "DT2z", "s") == ("float64", "float64")


SOFT = """\
vibench: 1
name: Soft
params:
  kind: {type: str, default: embedding}
inputs:
  x: {shape: [B, 4], dtype: float64}
  z: {shape: [B, 3], dtype: float32, optional: true}
  ids: {shape: [B], dtype: int64}
nodes:
  e: {block: "${kind}", in: {x: ids, extra?: z}, num_embeddings: 5, embedding_dim: 4}
outputs: {y: e, x: x}
"""


def test_an_input_only_a_dropped_soft_port_names_does_not_count(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    # `extra?: z` is left out (embedding has no port `extra`), so z is not taken: known only once the
    # nodes are typed, when the model is typed again with x's float64.
    assert [name for name, _ in vibench.check(text=SOFT).root.inputs] == ["x", "ids"]
    assert _checked_dtype(tmp_path, SOFT, "y", capsys) == "float64"
    assert _runtime_dtypes(tmp_path, SOFT, "Soft", "y") == ("float64", "float64")


def test_the_rule_reads_as_its_example() -> None:
    import doctest

    from vibench.compiler.blocks import base

    result = doctest.testmod(base)
    assert result.attempted > 0 and result.failed == 0
