"""A name of the spec never hides, in model.py, a class or function model.py defines or imports.

model.py copies the native classes and functions of its blocks (`MovingAverage`, a plug-in's `twice`) to
its top level and calls them from the constructors and `forward`. A spec parameter or input of such a
name would be an argument of that method, the caller's name, which the emitter cannot rename: E106 at the
declaration (a parameter `MovingAverage` made `self.ma = MovingAverage(5)` call an int). A name the
emitter picks is renamed instead: a local of `forward` (`twice_1`), a composite's class (`Stage_1`, where
a constructor argument is named `Stage`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

import vibench
from tests.test_emitted_bounds import _ruff_accepts
from tests.test_plugins_loading import install, run_python

CLASS_NATIVE = """\
vibench: 1
name: M
params: {MovingAverage: 4}
inputs: {x: {shape: [B, 16, 3]}}
nodes:
  ma: {block: moving_average, in: x, kernel_size: 5}
  flat: {block: flatten, in: ma}
  head: {block: linear, in: flat, out_features: "${MovingAverage}"}
outputs: {y: head}
"""


def _errors(text: str) -> list[vibench.Diagnostic]:
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=text)
    return list(err.value.diagnostics)


def test_a_parameter_named_like_a_native_class_is_refused_where_it_is_declared() -> None:
    """The repro: `def __init__(self, MovingAverage: int = 4)` then `self.ma = MovingAverage(5)` raised
    TypeError when the model was built, although `--check` passed."""
    (d,) = _errors(CLASS_NATIVE)
    assert (d.code, d.message, d.pos.line, d.pos.col) == ("E106", "parameter name `MovingAverage` is taken in model.py",
                                                          3, 10)
    assert d.found == ("block `moving_average` (node `ma`) brings the native class `MovingAverage` into model.py, "
                       "and a constructor argument of that name would hide it")
    assert d.hint == "rename the parameter, e.g. `MovingAverage_`"
    renamed = CLASS_NATIVE.replace("MovingAverage", "window")
    assert vibench.check(text=renamed).root.param_count > 0
    unused = CLASS_NATIVE.replace("moving_average, in: x, kernel_size: 5", "relu, in: x")
    assert vibench.check(text=unused).root.param_count > 0  # no node brings the class: the name is free


def test_a_name_of_a_block_around_the_native_or_of_a_let_is_refused_too() -> None:
    """A composite's parameter, and a parameter or `let` of the model that uses the composite (a chain of
    layers written inline puts the native's constructor in the model's own `__init__`)."""
    text = """\
vibench: 1
name: M
params: {width: 4}
let: {MovingAverage: "${width + 1}"}
blocks:
  Smooth:
    params: {kernel: 5}
    inputs: {x: {shape: [B, 16, 3]}}
    nodes: {ma: {block: moving_average, in: x, kernel_size: "${kernel}"}}
    outputs: {y: ma}
inputs: {x: {shape: [B, 16, 3]}}
nodes:
  s: {block: Smooth, in: x, kernel: "${MovingAverage}"}
outputs: {y: s}
"""
    (d,) = _errors(text)
    assert (d.code, d.message, d.pos.line) == ("E106", "let name `MovingAverage` is taken in model.py", 4)
    inner = """\
vibench: 1
name: M
blocks:
  Smooth:
    params: {MovingAverage: 5}
    inputs: {x: {shape: [B, 16, 3]}}
    nodes: {ma: {block: moving_average, in: x, kernel_size: "${MovingAverage}"}}
    outputs: {y: ma}
inputs: {x: {shape: [B, 16, 3]}}
nodes:
  s: {block: Smooth, in: x, MovingAverage: 3}
outputs: {y: s}
"""
    (d,) = _errors(inner)
    assert (d.code, d.message, d.pos.line) == ("E106", "parameter name `MovingAverage` is taken in model.py", 5)


def test_a_parameter_named_ordered_dict_is_reserved() -> None:
    """`OrderedDict` is imported by a model.py that writes a chain of layers inline."""
    (d,) = _errors(CLASS_NATIVE.replace("MovingAverage", "OrderedDict"))
    assert (d.code, d.message) == ("E106", "parameter name `OrderedDict` is reserved")


def test_a_composite_class_never_takes_the_name_of_a_constructor_argument(tmp_path: Path) -> None:
    """A model parameter `Stage` and a block `Stage`: `self.s = Stage()` in `__init__(self, Stage: int = 4)`
    called the int. The class is renamed (the argument is the caller's name); model.py is ruff-clean and
    builds."""
    text = """\
vibench: 1
name: M
params: {Stage: 4}
blocks:
  Stage:
    params: {c: 4}
    inputs: {x: {shape: [B, 16]}}
    nodes:
      fc: {block: linear, in: x, out_features: "${c}"}
      act: {block: relu, in: fc}
    outputs: {y: act}
inputs: {x: {shape: [B, 16]}}
nodes:
  s: {block: Stage, in: x, c: 8}
  head: {block: linear, in: s, out_features: "${Stage}"}
outputs: {y: head}
"""
    source = vibench.compile_spec(text=text).source
    assert "class Stage_1(nn.Module):" in source and "self.s = Stage_1()" in source
    assert "def __init__(self, Stage: int = 4, **fixed: object) -> None:" in source
    module = _ruff_accepts(source, tmp_path)
    import torch

    assert tuple(module.M(Stage=3)(torch.ones(2, 16)).shape) == (2, 3)


NATIVE_FUNCTION = '''
from pydantic import Field

from vibench.compiler.blocks.base import Block
from vibench.compiler.codegen import code as c
from vibench.compiler.registry import register
from vibench.schemas.blocks import BlockParams
from vibench.compiler.blocks.torchless import torch


def twice(t: torch.Tensor) -> torch.Tensor:
    return t * 2.0


class KParams(BlockParams):
    k: int = Field(1, ge=1, description="k.")


@register
class TwiceBlock(Block):
    """Doubles with a native function named twice."""

    name = "twice_native"
    Params = KParams
    natives = (twice,)

    def infer(self, p, ins, ctx):
        return [ins[0]]

    def call_code(self, p, args, mod):
        return c.call("twice", args[0])
'''


def test_names_and_a_plugins_native_function(tmp_path: Path) -> None:
    """An input named like a native function (`twice = twice(twice)` in forward) is E106; a node named like
    it gets a renamed local (`twice_1`), and the model runs."""
    site = tmp_path / "site"
    install(site, "p_twice", {"p_twice/__init__.py": NATIVE_FUNCTION}, ["twice = p_twice"])
    (tmp_path / "input.yaml").write_text("""\
vibench: 1
name: M
inputs: {twice: {shape: [B, 4, L]}}
nodes:
  d: {block: twice_native, in: twice}
outputs: {y: d}
""")
    (tmp_path / "node.yaml").write_text("""\
vibench: 1
name: M
inputs: {inp: {shape: [B, 4, L]}}
nodes:
  twice: {block: relu, in: inp}
  d: {block: twice_native, in: twice}
  e: {block: twice_native, in: inp}
  s: {block: add, in: [d, e, twice]}
outputs: {y: s}
""")
    run = run_python("""
        import torch, vibench
        try:
            vibench.check("input.yaml")
        except vibench.SpecError as err:
            (d,) = err.diagnostics
            print(d.code, d.pos.line, d.message)
            print(d.found)
        open("node.py", "w").write(vibench.compile_spec("node.yaml").source)
        import node
        print(node.M()(torch.ones(1, 4, 8)).sum().item())
    """, [site], tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.splitlines() == [
        "E106 3 input name `twice` is taken in model.py",
        "block `twice_native` (node `d`) brings the native function `twice` into model.py, and a forward argument "
        "of that name would hide it",
        "160.0",  # 2 + 2 + 1 per element, 32 elements
    ]
    model = (tmp_path / "node.py").read_text()
    assert "twice_1 = torch.relu(inp)" in model and "out = twice(twice_1)" in model
    (tmp_path / "ruff").mkdir()
    _ruff_accepts(model, tmp_path / "ruff")
