"""Parameters scoped by slot (issue 10): a composite with typed slots and `inherit: true` accepts the
parameters its slots' components declare without restating them (vibench/compiler/scoped.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

import vibench
from tests.conftest import spec_text
from vibench.compiler.diagnostics import SpecError

COMPONENT_A = spec_text("""
    vibench: 1
    name: Wide
    params:
      width: {type: int, default: 4, ge: 1, doc: Output channels of the projection.}
    inputs: {x: {shape: [B, C, L]}}
    nodes:
      proj: {block: conv1d, in: x, out_channels: "${width}", kernel_size: 1}
    outputs: {y: proj}
""")

COMPONENT_B = spec_text("""
    vibench: 1
    name: Deep
    params:
      depth: {type: int, default: 1, doc: Stacked projections.}
      width: {type: "int | None", default: null, doc: Unused width.}
    inputs: {x: {shape: [B, C, L]}}
    nodes:
      proj: {block: conv1d, in: x, out_channels: 3, kernel_size: 1, repeat: "${depth}"}
    outputs: {y: proj}
""")

HOST = spec_text("""
    vibench: 1
    name: Host
    params:
      part: {type: str, default: Wide, slot: parts, doc: The component.}
    inputs: {x: {shape: [B, 2, 16]}}
    nodes:
      body: {block: "parts/${part}", in: x, inherit: true}
    outputs: {y: body}
""")


@pytest.fixture()
def library(tmp_path: Path) -> Path:
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "Wide.yaml").write_text(COMPONENT_A)
    (tmp_path / "parts" / "Deep.yaml").write_text(COMPONENT_B)
    (tmp_path / "Host.yaml").write_text(HOST)
    return tmp_path


def _user(library: Path, body: str) -> Path:
    path = library / "mine.yaml"
    path.write_text("vibench: 1\nextends: ./Host.yaml\nwith:\n" + body)
    return path


def test_a_component_parameter_reaches_the_chosen_component_without_being_restated(library: Path) -> None:
    program = vibench.check(str(_user(library, "  width: 6\n")))
    assert program.root.outputs[0][2].shape[1] == 6
    assert not program.warnings
    # --set / keyword arguments take them too
    assert vibench.check(str(library / "Host.yaml"), params={"width": 5}).root.outputs[0][2].shape[1] == 5


def test_the_scoped_declarations_name_their_components_and_join_their_types(library: Path) -> None:
    program = vibench.check(str(library / "Host.yaml"))
    del program
    from vibench.compiler.resolve import Library

    lib = Library(cwd=str(library))
    unit, _ = lib.load(str(library / "Host.yaml"), None)
    scoped = {d.name: d for d in unit.params if d.scope}
    assert set(scoped) == {"width", "depth"}
    assert scoped["width"].scope == ("parts/Deep", "parts/Wide")
    assert scoped["width"].type == "int | None" and scoped["width"].default is None
    assert scoped["depth"].type == "int | None" and "Stacked projections" in (scoped["depth"].doc or "")


def test_a_value_no_chosen_component_reads_is_w104_at_the_users_line_naming_the_readers(library: Path) -> None:
    program = vibench.check(str(_user(library, "  depth: 3\n")))
    [w] = [w for w in program.warnings if w.code == "W104"]
    assert (w.pos.file.endswith("mine.yaml"), w.pos.line) == (True, 4)
    assert "`depth`" in w.message and "Deep" in w.hint


def test_a_bad_value_is_refused_by_the_chosen_component_at_the_users_line(library: Path) -> None:
    with pytest.raises(SpecError) as err:
        vibench.check(str(_user(library, "  width: 0\n")))  # Wide declares ge: 1
    d = err.value.diagnostics[0]
    assert d.code == "E208" and d.pos.file.endswith("mine.yaml") and d.pos.line == 4
    with pytest.raises(SpecError) as err:
        vibench.check(str(_user(library, "  width: true\n")))  # no component takes a bool
    d = err.value.diagnostics[0]
    assert d.code == "E202" and d.pos.line == 4 and d.expected == "int | None"


def test_a_key_no_component_declares_is_still_unknown(library: Path) -> None:
    with pytest.raises(SpecError) as err:
        vibench.check(str(_user(library, "  widht: 6\n")))
    d = err.value.diagnostics[0]
    assert d.code == "E201" and "`width`" in (d.hint or "")


def test_without_inherit_nothing_is_scoped(library: Path) -> None:
    (library / "Host.yaml").write_text(HOST.replace(", inherit: true", ""))
    with pytest.raises(SpecError) as err:
        vibench.check(str(_user(library, "  width: 6\n")))
    assert err.value.diagnostics[0].code == "E201"


def test_m01_declares_only_its_own_parameters_and_forwards_the_components() -> None:
    import yaml

    from vibench.compiler.resolve import LIBRARY_DIR

    with open(f"{LIBRARY_DIR}/isfm/M_01_ISFM.yaml", encoding="utf-8") as f:
        own = set(yaml.safe_load(f)["params"])
    assert own == {"embedding", "backbone", "task_head", "ensemble_backbones", "fusion_strategy", "task_configs",
                   "tasks", "return_feature", "num_classes", "task_id"}
    small = vibench.check("isfm/M_01_ISFM", params={"backbone": "B_06_TimesNet", "e_layers": 1, "d_ff": 8})
    big = vibench.check("isfm/M_01_ISFM", params={"backbone": "B_06_TimesNet", "e_layers": 2, "d_ff": 8})
    assert big.root.param_count > small.root.param_count


def test_a_key_the_reference_ignores_stays_ignored() -> None:
    program = vibench.check("isfm/M_01_ISFM", params={"prompt_dim": 8})  # HSE_prompt declares it; M_01 ignores it
    assert [w.code for w in program.warnings] == ["W101"]
    # `reference: ignored_keys` written as `why: [key, ...]` gives each key its reason
    assert program.warnings[0].found == "read only by the ISFM_Prompt family; M_01 ignores it"


def test_the_schema_offers_the_scoped_parameters_for_completion() -> None:
    import json

    from vibench.compiler.resolve import LIBRARY_DIR

    with open(f"{LIBRARY_DIR}/../schemas/spec.schema.json", encoding="utf-8") as f:
        schema = json.dumps(json.load(f))
    # The `with:` schema of M_01 lists a backbone's parameter it no longer declares itself.
    assert "Residual Mamba blocks (the reference hard-codes 2; it ignores num_layers). Read by B_05_Mamba." in schema


def test_m01_takes_the_domain_id_when_its_embedding_reads_it() -> None:
    with_domain = vibench.check("isfm/M_01_ISFM", params={"embedding": "E_01_HSE_v2", "backbone": "B_08_PatchTST"})
    assert [n for n, _ in with_domain.root.inputs] == ["x", "fs", "system_id", "domain_id"]
    assert "domain_id" not in [n for n, _ in vibench.check("isfm/M_01_ISFM").root.inputs]


def test_an_unknown_override_names_where_it_was_given(capsys: pytest.CaptureFixture[str]) -> None:
    from vibench.compiler import cli

    with pytest.raises(SpecError) as info:
        vibench.check("cnn/ResNet1D", params={"num_clases": 3})
    [d] = info.value.diagnostics
    assert d.message.startswith("unknown parameter `num_clases` (given in Python)") and "num_classes" in d.hint
    assert cli.main(["cnn/ResNet1D", "--check", "--set", "num_clases=3"]) == cli.EXIT_SPEC
    assert "unknown parameter `num_clases` (from --set)" in capsys.readouterr().err


def test_build_given_a_params_dict_is_told_to_pass_keywords() -> None:
    with pytest.raises(SpecError) as info:
        vibench.build("cnn/ResNet1D", params={"num_classes": 3})
    [d] = info.value.diagnostics
    assert d.code == "E201" and d.found == "a dict of parameters under the name `params`"
    assert "build(spec, **params)" in d.hint and d.pos is not None and d.pos.file.endswith("ResNet1D.yaml")


def test_a_set_value_no_chosen_component_reads_is_w104_too(library: Path) -> None:
    program = vibench.check(str(library / "Host.yaml"), params={"depth": 3})  # given in Python (check's params=)
    [w] = [w for w in program.warnings if w.code == "W104"]
    assert w.message.startswith("`depth` (given in Python) has no effect here") and "Deep" in w.hint
    assert w.pos is not None and w.pos.file.endswith("Host.yaml")  # the template's `params:` section
