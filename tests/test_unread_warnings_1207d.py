"""W101/W104 for values nothing built reads, after the ISFM keys reached their components (1207d, second pass).

The pass that says so looked for each unread value among all the nodes not built (quadratic: 16,000 values
took 13 s); warned about a template's own `with:` (M_02_ISFM_heterogeneous_batch's `task_head`, in a library
file) as if the user had set it; type-checked a key the reference ignores against a component not chosen (E202
for `prompt_dim: "128"` beside E_01_HSE, which used to be W101); spent the compilation's expression budget
evaluating `metadata:` again (E204 in a later expression of a valid spec); said "pick one of them" of a null
given to the component already chosen; said "remove it" of B_08_PatchTST's `factor`, which W112 asks a
PHM-Vibench config for; and put a scoped key's W101 at its value, out of the order the keys are written.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import yaml

import vibench
from vibench.compiler import unread_params
from vibench.compiler.diagnostics import SpecError

SMALL = {"num_patches": 8, "patch_size_L": 8, "output_dim": 16, "num_classes": 4}


def _write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def _spec(tmp_path: Path, template: str, name: str = "mine.yaml", **settings: object) -> str:
    text = yaml.safe_dump({"vibench": 1, "extends": template, "with": settings}, sort_keys=False)
    return _write(tmp_path / name, text)


def _check(spec: str, **params: object) -> vibench.Program:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return vibench.check(spec, params=params or None)


def _config(tmp_path: Path, **model: object) -> str:
    return _write(tmp_path / "experiment.yaml", yaml.safe_dump({"model": model}, sort_keys=False))


class _Counted(frozenset):
    """A node's reads that count how often a name is looked up in them, one by one."""

    lookups = 0

    def __contains__(self, name: object) -> bool:
        _Counted.lookups += 1
        return super().__contains__(name)


def test_values_read_only_by_nodes_not_built_are_matched_in_one_pass(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    count = 60
    params = "".join(f"  p{i}: {{type: int, default: 1}}\n" for i in range(count))
    nodes = "".join(f"  n{i}: {{block: linear, in: {'lin' if i == 0 else f'n{i - 1}'}, out_features: p{i}, "
                    f"when: \"${{sw}}\"}}\n" for i in range(count))
    _write(tmp_path / "big.yaml", "vibench: 1\nname: Big\nparams:\n  sw: {type: bool, default: false}\n" + params
           + "inputs:\n  x: {shape: [B, 4]}\nnodes:\n  lin: {block: linear, in: x, out_features: 4, inherit: true}\n"
           + nodes + f"outputs:\n  y: {{from: n{count - 1}}}\n")
    spec = _write(tmp_path / "use.yaml", "vibench: 1\nextends: ./big.yaml\nwith:\n"
                  + "".join(f"  p{i}: 2\n" for i in range(count)))
    reads = unread_params.node_reads
    monkeypatch.setattr(unread_params, "node_reads", lambda nd: _Counted(reads(nd)))
    _Counted.lookups = 0
    found = _check(spec).warnings
    assert [w.code for w in found] == ["W104"] * count
    assert all(f"node `n{i}`, not built here" in (w.hint or "") for i, w in enumerate(found))
    assert _Counted.lookups < count  # one lookup per (value, node) pair was count * count


def test_a_templates_own_with_is_not_the_users(tmp_path: Path) -> None:
    tasks = {"classification": {"head": "H_01_Linear_cla"}, "rul_prediction": {"head": "H_05_RUL_pred"}}
    het = "isfm/M_02_ISFM_heterogeneous_batch"
    assert _check(_spec(tmp_path, het, **SMALL, task_configs=tasks)).warnings == ()
    assert _check(het, task_configs=tasks).warnings == ()  # the library file compiled by name
    config = _config(tmp_path, name="M_02_ISFM_heterogeneous_batch", type="ISFM", embedding="E_01_HSE",
                     backbone="B_04_Dlinear", **SMALL, patch_size_C=1, task_configs=tasks)
    assert [w.code for w in _check(config).warnings] == ["I106"]  # task_configs is vibench's: said, nothing more
    # a template of the user's between them is theirs as well: only the file compiled is warned about
    _spec(tmp_path, "isfm/M_01_ISFM", "between.yaml", **SMALL, embedding="E_01_HSE", task_head="H_05_RUL_pred")
    assert _check(_spec(tmp_path, "./between.yaml", task_configs=tasks)).warnings == ()
    spec = _spec(tmp_path, het, **SMALL, task_head="H_01_Linear_cla", task_configs=tasks)
    (w104,) = _check(spec).warnings  # the user's own task_head beside task_configs still is
    assert w104.code == "W104" and w104.pos is not None and Path(w104.pos.file).name == "mine.yaml"


@pytest.mark.parametrize("value", ["128", [0.9]])
def test_an_ignored_key_no_chosen_component_reads_is_w101_whatever_its_type(tmp_path: Path, value: object) -> None:
    copy = value if isinstance(value, str) else list(value)  # (one list twice would be written as a YAML alias)
    program = _check(_spec(tmp_path, "isfm/M_01_ISFM", prompt_dim=value, momentum=copy))
    assert [(w.code, w.message.split("`")[1]) for w in program.warnings] == [("W101", "prompt_dim"),
                                                                              ("W101", "momentum")]
    config = _config(tmp_path, name="M_01_ISFM", type="ISFM", embedding="E_01_HSE", backbone="B_04_Dlinear",
                     task_head="H_01_Linear_cla", **SMALL, patch_size_C=1, prompt_dim="128", use_prompt="true")
    assert {w.code for w in _check(config).warnings} == {"W101"}


def test_a_chosen_component_checks_the_ignored_key_it_reads(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "isfm/M_01_ISFM", **SMALL, embedding="HSE_prompt", prompt_dim="128")
    with pytest.raises(SpecError) as err:
        _check(spec)
    (e202,) = err.value.diagnostics
    assert e202.code == "E202" and "of block `HSE_prompt`" in e202.message
    lines = Path(spec).read_text(encoding="utf-8").splitlines()
    assert e202.pos is not None and lines[e202.pos.line - 1].strip() == "prompt_dim: '128'"  # the user's line


def test_re_reading_metadata_does_not_spend_the_compilations_budget(tmp_path: Path) -> None:
    heavy = "".join(f"  a{i}: \"${{len([i * P for i in range(13000)])}}\"\n" for i in range(6))
    _write(tmp_path / "base.yaml", "vibench: 1\nname: BT\nparams:\n  P: {type: int, default: 0}\ninputs:\n"
           "  x: {shape: [B, 4]}\nnodes:\n  lin: {block: linear, in: x, out_features: 4, inherit: true}\n"
           "outputs:\n  y: {from: lin}\nmetadata:\n" + heavy + "reference:\n  model: BT\n  source: none.py\n"
           "  state_dict_renames: \"${[['^lin\\\\\\\\.', 'lin.']]}\"\n")
    spec = _write(tmp_path / "use.yaml", "vibench: 1\nextends: ./base.yaml\nwith: {P: 1}\n")
    assert _check(spec).warnings == ()  # E204 at state_dict_renames, its steps spent by the warning pass


def test_a_null_for_the_chosen_component_is_said_as_a_null(tmp_path: Path) -> None:
    spec = _spec(tmp_path, "isfm/M_01_ISFM", embedding="E_01_HSE_v2", **SMALL, use_prompt=None, prompt_dim=None)
    found = _check(spec).warnings
    assert [w.code for w in found] == ["W104", "W104"]
    assert all("set to null has no effect here" in w.message and "pick" not in (w.hint or "") for w in found)
    other = _check(_spec(tmp_path, "isfm/M_01_ISFM", embedding="E_01_HSE", **SMALL, use_prompt=None)).warnings
    assert [w.code for w in other] == ["W101"]  # no component chosen declares it: the reference's reason


def test_an_unread_hint_never_names_a_chosen_component(tmp_path: Path) -> None:
    from vibench.compiler.ir import ParamDecl
    from vibench.compiler.unread_hints import unread_hint

    decl = ParamDecl("prompt_dim", "any", scope=("isfm/embedding/E_01_HSE_v2", "isfm/embedding/HSE_prompt"))
    assert unread_hint(decl, {"E_01_HSE_v2"}) == "it is read by HSE_prompt; remove it, or pick one of them"
    assert unread_hint(decl, {"E_01_HSE_v2", "HSE_prompt"}) == "remove it"


def test_a_key_the_phm_reference_needs_is_not_to_be_removed(tmp_path: Path) -> None:
    model = {"name": "M_02_ISFM_Prompt", "type": "ISFM_Prompt", "embedding": "HSE_prompt",
             "backbone": "B_08_PatchTST", "task_head": "H_01_Linear_cla", "output_dim": 128, "num_heads": 8,
             "e_layers": 2, "d_ff": 256, "dropout": 0.1, "activation": "relu", "patch_size_L": 64,
             "patch_size_C": 1, "num_patches": 16, "num_classes": 4}
    (w101,) = _check(_config(tmp_path, **model, factor=5)).warnings
    assert w101.code == "W101" and "B_08_PatchTST cannot be built without it" in (w101.hint or "")
    assert not (w101.hint or "").startswith(("remove", "it is read by"))
    (w112,) = _check(_config(tmp_path, **model)).warnings
    assert w112.code == "W112"
    backbone = {**model, "backbone": "B_04_Dlinear", "factor": 5}  # no chosen reference needs it: remove it
    (w101,) = [w for w in _check(_config(tmp_path, **backbone)).warnings if "`factor`" in w.message]
    assert w101.hint == "it is read by B_10_VIBT; remove it, or pick one of them"


def test_scoped_w101s_stand_at_their_keys_in_written_order(tmp_path: Path) -> None:
    spec = _write(tmp_path / "mine.yaml", "vibench: 1\nextends: isfm/M_01_ISFM\nwith:\n  momentum: 0.9\n"
                  "  prompt_dim: 8\n  use_prompt: true\n")
    found = _check(spec).warnings
    assert [(w.message.split("`")[1], w.pos.line, w.pos.col) for w in found if w.pos is not None] == [
        ("momentum", 4, 3), ("prompt_dim", 5, 3), ("use_prompt", 6, 3)]
    flow = _write(tmp_path / "flow.yaml", "vibench: 1\nextends: isfm/M_01_ISFM\nwith: {prompt_dim: 8}\n")
    (w101,) = _check(flow).warnings
    assert w101.pos is not None and (w101.pos.line, w101.pos.col) == (3, 8)
