"""Registry-driven tests: every block's static shape rule against a real forward pass.

For each registered block, hypothesis draws parameters and small inputs (:mod:`vibench.testing`),
the one-node spec is compiled with concrete input shapes, built, and run in eval mode; the torch
outputs must have the statically predicted shapes and dtypes, and the module exactly the predicted
parameter count. Other tests check each block's metadata and the code it generates.
"""

from __future__ import annotations

import ast
import re
from dataclasses import replace

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import vibench
from vibench import testing
from vibench.compiler import registry
from vibench.compiler.blocks.base import native_source
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.layout import flat
from vibench.compiler.symbolic import evaluate
from vibench.schemas.blocks import BlockParams

BLOCKS = sorted(registry.all_blocks())


def _dtype(name: str) -> torch.dtype:
    return getattr(torch, name)


def _outputs(model: torch.nn.Module, case: testing.BlockCase) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        result = model(*testing.random_inputs(case.inputs))
    if isinstance(result, torch.Tensor):
        return {"y": result}
    return dict(result)


@pytest.mark.parametrize("name", BLOCKS)
@settings(max_examples=max(10, settings.default.max_examples // 3))  # `ci`: 13 per block, `dev`: 133
@given(data=st.data())
def test_forward_matches_static_prediction(name: str, data: st.DataObject) -> None:
    case, program = testing.compile_case(data.draw(testing.block_cases(name), label="case"))
    node = program.root.node(testing.NODE)
    env = dict(program.bindings)
    model = vibench.build(text=case.text, inputs=case.bindings).eval()

    outs = _outputs(model, case)
    expected = {name_: t for name_, _, t in program.root.outputs}
    assert set(outs) == set(expected)
    for key, t in expected.items():
        static = tuple(evaluate(d, env) for d in t.shape)
        assert tuple(outs[key].shape) == static, f"{key}: torch {tuple(outs[key].shape)} vs static {t}"
        assert outs[key].dtype == _dtype(t.dtype), f"{key}: torch {outs[key].dtype} vs static {t.dtype}"

    real_scalars = sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters())
    assert real_scalars == node.param_count == program.root.param_count
    assert all(key.split(".")[0] == testing.NODE for key in model.state_dict()), "state outside the node"
    assert evaluate(node.flops, env) >= 0


@pytest.mark.parametrize("name", BLOCKS)
@settings(max_examples=8)
@given(data=st.data())
def test_inferred_parameters_can_be_given(name: str, data: st.DataObject) -> None:
    """Writing out every parameter the rule settled (inferred ones included) compiles to the same node.

    The input shapes are declared as numbers here: a free symbol never equals a given number.
    """
    case, _ = testing.compile_case(data.draw(testing.block_cases(name), label="case"))
    fixed = tuple(replace(t, shape=t.dims) for t in case.inputs)
    program = vibench.check(text=testing.one_node_spec(name, case.params, fixed, case.outputs))
    node = program.root.node(testing.NODE)
    final = node.copies[0].params
    explicit = final.model_dump(exclude_defaults=True)
    again = vibench.check(text=testing.one_node_spec(name, explicit, fixed, case.outputs))
    twin = again.root.node(testing.NODE)
    assert twin.outputs == node.outputs
    assert twin.param_count == node.param_count
    assert twin.copies[0].params == final


CHAINABLE = [n for n, b in registry.all_blocks().items()
             if not b.variadic and len(b.inputs) - len(b.optional_inputs) == 1 and len(b.outputs) == 1]


@pytest.mark.parametrize("name", CHAINABLE)
@settings(max_examples=5)
@given(data=st.data())
def test_repeated_node_builds_and_runs(name: str, data: st.DataObject) -> None:
    """`repeat: 2` chains two copies: either a diagnostic (the first copy's output does not fit the second),
    or a module that holds both copies (Sequential / ModuleList / ParameterList) and runs as predicted."""
    case, _ = testing.compile_case(data.draw(testing.block_cases(name), label="case"))
    text = testing.one_node_spec(name, case.params, case.inputs, repeat=2)
    try:
        program = vibench.check(text=text, inputs=case.bindings)
    except vibench.SpecError as err:
        assert err.diagnostics and all(d.pos is not None for d in err.diagnostics), err
        return
    model = vibench.build(text=text, inputs=case.bindings).eval()
    with torch.no_grad():
        out = model(*testing.random_inputs(case.inputs))
    (_, _, t), = program.root.outputs
    assert tuple(out.shape) == tuple(evaluate(d, dict(program.bindings)) for d in t.shape)
    assert sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters()) == program.root.param_count


@pytest.mark.parametrize("name", BLOCKS)
@settings(max_examples=6)
@given(data=st.data())
def test_generated_code_is_python(name: str, data: st.DataObject) -> None:
    """init_code / call_code / unpack give code nodes that lay out as Python; F and math are imported when used."""
    case, program = testing.compile_case(data.draw(testing.block_cases(name), label="case"))
    block = registry.get(name)
    assert block is not None
    node = program.root.node(testing.NODE)
    params = node.copies[0].params
    init = block.init_code(params)
    args = [c.ref(t.name) for t in case.inputs]
    pieces = [block.call_code(params, args, c.attr(c.ref("self"), testing.NODE))] + ([init] if init is not None else [])
    for piece in pieces:
        assert isinstance(piece, ast.expr), f"{name} returns {type(piece).__name__}, not a code node"
        code = flat(piece)
        ast.parse(code, mode="eval")
        if re.search(r"\bF\.", code):
            assert "F" in block.imports, f"{name} uses F. without imports = ('F',)"
        if re.search(r"\bmath\.", code):
            assert "math" in block.imports
    targets = block.unpack([c.ref(f"out_{k}") for k in range(len(node.outputs))])
    tree = ast.parse(f"{flat(targets)} = value")
    assert isinstance(tree.body[0], ast.Assign)
    source = vibench.compile_spec(text=case.text, inputs=case.bindings).source
    compile(source, "<model.py>", "exec")
    if block.natives:
        used = block.native_classes(node.copies[0].params)
        assert set(used) <= set(block.natives)  # linear brings its helpers only for dim 0 or 1
        assert all((f"class {n.__name__}(nn.Module)" if isinstance(n, type) else f"def {n.__name__}(") in source
                   for n in used)
        if any("math." in native_source(n) for n in block.natives):
            assert "math" in block.imports, f"{name}'s native class uses math: add imports = ('math',)"


@pytest.mark.parametrize("name", BLOCKS)
def test_block_metadata(name: str) -> None:
    block = registry.get(name)
    assert block is not None
    doc = (type(block).__doc__ or "").strip()
    assert doc, f"{name} has no docstring"
    assert block.description == doc.splitlines()[0] and len(block.description) > 10
    assert block.category and block.category != "misc"
    assert block.test_ranks and all(1 <= r <= 8 for r in block.test_ranks)
    assert block.test_dtypes
    assert issubclass(block.Params, BlockParams)
    for field, info in block.Params.model_fields.items():
        assert info.description, f"{name}.{field} has no description (it is shown in editors)"
    assert set(block.imports) <= {"F", "math"}
    for native in block.natives:
        assert native_source(native).startswith(("class ", "@", "def _"))  # classes, and helpers as `_name`
    for key in block.test_hints:
        for field in key if isinstance(key, tuple) else (key,):
            assert field in block.Params.model_fields, f"{name}.test_hints names unknown parameter {field}"


def test_native_classes_need_nothing_but_torch() -> None:
    """The emitter copies a native class's source alone: it may read torch, nn, F, math, builtins and
    the other natives of its block (which are copied with it), and nothing else of its file."""
    import builtins

    allowed = {"torch", "nn", "F", "math"} | set(dir(builtins))
    for name, block in registry.all_blocks().items():
        natives = {n.__name__ for n in block.natives}
        for native in block.natives:
            tree = ast.parse(native_source(native))
            bound = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
            bound |= {a.arg for n in ast.walk(tree) if isinstance(n, ast.arguments)
                      for a in n.args + n.kwonlyargs + n.posonlyargs + [x for x in (n.vararg, n.kwarg) if x]}
            bound |= {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
            read = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
            stray = read - bound - allowed - natives
            assert not stray, f"{name}: native {native.__name__} reads {sorted(stray)}, which model.py lacks"


@settings(max_examples=15)
@given(chain=testing.chain_specs(max_nodes=3))
def test_chain_specs_are_valid_and_run(chain: testing.ChainCase) -> None:
    """The chain strategy yields specs that compile, build and run with the predicted output shape."""
    program = vibench.check(text=chain.text, inputs=chain.bindings)
    assert [(n.name, n.block) for n in program.root.nodes] == list(chain.nodes)
    model = vibench.build(text=chain.text, inputs=chain.bindings).eval()
    with torch.no_grad():
        out = model(*testing.random_inputs(chain.inputs))
    env = dict(program.bindings)
    (_, _, t), = program.root.outputs
    assert tuple(out.shape) == tuple(evaluate(d, env) for d in t.shape)
