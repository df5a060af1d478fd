"""`--no-inplace` / ``compile_spec(..., inplace=False)``: model.py without in-place work, for hooks that keep a
layer's output. By default the emitted forward runs activations and residual sums in place where autograd
allows (faster, less memory); a forward hook on the layer before such an operation then holds the changed
tensor, and a full backward hook there fails. Without in-place work both see the layer's own output."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest
import torch

import vibench
from tests.helpers import load_file_module
from vibench.compiler import registry

CASES = [
    ("rnn/AttentionLSTM", {"input_dim": 1, "hidden_dim": 8, "num_layers": 1, "attention_dim": 4, "num_classes": 3},
     (2, 16, 1), "classifier.fc1"),
    ("mlp/Dlinear", {"input_dim": 2, "seq_len": 64, "kernel_size": 5}, (2, 64, 2), "Linear_Seasonal"),
    ("cnn/ResNet1D", {"input_dim": 1, "num_classes": 3, "layers": [1, 1, 1, 1], "initial_channels": 8},
     (2, 64, 1), "layer1.0.bn2"),
]


def _model(tmp_path, spec: str, params: dict, inplace: bool) -> torch.nn.Module:
    result = vibench.compile_spec(spec, params=params, inplace=inplace)
    path = tmp_path / f"model_{spec.replace('/', '_')}_{inplace}.py"
    path.write_text(result.source)
    module = load_file_module(str(path), path.stem)
    return getattr(module, result.program.root.name)()


def _in_place_work(source: str) -> list[str]:
    """The statements of every emitted class's forward that write into a tensor: `a += b`, `torch.relu_(a)`,
    `F.silu(a, inplace=True)`, and the modules its ``__init__`` makes to work in place (`nn.ReLU(inplace=True)`
    in an `nn.Sequential`). A native block's own code, copied into model.py, is its own business."""
    found = []
    natives = registry.builtin_natives()
    emitted = [n for n in ast.parse(source).body if isinstance(n, ast.ClassDef) and n.name not in natives]
    for node in (m for cls in emitted for m in cls.body):
        if isinstance(node, ast.FunctionDef) and node.name in ("forward", "__init__"):
            for inner in ast.walk(node):
                if isinstance(inner, ast.AugAssign):
                    found.append(ast.unparse(inner))
                elif isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute):
                    torch_op = ast.unparse(inner.func.value) in ("torch", "F")
                    if torch_op and inner.func.attr.endswith("_") or any(
                            k.arg == "inplace" and isinstance(k.value, ast.Constant) and k.value.value is True
                            for k in inner.keywords):
                        found.append(ast.unparse(inner))
    return found


@pytest.mark.parametrize(("spec", "params", "shape", "layer"), CASES, ids=[c[0] for c in CASES])
def test_hooks_see_the_layer_output_without_in_place_work(tmp_path, spec, params, shape, layer) -> None:
    default = _model(tmp_path, spec, params, True)
    model = _model(tmp_path, spec, params, False)
    model.load_state_dict(default.state_dict())
    assert _in_place_work(vibench.compile_spec(spec, params=params).source), "the default works in place here"
    assert _in_place_work(vibench.compile_spec(spec, params=params, inplace=False).source) == []
    taps = {}
    target = model.get_submodule(layer)
    target.register_forward_hook(lambda mod, args, out: taps.update(args=args, out=out))
    x = torch.randn(*shape)
    model.eval(), default.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(x), default(x))  # the same model, only written out of place
        torch.testing.assert_close(taps["out"], target(*taps["args"]))
    model.train()
    grads = []
    target.register_full_backward_hook(lambda mod, grad_in, grad_out: grads.append(grad_out[0]))
    model(x).square().sum().backward()  # a full backward hook fails on an output modified in place
    assert grads and grads[0].shape == taps["out"].shape


def test_the_command_line_option_is_in_the_regenerate_line(tmp_path) -> None:
    out = tmp_path / "model.py"
    proc = subprocess.run([sys.executable, "-m", "vibench", "rnn/AttentionLSTM", "--no-inplace", "-o", str(out),
                           "--set", "num_classes=3"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    source = out.read_text()
    header = " ".join(line.lstrip("# ").removesuffix(" \\") for line in source.split('"""')[0].splitlines()
                      if line.startswith("#"))  # (a line that goes on ends in ` \`, as in a shell command)
    assert "--set num_classes=3 --no-inplace" in header
    assert "torch.relu(x)" in source and "torch.relu_(" not in source
    hint = "vibench-compile rnn/AttentionLSTM --no-inplace"  # what a changed parameter's message says to run
    assert hint in source


def test_inplace_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="inplace must be True or False"):
        vibench.compile_spec("mlp/Dlinear", inplace="no")  # type: ignore[arg-type]


def test_no_library_template_works_in_place_with_the_option() -> None:
    """Every template of tests/test_export.py's cases (each library template at a small size): no `+=`, no
    `torch.relu_`, no `inplace=True` in any forward. (That each gives the default model's outputs and
    gradients was checked over the same cases when the option was added: 63 of 63.)"""
    from tests.test_export import CASES as TEMPLATES

    for case in TEMPLATES:
        text = f"vibench: 1\nextends: {case.template}\n"
        source = vibench.compile_spec(text=text, inputs={"x": case.x}, params=case.params, inplace=False).source
        assert _in_place_work(source) == [], case.id


def test_build_takes_the_option_and_keys_its_cache_by_it() -> None:
    """`vibench.build(..., inplace=False)`: a feature tap on AttentionLSTM's `classifier.fc1` holds the layer's
    output; the default build (cached under another key) keeps working in place."""
    spec, params, shape, layer = CASES[0]
    plain = vibench.build(spec, inplace=False, **params).eval()
    default = vibench.build(spec, **params).eval()
    default.load_state_dict(plain.state_dict())
    taps = {}
    for name, model in (("plain", plain), ("default", default)):
        target = model.get_submodule(layer)
        target.register_forward_hook(lambda mod, args, out, name=name: taps.update({name: (mod, args, out)}))
    x = torch.randn(*shape)
    with torch.no_grad():
        torch.testing.assert_close(plain(x), default(x))
        mod, args, out = taps["plain"]
        torch.testing.assert_close(out, mod(*args))
        mod, args, out = taps["default"]
        assert not torch.equal(out, mod(*args))  # the default's relu_ changed the tensor the tap kept
    with pytest.raises(TypeError, match="inplace must be True or False"):
        vibench.build(spec, inplace=0, **params)


def test_sequential_activations_work_in_place_only_by_default() -> None:
    """An ISFM head's `nn.Sequential` (isfm_mlp) holds `nn.ReLU(inplace=True)` after its Linears, as H_10's
    reference does; `inplace=False` makes it `nn.ReLU()`, so a hook on the Linear keeps the Linear's output.
    Both give the same outputs and gradients."""
    torch.manual_seed(0)
    spec, params = "isfm/task_head/H_06_Anomaly_det", {"output_dim": 8, "hidden_dim": 6}
    default_source = vibench.compile_spec(spec, params=params).source
    plain_source = vibench.compile_spec(spec, params=params, inplace=False).source
    assert "nn.ReLU(inplace=True)" in default_source and "inplace=True" not in plain_source
    default = vibench.build(spec, **params)
    plain = vibench.build(spec, inplace=False, **params)
    plain.load_state_dict(default.state_dict())
    taps = {}
    for name, model in (("plain", plain), ("default", default)):
        model.anomaly_net[0].register_forward_hook(lambda mod, args, out, name=name: taps.update({name: (args, out)}))
    x = torch.randn(4, 3, 8)
    default.eval(), plain.eval()
    with torch.no_grad():
        torch.testing.assert_close(default(x), plain(x))
    for name, model in (("plain", plain), ("default", default)):
        (args, out), linear = taps[name], model.anomaly_net[0]
        assert torch.equal(out, linear(*args)) == (name == "plain")  # the default's ReLU wrote over it
    default.train(), plain.train()
    torch.manual_seed(0)
    default(x).square().sum().backward()
    torch.manual_seed(0)
    plain(x).square().sum().backward()
    for (name, a), b in zip(default.named_parameters(), plain.parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, msg=name)
