"""model.py at run time and its comments, as QA found them (12-06).

* A check that tracing decides (a dtype, a rank, a fixed size) keeps its message under
  ``torch.compile(fullgraph=True)`` after dynamo recompiled with dynamic sizes, and under a strict
  ``torch.export`` with ``dynamic_shapes``: the message formatted the symbolic sizes, and dynamo could not
  join that text (``missing sq_concat``; the check's text was nowhere in the error).
* SystemRouter says which sample, which system and which widths when a system's head reads another
  input width (it said only "a sample's system expects another input width (channels)"); its docs say that a
  scripted model raises torch.jit.Error (they said ValueError, which ``except ValueError`` does not catch).
* The shape comments name spec files that share a base name from the root spec's folder, whatever the
  working folder (``sub/c.yaml:7``, ``proj/sub/c.yaml:7`` or an absolute path, by where vibench-compile ran).
* A pickled SpecError keeps its notes and attributes.
* docs/api.md names exactly the templates that ``torch.fx.symbolic_trace`` traces.
"""

from __future__ import annotations

import os
import pickle
import re
from pathlib import Path

import pytest
import torch
from torch.export import Dim

import vibench
from tests.helpers import fresh_dynamo
from tests.test_runtime_checks import SPEC as PROBE  # x [B, 2, L] and fs [B]

_fresh_dynamo = pytest.fixture(autouse=True)(fresh_dynamo)
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def probe() -> torch.nn.Module:
    return vibench.build(text=PROBE).eval()


# -- checks decided while tracing with dynamic sizes -------------------------------------------------

REFUSED = {  # the inputs, and the message's text after `Probe: ` (the eager one)
    "dtype": ((torch.randn(4, 2, 40, dtype=torch.float64), torch.ones(4)),
              "input `x` must be [B, 2, L] float32; found (4, 2, 40) torch.float64 (`x.to(torch.float32)` "
              "converts it, or `model.double()` casts the model)"),
    "rank": ((torch.randn(4, 40), torch.ones(4)), "input `x` must be [B, 2, L] float32; found (4, 40) torch.float32"),
    "size": ((torch.randn(4, 3, 40), torch.ones(4)),
             "input `x` must be [B, 2, L] float32; found (4, 3, 40) torch.float32"),
    "hint": ((torch.randn(4, 2, 40), torch.ones(4, 1)),
             "input `fs` must be [B] float32; found (4, 1) torch.float32 (an extra axis of size 1? `fs.squeeze(1)` "
             "fits)"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_fullgraph_compile_after_a_dynamic_recompile_keeps_the_message(probe: torch.nn.Module, case: str) -> None:
    args, message = REFUSED[case]
    with pytest.raises(ValueError, match=re.escape(message) + "$"):
        probe(*args)
    compiled = torch.compile(probe, fullgraph=True, backend="eager")
    with torch.no_grad():
        compiled(torch.randn(8, 2, 64), torch.ones(8))
        compiled(torch.randn(5, 2, 100), torch.ones(5))  # a second shape: dynamo recompiles with dynamic B and L
        with pytest.raises(Exception) as traced:  # noqa: PT011 - dynamo wraps it in its own error type
            compiled(*args)
        assert f"raised exception ValueError({'Probe: ' + message!r})" in str(traced.value)
        assert compiled(torch.randn(3, 2, 80), torch.ones(3)).shape == (3, 4)  # still takes new sizes


def test_strict_export_with_dynamic_shapes_keeps_the_message(probe: torch.nn.Module) -> None:
    args, message = REFUSED["dtype"]
    batch, length = Dim("B"), Dim("L", min=16, max=4096)
    with pytest.raises(Exception) as traced:  # noqa: PT011 - torch wraps it in its own error type
        torch.export.export(probe, args, dynamic_shapes=({0: batch, 2: length}, {0: batch}), strict=True)
    assert f"raised exception ValueError({'Probe: ' + message!r})" in str(traced.value)
    with pytest.raises(ValueError, match=re.escape(message) + "$"):  # not strict: the ValueError itself
        torch.export.export(probe, args, dynamic_shapes=({0: batch, 2: length}, {0: batch}), strict=False)


# -- SystemRouter ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hse() -> torch.nn.Module:
    params = {"num_channels": {"1": 2, "3": 3}, "num_patches": 4, "patch_size_L": 16}
    return vibench.build("isfm/embedding/E_02_HSE_v2", **params).eval()


WIDTH = ("SystemRouter: sample 1 is of system 3, which expects another input width: its head reads 4 features "
         "(last axis); found 3")


def test_a_system_of_another_width_names_the_sample_the_system_and_the_widths(hse: torch.nn.Module) -> None:
    x, fs = torch.randn(2, 64, 2), torch.full((2,), 1000.0)  # 2 channels: system 1's; sample 1 is system 3's
    with torch.no_grad(), pytest.raises(ValueError, match=re.escape(WIDTH) + "$"):
        hse(x, fs, torch.tensor([1, 3]))
    router = type(hse.channel_embedders)
    one = router({"5": torch.nn.Linear(2, 3)}, in_features={"5": 2}, out_features=3)  # eager mode's fast path
    with torch.no_grad():
        with pytest.raises(ValueError, match=re.escape("SystemRouter: sample 0 is of system 5, which expects another "
                                                       "input width: its head reads 2 features (last axis); "
                                                       "found 4") + "$"):
            one(torch.randn(3, 4), torch.tensor([5, 5, 5]))
        with pytest.raises(ValueError, match=re.escape("SystemRouter: sample 0 is of system 5, which expects another")):
            one(torch.randn(3, 4))  # without system_id: the only head's
        with pytest.raises(ValueError, match=re.escape("system_id holds 6, which has no head (heads: 5)") + "$"):
            one(torch.randn(3, 4), torch.tensor([5, 6, 5]))  # an id without a head comes first


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_a_scripted_router_raises_torch_jit_error_as_its_docs_say(hse: torch.nn.Module) -> None:
    scripted = torch.jit.script(hse)
    x, fs = torch.randn(2, 64, 2), torch.full((2,), 1000.0)
    with torch.no_grad():
        with pytest.raises(torch.jit.Error, match=re.escape(WIDTH)) as err:
            scripted(x, fs, torch.tensor([1, 3]))
        assert not isinstance(err.value, ValueError)  # what the docs now say
        with pytest.raises(torch.jit.Error, match=re.escape("system_id holds 7, which has no head (heads: 1, 3)")):
            scripted(x, fs, torch.tensor([1, 7]))
    doc = " ".join(type(hse.channel_embedders).__doc__.split())
    assert "raises ValueError (scripted: torch.jit.Error with its text, which ``except ValueError`` misses)" in doc
    deviations = (ROOT / "vibench" / "specs" / "DEVIATIONS.md").read_text(encoding="utf-8")
    assert "in eager mode and under TorchScript" not in deviations
    assert "a scripted model (`torch.jit.script`) raises `torch.jit.Error` with the same text" in deviations


# -- the spec files the comments name -------------------------------------------------------------

MAIN = """vibench: 1
name: Main
blocks:
  Blk:
    inputs: {x: {shape: [B, C, L]}}
    nodes:
      a: {block: relu, in: x}
    outputs: {y: a}
inputs: {x: {shape: [B, 4, L]}}
nodes:
  one: {block: "./sub/c.yaml#Blk", in: x}
  two: {block: Blk, in: one}
outputs: {y: two}
"""
SUB = """vibench: 1
name: Sub
blocks:
  Blk:
    inputs: {x: {shape: [B, C, L]}}
    nodes:
      a: {block: tanh, in: x}
    outputs: {y: a}
inputs: {x: {shape: [B, 4, L]}}
nodes:
  n: {block: Blk, in: x}
outputs: {y: n}
"""


def test_comments_name_files_from_the_root_specs_folder_whatever_the_working_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "proj"
    (project / "sub").mkdir(parents=True)
    (project / "c.yaml").write_text(MAIN, encoding="utf-8")
    (project / "sub" / "c.yaml").write_text(SUB, encoding="utf-8")
    bodies = []
    for folder, spec in [(project, "c.yaml"), (tmp_path, "proj/c.yaml"), (project / "sub", "../c.yaml"),
                         (Path(os.sep), str(project / "c.yaml"))]:
        monkeypatch.chdir(folder)
        source = vibench.compile_spec(spec).source
        bodies.append(source.split("import torch", 1)[1])  # the header names the path as given
        comments = re.findall(r"#.*  (\S+:\d+)$", source, flags=re.MULTILINE)
        assert comments == ["sub/c.yaml:7", "c.yaml:7", "c.yaml:11", "c.yaml:12"], folder
    assert all(body == bodies[0] for body in bodies)


# -- SpecError ------------------------------------------------------------------------------------


def test_a_pickled_spec_error_keeps_its_notes_and_attributes() -> None:
    with pytest.raises(vibench.SpecError) as caught:
        vibench.check(text="vibench: 1\nname: M\ninputs: {x: {shape: [B, 4]}}\n"
                           "nodes: {fc: {block: lineer, in: x, out_features: 2}}\noutputs: {y: fc}\n")
    err = caught.value
    err.add_note("my note")
    err.attempt = 3
    again = pickle.loads(pickle.dumps(err))
    assert again.__notes__ == ["my note"] and again.attempt == 3
    assert again.codes == err.codes == ["E110"] and str(again) == str(err)


# -- torch.fx -------------------------------------------------------------------------------------


def test_the_docs_name_exactly_the_templates_fx_traces() -> None:
    """docs/api.md lists the templates ``torch.fx.symbolic_trace`` takes (with ``check_inputs = False``), measured
    here on tests/test_export.py's cases: it named "the LSTM/GRU models", and TransformerRNN does not trace."""
    from tests.test_export import CASES, library_templates, model_and_args

    traced = set()
    for case in [case for case in CASES if not case.name]:  # one case per template
        model, _ = model_and_args(case)
        model.check_inputs = False
        try:
            torch.fx.symbolic_trace(model)
        except Exception:  # noqa: BLE001, S112 - FX refuses a forward in many ways; the others are listed below
            continue
        traced.add(case.template.rsplit("/", 1)[1])
    text = " ".join((ROOT / "docs" / "api.md").read_text(encoding="utf-8").split())
    listing = re.search(r"Then (\d+) of the (\d+) templates trace with FX \([^)]*\): ([^.]*)\.", text)
    assert listing is not None
    named = set(re.split(r", | and ", listing.group(3)))
    assert named == traced
    assert (int(listing.group(1)), int(listing.group(2))) == (len(traced), len(library_templates()))
