"""`let:` values and the inputs (QA pass 1207c): an input dimension that names a `let` reading the sizes takes its
value (it was a free size of its own, which `--input` bound to anything); a `let` that fails leaves the template's
checks to speak first and is never an "unknown name"; input declarations' errors stand at the value that is wrong;
E212's hint for `as:` without `layout:` compiles; an error in the model's own keys names no node."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import vibench
from tests.conftest import spec_text
from vibench.compiler.diagnostics import Diagnostic

HALF = spec_text("""
    vibench: 1
    name: T
    let:
      half: "${L // 2}"
    inputs:
      x: {shape: [B, L]}
      y: {shape: [B, half]}
    nodes:
      fx: {block: linear, in: x, out_features: 3}
      fy: {block: linear, in: y, out_features: 3}
      s: {block: add, in: [fx, fy]}
    outputs: {o: s}
""")


def _error(text: str, **kwargs: object) -> Diagnostic:
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(text=text, **kwargs)  # type: ignore[arg-type]
    errors = [d for d in info.value.diagnostics if d.severity == "error"]
    assert len(errors) == 1, [str(d) for d in errors]
    return errors[0]


# -- an input dimension that names a `let` is the `let`'s value ---------------------------------------------------


def test_a_dimension_naming_a_let_of_the_sizes_takes_its_value() -> None:
    program = vibench.check(text=HALF, inputs={"x": (2, 16)})
    shapes = {name: [str(d) for d in t.shape] for name, t in program.root.inputs}
    assert shapes == {"x": ["B", "16"], "y": ["B", "8"]}  # it was a free `half`, which `--input y=2,5` bound to 5


def test_a_dimension_naming_a_let_of_a_free_size_is_e303_at_the_input() -> None:
    d = _error(HALF)  # it was E303 at `fy`, calling `half` a free dimension to bind or make a parameter
    assert d.code == "E303" and d.pos is not None and d.pos.line == 7 and d.node is None
    assert "dimension `half` of input `y`" in d.message and "`let.half`" in d.message
    assert d.found is not None and "`L`" in d.found and "half" not in d.found


def test_the_emitted_model_and_the_built_one_hold_the_relation() -> None:
    source = vibench.compile_spec(text=HALF, inputs={"x": (2, 16)}).source
    namespace: dict[str, object] = {}
    exec(compile(source, "model.py", "exec"), namespace)  # noqa: S102 - the compiler's own output
    emitted = namespace["T"]()  # type: ignore[operator]
    built = vibench.build(text=HALF, inputs={"x": (2, 16)})
    for model in (emitted, built):
        assert model(torch.randn(2, 16), torch.randn(2, 8)).shape == (2, 3)
        with pytest.raises(ValueError, match="input `y` must be"):
            model(torch.randn(2, 16), torch.randn(2, 5))
    assert sum(p.numel() for p in emitted.parameters()) == sum(p.numel() for p in built.parameters()) == 78


BLOCK = spec_text("""
    vibench: 1
    name: T
    inputs:
      x: {shape: [B, 16]}
      y: {shape: [B, WIDTH]}
    nodes:
      c: {block: Blk, in: {x: x, y: y}}
    outputs: {o: c}
    blocks:
      Blk:
        let: {half: "${L // 2}"}
        inputs:
          x: {shape: [B, L]}
          y: {shape: [B, half]}
        nodes:
          fy: {block: linear, in: y, out_features: 3}
        outputs: {o: fy}
""")


def test_a_block_s_caller_gives_the_let_s_size_or_is_refused() -> None:
    assert vibench.check(text=BLOCK.replace("WIDTH", "8")).root.param_count == 27
    d = _error(BLOCK.replace("WIDTH", "5"))  # the body took a `half` of 5 from the call, whatever L // 2 was
    assert d.code == "E301" and "`let.half`" in d.message and d.found == "5"
    assert d.expected is not None and d.expected.startswith("8 ")


# -- a `let` that fails: the checks first, never an unknown name --------------------------------------------------

SIZES = spec_text("""
    vibench: 1
    name: T
    params:
      sizes: {type: "list[int]", default: [4]}
    let:
      first: "${sizes[0]}"
    CHECKS
    inputs:
      x: {shape: [B, 4]}
      y: {shape: [B, 4], when: "${first > 100}"}
    nodes:
      fc: {block: linear, in: x, out_features: first}
    outputs: {o: fc}
""")
CHECK = 'checks:\n  - {that: "${len(sizes) >= 1}", message: "give at least one size", at: sizes}'


def test_the_template_s_check_speaks_before_the_let_it_explains() -> None:
    d = _error(SIZES.replace("CHECKS", CHECK), params={"sizes": []})
    assert (d.code, d.message) == ("E215", "give at least one size")  # was E204 "unknown name `first`" at `y`
    assert d.pos is not None and d.pos.line == 4


def test_a_failed_let_without_a_check_is_its_own_error() -> None:
    d = _error(SIZES.replace("CHECKS", ""), params={"sizes": []})
    assert d.code == "E204" and "`let.first`" in d.message and "unknown name" not in d.message
    assert d.pos is not None and d.pos.line == 6


def test_an_input_s_when_reading_a_let_of_the_sizes_says_so() -> None:
    text = HALF.replace("y: {shape: [B, half]}", 'y: {shape: [B, 4], when: "${half > 3}"}')
    d = _error(text)
    assert d.code == "E204" and "reads `half`, a `let` computed from the inputs' sizes" in d.message
    assert d.pos is not None and (d.pos.line, d.pos.col) == (7, 28) and d.node is None


def test_a_let_reading_an_unknown_name_is_still_said_at_the_let() -> None:
    d = _error(SIZES.replace("CHECKS", "").replace("sizes[0]", "sizs[0]"))
    assert d.code == "E204" and "unknown name `sizs` in `let.first`" in d.message and d.hint == "did you mean `sizes`?"


# -- input declarations: the error at the value that is wrong -----------------------------------------------------

DECLARED = spec_text("""
    vibench: 1
    name: T
    params: {width: 4}
    inputs:
      x: INPUT
    nodes:
      fc: {block: linear, in: x, out_features: width}
    outputs: {o: fc}
""")


def test_a_whole_shape_s_error_is_at_the_shape() -> None:
    d = _error(DECLARED.replace("INPUT", '{shape: "${[\'B\', widht]}"}'))
    assert d.code == "E204" and d.pos is not None and (d.pos.line, d.pos.col) == (5, 14)


def test_a_layout_s_error_is_at_the_layout_and_says_layout() -> None:
    d = _error(DECLARED.replace("INPUT", '{shape: [B, L, 4], layout: "${layout}"}'))
    assert d.code == "E204" and "in the layout of input `x`" in d.message
    assert d.pos is not None and (d.pos.line, d.pos.col) == (5, 33)


def test_a_dimension_naming_a_setting_elsewhere_is_reported_there(tmp_path: Path) -> None:
    (tmp_path / "Base.yaml").write_text(DECLARED.replace("INPUT", "{shape: [B, width]}"))
    use = tmp_path / "Use.yaml"
    use.write_text("vibench: 1\nname: Use\nextends: ./Base\nwith:\n  width: 0\n")
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(str(use))
    d = next(d for d in info.value.diagnostics if d.code == "E212")
    assert d.pos is not None and (d.pos.file.endswith("Use.yaml"), d.pos.line) == (True, 5)
    assert d.found == "width = 0"


# -- E212 for `as:` without `layout:`: a hint that compiles --------------------------------------------------------

ADAPTED = spec_text("""
    vibench: 1
    name: T
    PARAMS
    inputs:
      x: {shape: [B, L, 4], as: BCL}
    nodes:
      c: {block: conv1d, in: x, out_channels: 3, kernel_size: 1}
    outputs: {o: c}
""")


def test_as_without_layout_suggests_a_literal_layout_that_compiles() -> None:
    d = _error(ADAPTED.replace("PARAMS", ""))
    assert d.code == "E212" and d.hint is not None and "`layout: BLC`" in d.hint and "${layout}" not in d.hint
    fixed = ADAPTED.replace("PARAMS", "").replace("as: BCL", "as: BCL, layout: BLC")
    assert vibench.check(text=fixed).root is not None


def test_as_without_layout_suggests_the_layout_parameter_where_there_is_one() -> None:
    text = ADAPTED.replace("PARAMS", "params: {layout: BLC}")
    d = _error(text)
    assert d.hint is not None and d.hint.startswith("add `layout: layout`")
    assert vibench.check(text=text.replace("as: BCL", "as: BCL, layout: layout")).root is not None


def test_an_output_s_as_without_layout_suggests_a_literal() -> None:
    text = ADAPTED.replace("PARAMS", "").replace("as: BCL", "layout: BCL").replace("{o: c}", "{o: {from: c, as: BCL}}")
    d = _error(text)
    assert d.code == "E212" and d.hint is not None and "`layout: BLC`" in d.hint and "${layout}" not in d.hint


# -- the model's own keys are no node ------------------------------------------------------------------------------


def test_an_error_in_the_model_s_metadata_names_no_node() -> None:
    d = _error(DECLARED.replace("INPUT", "{shape: [B, 4]}") + 'metadata: {r: "${1 // 0}"}\n')
    assert d.message == "division by zero in `metadata`" and d.node is None


def test_an_error_in_an_input_s_when_names_no_node() -> None:
    d = _error(DECLARED.replace("INPUT", '{shape: [B, 4], when: "${nope}"}'))
    assert "unknown name `nope` in `when` of input `x`" in d.message and d.node is None
