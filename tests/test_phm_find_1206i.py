"""A PHM experiment's component that is there but unusable is said as such, never passed over."""

import os

import pytest


def test_a_family_component_linking_outside_the_search_path_is_refused(tmp_path, monkeypatch) -> None:
    # `isfm/aaa/B_04_Dlinear.yaml` beside the experiment links outside the search path: the lookup's E205 was
    # swallowed and the library's `isfm/backbone/B_04_Dlinear` compiled in its place, with only an I102 naming it.
    import vibench
    from vibench.compiler.spec_files import LIBRARY_DIR

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "B_04_Dlinear.yaml").write_text(
        open(f"{LIBRARY_DIR}/isfm/backbone/B_04_Dlinear.yaml", encoding="utf-8").read(), encoding="utf-8")
    experiment = tmp_path / "exp"
    (experiment / "isfm" / "aaa").mkdir(parents=True)
    os.symlink(outside / "B_04_Dlinear.yaml", experiment / "isfm" / "aaa" / "B_04_Dlinear.yaml")
    (experiment / "exp.yaml").write_text(
        "model:\n  type: ISFM\n  name: B_04_Dlinear\n  num_patches: 8\n  output_dim: 4\n", encoding="utf-8")
    monkeypatch.chdir(experiment)
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(str(experiment / "exp.yaml"))
    first = err.value.diagnostics[0]
    assert first.code == "E205" and "points outside the spec search path" in first.message
    assert first.pos is not None and first.pos.line == 3


def test_a_missing_component_still_moves_on_to_the_library(tmp_path, monkeypatch) -> None:
    # The refusal above is for a file that is there: an empty family folder beside the experiment is no reason.
    import vibench

    (tmp_path / "isfm" / "aaa").mkdir(parents=True)
    (tmp_path / "exp.yaml").write_text(
        "model:\n  type: ISFM\n  name: B_04_Dlinear\n  num_patches: 8\n  output_dim: 4\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    program = vibench.check(str(tmp_path / "exp.yaml"))
    assert any(n.name == "decomposition" for n in program.root.nodes)
