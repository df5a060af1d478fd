"""Messages and rules of the language the QA (1206i) found wrong, missing or stale.

* A declared parameter that no expression reads and that no `inherit: true` node's block declares is W105 (it
  was silent as soon as a node had `inherit: true`), with the name the block takes.
* An error blamed on a `with:` key whose value is a block mapping is at the key, or at the entry named like the
  failed copy; an unknown key read from such an entry is at that key.
* W107 covers every channels-first block of the catalogue (group_norm and the adaptive pools were missed).
* The E112 hint for a name taken as text says where it became text (a `let`, a parameter that takes text).
* A list default reads the names in it, as a node's list does.
* Symbols a `${...}` shape gives meet the rules of written ones (E106).
* model.py's provenance comments tell two files of one base name apart (`sub/c.yaml` beside `c.yaml`), and
  name others by their base name.
* Wording: an input's bad `layout` (at `layout:`), a size of 0 in a `${...}` shape, a `with:` value that reads
  itself; a `port?:` the block written by name lacks is E405 (it was dropped silently).
* docs/language.md says what model.py holds for a composite used twice, and quotes M_01_ISFM's `task_heads`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import vibench
from vibench.compiler.diagnostics import Diagnostic

ROOT = Path(__file__).resolve().parent.parent


def _errors(text: str | None = None, path: str | None = None, **kwargs: object) -> list[Diagnostic]:
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(path, text=text, **kwargs)  # type: ignore[arg-type]
    return [d for d in info.value.diagnostics if d.severity == "error"]


def _error(text: str | None = None, path: str | None = None, **kwargs: object) -> Diagnostic:
    errors = _errors(text, path, **kwargs)
    assert len(errors) == 1, errors
    return errors[0]


def _warnings(text: str, code: str) -> list[Diagnostic]:
    return [d for d in vibench.check(text=text).warnings if d.code == code]


# -- 1. W105 beside `inherit: true` ------------------------------------------------------------------

INHERIT = """vibench: 1
name: Inh
params:
  hiden: 64
blocks:
  Mlp:
    params: {hidden: 8}
    inputs: {x: {shape: [B, C]}}
    nodes:
      fc: {block: linear, in: x, out_features: hidden}
    outputs: {y: fc}
inputs: {x: {shape: [B, 3]}}
nodes:
  mlp: {block: Mlp, in: x, inherit: true}
outputs: {y: mlp}
"""


def test_a_misspelt_parameter_beside_inherit_is_w105_with_the_name_the_block_takes() -> None:
    (w,) = _warnings(INHERIT, "W105")
    assert w.message == "parameter `hiden` is declared but never used"
    assert w.pos is not None and (w.pos.line, w.pos.col) == (4, 3)
    assert w.hint is not None and w.hint.startswith("did you mean `hidden`?") and "`Mlp` takes `hidden`" in w.hint


def test_a_parameter_the_inheriting_block_declares_is_read() -> None:
    assert _warnings(INHERIT.replace("hiden: 64", "hidden: 64"), "W105") == []
    program = vibench.check(text=INHERIT.replace("hiden: 64", "hidden: 64"))
    assert str(program.root.outputs[0][2]) == "[B, 64]"


def test_a_catalogue_block_under_inherit_names_its_fields() -> None:
    text = """vibench: 1
name: Inh
params: {out_featurs: 16, out_features: 4}
inputs: {x: {shape: [B, 3]}}
nodes:
  fc: {block: linear, in: x, inherit: true}
outputs: {y: fc}
"""
    (w,) = _warnings(text, "W105")
    assert "`out_featurs`" in w.message


def test_a_block_chosen_by_an_expression_may_take_any_parameter() -> None:
    text = """vibench: 1
name: Inh
params: {kind: linear, out_features: 4, extra: 1}
inputs: {x: {shape: [B, 3]}}
nodes:
  fc: {block: "${kind}", in: x, inherit: true}
outputs: {y: fc}
"""
    assert _warnings(text, "W105") == []


# -- 2. errors blamed on a `with:` mapping ----------------------------------------------------------

TEMPLATE = """vibench: 1
name: Tpl
params:
  task_configs: {type: any, default: {a: {out_features: 2}}}
inputs: {x: {shape: [B, 8]}}
nodes:
  heads: {block: linear, in: x, for_each: "${task_configs}", with: "${task_configs[key]}"}
outputs: {o: {from: heads.*}}
"""


def test_an_error_blamed_on_a_with_mapping_is_at_the_entry_of_the_failed_copy(tmp_path: Path) -> None:
    (tmp_path / "tpl.yaml").write_text(TEMPLATE)
    (tmp_path / "usr.yaml").write_text("vibench: 1\nextends: ./tpl\nwith:\n  task_configs:\n"
                                       "    a: {out_features: 2}\n    c: {bias: false}\n")
    d = _error(path=str(tmp_path / "usr.yaml"))
    assert (d.code, d.node) == ("E113", "c")
    assert d.pos is not None and d.pos.file.endswith("usr.yaml") and (d.pos.line, d.pos.col) == (6, 5), d.pos


def test_an_error_blamed_on_a_with_key_is_at_the_key(tmp_path: Path) -> None:
    (tmp_path / "tpl.yaml").write_text("""vibench: 1
name: Tpl
params:
  cfg: {type: "dict[str, int]", default: {width: 8}}
inputs: {x: {shape: [B, L, 8]}}
nodes:
  fc: {block: linear, in: x, out_features: "${cfg['width']}"}
  att: {block: multi_head_attention, in: fc, num_heads: 2}
outputs: {y: att}
""")
    (tmp_path / "usr.yaml").write_text("vibench: 1\nextends: ./tpl\nwith:\n  cfg:\n    depth: 1\n    width: 7\n")
    d = _error(path=str(tmp_path / "usr.yaml"))
    assert d.node == "att" and any("without this `cfg` the error goes away" in n for n in d.notes), d
    assert d.pos is not None and d.pos.file.endswith("usr.yaml") and (d.pos.line, d.pos.col) == (4, 3), d.pos


def test_an_unknown_key_read_from_an_entry_is_at_that_key(tmp_path: Path) -> None:
    (tmp_path / "tpl.yaml").write_text(TEMPLATE)
    (tmp_path / "usr.yaml").write_text("vibench: 1\nextends: ./tpl\nwith:\n  task_configs:\n"
                                       "    a: {out_features: 2}\n    c: {out_features: 3, out_featurs: 3}\n")
    d = _error(path=str(tmp_path / "usr.yaml"))
    assert (d.code, d.node) == ("E111", "c")
    assert d.pos is not None and (d.pos.line, d.pos.col) == (6, 26), d.pos


# -- 3. W107 over every channels-first block ------------------------------------------------------------


@pytest.mark.parametrize(("block", "values"), [
    ("group_norm", "num_groups: 2"), ("adaptive_avg_pool1d", "output_size: 1"),
    ("adaptive_max_pool1d", "output_size: 1"), ("batch_norm1d", "{}"), ("dwt1d", "{}"),
    ("signal_features", "features: [Mean]"),
])
def test_a_channels_first_block_given_time_as_channels_is_w107(block: str, values: str) -> None:
    keys = "" if values == "{}" else ", " + values
    text = f"""vibench: 1
name: Roles
inputs:
  x: {{shape: [B, 4, 128], layout: BCL}}
nodes:
  t: {{block: transpose, in: x, dim0: 1, dim1: 2}}
  n: {{block: {block}, in: t{keys}}}
outputs: {{y: n}}
"""
    (w,) = _warnings(text, "W107")
    assert w.message == f"node `n` ({block}) reads its channels (dimension 1) from the time axis"


def test_the_channels_first_blocks_are_the_catalogues_convolutions_norms_and_pools() -> None:
    from vibench.compiler import registry
    from vibench.compiler.roles import CHANNELS_FIRST

    assert CHANNELS_FIRST <= set(registry.all_blocks())
    for name in ("conv1d", "causal_conv1d", "conv_transpose1d", "wavelet_conv1d", "batch_norm1d", "instance_norm1d",
                 "group_norm", "max_pool1d", "avg_pool1d", "adaptive_max_pool1d", "adaptive_avg_pool1d"):
        assert name in CHANNELS_FIRST
    doc = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    assert all(f"`{name}`" in doc.split("### Axis roles")[1].split("##")[0] for name in CHANNELS_FIRST)


# -- 4. where a name became text ---------------------------------------------------------------------------


def test_a_plain_name_in_a_let_is_text_and_the_hint_names_the_let() -> None:
    d = _error(text="""vibench: 1
name: LetText
params: {n: 4}
let: {width: n}
inputs: {x: {shape: [B, 4]}}
nodes:
  fc: {block: linear, in: x, out_features: width}
outputs: {y: fc}
""")
    assert d.code == "E112" and d.found == "'n'"
    assert d.hint == ("`width` is the text 'n': a plain name under `let:` stays text (a `let` has no type); "
                      "write `width: \"${n}\"` there to read `n`")


def test_a_text_parameters_name_default_is_text_and_the_hint_names_the_parameter() -> None:
    d = _error(text="""vibench: 1
name: StrParam
params: {n: 4, s: {type: str, default: n}}
inputs: {x: {shape: [B, 4]}}
nodes:
  fc: {block: linear, in: x, out_features: "${s}"}
outputs: {y: fc}
""")
    assert d.code == "E112" and d.hint is not None
    assert d.hint.startswith("`s` takes text (`str`), so the plain name `n` set for it is the text 'n'")
    assert "`out_features` takes text" not in d.hint


def test_a_name_written_at_a_text_field_keeps_its_hint() -> None:
    d = _error(text="""vibench: 1
name: Act
params: {relu6: gelu}
inputs: {x: {shape: [B, 4]}}
nodes:
  a: {block: isfm_activation, in: x, name: relu6}
outputs: {y: a}
""")
    assert d.hint is not None and d.hint.startswith("`name` takes text, so `relu6` is the text 'relu6' here")


# -- 5. names in a list default ----------------------------------------------------------------------------


def test_a_list_default_reads_the_names_in_it() -> None:
    program = vibench.check(text="""vibench: 1
name: Dl
params:
  n: 2
  k: {type: "list[int]", default: [n, n]}
inputs: {x: {shape: [B, 4]}}
nodes:
  sp: {block: split, in: x, sizes: k, dim: 1}
  a: {block: add, in: [sp.0, sp.1]}
outputs: {y: a}
""")
    assert str(program.root.outputs[0][2]) == "[B, 2]"


def test_a_text_list_default_keeps_its_names() -> None:
    program = vibench.check(text="""vibench: 1
name: Dl
params:
  n: 2
  k: {type: "list[str]", default: [n]}
metadata: {k: "${k}", n: "${n}"}
inputs: {x: {shape: [B, 4]}}
nodes: {a: {block: relu, in: x}}
outputs: {y: a}
""")
    assert program.root.metadata == {"k": ["n"], "n": 2}


# -- 6. symbols a `${...}` shape gives -----------------------------------------------------------------------


@pytest.mark.parametrize(("symbol", "message"), [
    ("'Ｌ'", "shape symbol name `Ｌ` reads as `L` in Python"),
    ("'a' * 40", "shape symbol name `aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...` is too long"),
])
def test_a_computed_shape_symbol_meets_the_rules_of_names(symbol: str, message: str) -> None:
    d = _error(text=f"""vibench: 1
name: Fw
inputs:
  x: {{shape: "${{['B', 'L', {symbol}]}}"}}
nodes: {{p: {{block: relu, in: x}}}}
outputs: {{a: p}}
""")
    assert (d.code, d.message) == ("E106", message)
    assert d.pos is not None and (d.pos.line, d.pos.col) == (4, 14)


def test_a_computed_shape_symbol_may_not_be_a_keyword() -> None:
    d = _error(text="""vibench: 1
name: Fw
inputs:
  x: {shape: "${['B', 'class']}"}
nodes: {p: {block: relu, in: x}}
outputs: {a: p}
""")
    assert d.code == "E212" and "'class', is not a symbol name" in d.message


# -- 7. provenance comments ---------------------------------------------------------------------------------


def test_provenance_comments_tell_two_files_of_one_base_name_apart(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    block = ("vibench: 1\nname: {n}\nblocks:\n  {b}:\n    inputs: {{x: {{shape: [B, C]}}}}\n"
             "    nodes: {{a: {{block: {act}, in: x}}}}\n    outputs: {{y: a}}\n"
             "inputs: {{x: {{shape: [B, 4]}}}}\nnodes: {{r: {{block: relu, in: x}}}}\noutputs: {{y: r}}\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "c.yaml").write_text(block.format(n="C", b="CC", act="relu"))
    (tmp_path / "sub" / "c.yaml").write_text(block.format(n="C", b="AA", act="sigmoid"))
    (tmp_path / "main.yaml").write_text("vibench: 1\nname: Main\ninputs: {x: {shape: [B, 4]}}\n"
                                        "nodes: {r: {block: \"sub/c#AA\", in: x}, s: {block: \"c#CC\", in: r}}\n"
                                        "outputs: {y: s}\n")
    monkeypatch.chdir(tmp_path)
    source = vibench.compile_spec("main.yaml").source
    assert "torch.sigmoid(x)  # [B, C]  sub/c.yaml:6" in source
    assert "torch.relu(x)  # [B, C]  c.yaml:6" in source


# -- 8. wording ---------------------------------------------------------------------------------------------

LAYOUT = """vibench: 1
name: Lay
params: {layout: BLC}
inputs:
  x: {shape: [B, L, 3], layout: layout, as: BCL}
nodes:
  conv: {block: conv1d, in: x, out_channels: 5, kernel_size: 1}
outputs: {signal: conv}
"""


def test_a_bad_layout_is_said_so_at_its_key() -> None:
    d = _error(text=LAYOUT, params={"layout": "BXL"})
    assert (d.code, d.message, d.expected, d.found) == (
        "E212", "the layout of input `x` must be BLC or BCL", "BLC or BCL", "'BXL'")
    assert d.pos is not None and (d.pos.line, d.pos.col) == (5, 33)


def test_a_size_of_zero_is_said_by_its_position() -> None:
    d = _error(text="""vibench: 1
name: S
params: {n: 0}
inputs:
  x: {shape: "${['B', n]}"}
nodes: {r: {block: relu, in: x}}
outputs: {y: r}
""")
    assert d.message == "invalid shape for input `x`: the size at position 1 is 0, not a positive integer"


def test_a_with_value_that_reads_itself_says_with(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text("vibench: 1\nname: Base\nparams: {width: 8, depth: 3}\n"
                                        "inputs: {x: {shape: [B, 4]}}\n"
                                        "nodes: {fc: {block: linear, in: x, out_features: width, repeat: depth}}\n"
                                        "outputs: {y: fc}\n")
    (tmp_path / "w.yaml").write_text('vibench: 1\nextends: ./base\nwith: {width: "${width + 1}"}\n')
    d = _error(path=str(tmp_path / "w.yaml"))
    assert d.message == "cannot evaluate `width`: parameter `width` depends on itself through its `with:` value"
    (tmp_path / "w.yaml").write_text('vibench: 1\nextends: ./base\nwith: {width: "${depth}", depth: "${width}"}\n')
    message = _error(path=str(tmp_path / "w.yaml")).message
    assert "through the `with:` values of `width` -> `depth` -> `width`" in message


PORTS = """vibench: 1
name: Pq
inputs:
  q: {shape: [B, L, 8]}
  k: {shape: [B, S, 8]}
nodes:
  att: {block: multi_head_attention, in: {query: q, "kye?": k, value: k}, num_heads: 2}
outputs: {a: att}
"""


def test_an_optional_port_the_named_block_lacks_is_an_error() -> None:
    d = _error(text=PORTS)
    assert (d.code, d.message) == ("E405", "`multi_head_attention` has no input port `kye`")
    assert d.hint == "did you mean `key`?" and d.pos is not None and (d.pos.line, d.pos.col) == (7, 61)


def test_an_optional_port_of_a_block_chosen_by_an_expression_may_be_missing() -> None:
    text = PORTS.replace("name: Pq\n", "name: Pq\nparams: {kind: multi_head_attention}\n").replace(
        "block: multi_head_attention", 'block: "${kind}"').replace('"kye?": k, value: k',
                                                                  '"key?": k, "value?": k, "bias?": k')
    assert str(vibench.check(text=text).root.outputs[0][2]) == "[B, L, 8]"


# -- 9. the docs say what is true ---------------------------------------------------------------------------


def test_the_docs_quote_the_shipped_task_heads_and_the_classes_emitted() -> None:
    doc = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    spec = (ROOT / "vibench" / "specs" / "isfm" / "M_01_ISFM.yaml").read_text(encoding="utf-8")
    assert "ConvBnAct_cout64" not in doc
    quoted = doc.split("  task_heads:\n", 1)[1].split("```", 1)[0]
    for line in quoted.splitlines():
        key, _, value = line.strip().partition(": ")
        value = value.split("  #")[0].strip()
        assert f"{key}: {value}" in spec or f"{key}: {value}".replace("heads", '"${heads}"') in spec, line
    stem = next(b for b in doc.split("```yaml\n")[1:] if b.startswith("vibench: 1\nname: Stem")).split("```")[0]
    assert "self.stem = ConvBnAct()" in vibench.compile_spec(text=stem).source
    twice = stem.replace("outputs: {y: stem}", "outputs: {y: stem2}").replace(
        "  stem: {block: ConvBnAct, in: x, cout: 32}\n",
        "  stem: {block: ConvBnAct, in: x, cout: 32}\n  stem2: {block: ConvBnAct, in: stem, cout: 64}\n")
    source = vibench.compile_spec(text=twice).source
    assert "self.stem = ConvBnAct(1, 32)" in source and "self.stem2 = ConvBnAct(32, 64)" in source


def test_the_text_hint_example_runs() -> None:
    import doctest

    from vibench.compiler import text_hints

    result = doctest.testmod(text_hints)
    assert result.attempted > 0 and result.failed == 0
