"""Back end v2: model.py is built from code nodes, laid out as ruff formats it, parameterised the
way a person writes it, safe for any string a spec holds, and trains (in-place ops are sound)."""

from __future__ import annotations

import ast
import os
import random
import re
import subprocess
import sys

import pytest
from hypothesis import given, settings

import vibench
from tests.golden_cases import LIBRARY_CASES
from tests.helpers import EXAMPLES, ROOT
from vibench import testing
from vibench.compiler.codegen import code as c
from vibench.compiler.codegen.layout import docstring, flat, split, string
from vibench.compiler.codegen.namer import Namespace

RUFF = os.path.join(os.path.dirname(sys.executable), "ruff")
CONFIG = os.path.join(ROOT, "pyproject.toml")


def _ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([RUFF, *args], capture_output=True, text=True)


# -- layout: the oracle is ruff format ---------------------------------------------------------


_NAMES = ["x", "hidden", "num_classes", "self.conv1", "torch.relu", "a_rather_long_variable_name_here"]
_STRINGS = ["relu", "a " * 30, 'q"uote', "it's", "x\ny", "é\u2028", "back\\slash", '"""', "\x00\x1b"]


def _tree(depth: int, r: random.Random) -> ast.expr:
    k = r.random()
    if depth <= 0 or k < 0.25:
        kind = r.choice(["int", "name", "str", "float", "neg"])
        if kind == "int":
            return c.const(r.randint(0, 5000))
        if kind == "name":
            return c.dotted(r.choice(_NAMES))
        if kind == "str":
            return c.const(r.choice(_STRINGS))
        if kind == "neg":
            return c.const(-r.randint(1, 9))
        return c.const(r.choice([0.1, 1e-05, 2.5, float("inf")]))
    if k < 0.55:
        args = [_tree(depth - 1, r) for _ in range(r.randint(0, 4))]
        kwargs = {f"kw{i}": _tree(depth - 1, r) for i in range(r.randint(0, 3))}
        return c.call(r.choice(["nn.Conv1d", "nn.Sequential", "F.pad", "Block"]), *args, **kwargs)
    if k < 0.65:
        return c.list_of(*[_tree(depth - 1, r) for _ in range(r.randint(0, 5))])
    if k < 0.72:
        return ast.Dict(keys=[c.const(f"key{i}") for i in range(3)], values=[_tree(depth - 1, r) for _ in range(3)])
    if k < 0.8:
        return c.binop(_tree(0, r), r.choice(["+", "*", "//", "-", "**"]), c.ref("k"))
    if k < 0.85:
        return c.method(c.ref("x"), "transpose", _tree(depth - 1, r), 2)
    if k < 0.9:
        return c.index(c.ref("x"), c.span(), c.span(r.randint(0, 9)))
    if k < 0.95:
        return c.call("nn.Sequential", c.starred(c.list_comp(_tree(depth - 1, r), "i", c.call("range", c.ref("n")))))
    return c.if_else(c.compare(c.ref("s"), "!=", 1), _tree(0, r), _tree(0, r))


def test_layout_is_what_ruff_format_writes(tmp_path) -> None:
    """Random expression trees in the shapes model.py uses, laid out at three depths: ruff format
    changes nothing and the text parses to the same tree."""
    r = random.Random(20261203)
    sources = []
    for case in range(120):
        tree = _tree(4, r)
        indent = (4, 8, 12)[case % 3]
        lines = split("value = ", tree, "", indent)
        head = {4: "def f():\n", 8: "class A:\n    def f(self):\n", 12: "class A:\n    def f(self):\n        if k:\n"}
        body = "\n".join(" " * indent + line for line in lines)
        source = head[indent] + body + "\n"
        parsed = ast.parse(source)
        assignment = next(n for n in ast.walk(parsed) if isinstance(n, ast.Assign))
        assert ast.dump(assignment.value) == ast.dump(ast.parse(flat(tree), mode="eval").body)
        sources.append(source)
        (tmp_path / f"case_{case}.py").write_text(source)
    proc = _ruff("format", "--check", "--diff", "--config", CONFIG, "--no-cache", str(tmp_path))
    assert proc.returncode == 0, proc.stdout[-3000:]


def test_a_subscripted_call_is_split_at_the_call_as_ruff_does(tmp_path) -> None:
    """`x = self.attention(q, k, v, need_weights=...)[0]` too long for its line: ruff splits the call's
    arguments and keeps `[0]` after its parenthesis (the layout split the subscript's bracket, leaving a
    139-character line in E_01_HSE_v2's model.py)."""
    r = random.Random(20261205)
    for case in range(60):
        names = [r.choice(_NAMES) for _ in range(r.randint(1, 5))]
        flag = c.both([c.call(c.dotted("torch.is_grad_enabled")), c.attr(c.dotted(names[0]), "is_cpu")])
        call = c.call(r.choice(["self.prompt_attention", "self.cross_attention", "f"]), *map(c.dotted, names),
                      need_weights=flag)
        tree = c.index(call, r.choice([0, 1]))
        indent = (4, 8, 12)[case % 3]
        lines = split(r.choice(["value = ", "a_long_target_name_for_the_output = "]), tree, "", indent)
        head = {4: "def f():\n", 8: "class A:\n    def f(self):\n", 12: "class A:\n    def f(self):\n        if k:\n"}
        source = head[indent] + "\n".join(" " * indent + line for line in lines) + "\n"
        assert ast.dump(next(n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Assign)).value) == ast.dump(
            ast.parse(flat(tree), mode="eval").body)
        (tmp_path / f"case_{case}.py").write_text(source)
    proc = _ruff("format", "--check", "--diff", "--config", CONFIG, "--no-cache", str(tmp_path))
    assert proc.returncode == 0, proc.stdout[-3000:]


@pytest.mark.parametrize("value", ['say "hi"', "it's", "both ' and \"", "back\\slash", "line\nbreak", "\u2028",
                                   "\x00", "é", "tab\there", "'''", '"""'])
def test_strings_enter_code_only_as_literals(value: str) -> None:
    assert ast.literal_eval(string(value)) == value
    assert ast.literal_eval(flat(c.const({value: [value]}))) == {value: [value]}


def test_docstrings_cannot_be_closed_from_inside() -> None:
    hostile = ['An innocent line', 'ends here """ + __import__("os").system("true") + """', "back\\", "\u2028x", "q\""]
    lines = docstring(hostile, 4)
    source = "class A:\n" + "\n".join("    " + line if line else "" for line in lines) + "\n    pass\n"
    tree = ast.parse(source)
    assert len(tree.body) == 1 and isinstance(tree.body[0], ast.ClassDef)
    doc = ast.get_docstring(tree.body[0]) or ""
    assert '""" + __import__("os")' in doc  # kept as text, not code


def test_names_never_shadow_builtins_keywords_or_modules() -> None:
    ns = Namespace()
    taken = [ns.take(n) for n in ("sum", "input", "class", "torch", "nn", "F", "self", "conv", "conv", "ﬁeld")]
    assert taken == ["sum_1", "input_1", "class_1", "torch_1", "nn_1", "F_1", "self_1", "conv", "conv_1", "field"]


@pytest.mark.parametrize("name", ["check_inputs", "COMPILED_PARAMETERS", "REFERENCE_STATE_DICT_RENAMES", "METADATA"])
def test_a_node_may_not_take_a_name_the_emitted_class_uses(name: str) -> None:
    """A node `check_inputs` built a model whose constructor failed (a bool assigned over the
    submodule), one named COMPILED_PARAMETERS one whose constructor called the dict."""
    text = (f"vibench: 1\nname: M\ninputs: {{x: {{shape: [B, 3]}}}}\n"
            f"nodes: {{{name}: {{block: linear, in: x, out_features: 2}}}}\noutputs: {{y: {name}}}\n")
    with pytest.raises(vibench.SpecError) as err:
        vibench.check(text=text)
    (diag,) = err.value.diagnostics
    assert diag.code == "E106" and diag.message == f"node name `{name}` is reserved"


def test_the_names_a_model_class_holds_are_reserved_for_it() -> None:
    """Every attribute an emitted model (and its composite classes) holds beyond nn.Module's and its
    nodes' is a name no node may take, so a new one cannot collide with a node unnoticed."""
    import torch

    from vibench.compiler import registry
    from vibench.compiler.resolve_decls import RESERVED_NAMES

    natives = {getattr(n, "__name__", "") for b in registry.all_blocks().values() for n in b.natives}
    plain = set(dir(torch.nn.Module())) | set(vars(torch.nn.Module()))
    checked = set()
    for template in ("isfm/M_01_ISFM", "cnn/ResNet1D", "transformer/Autoformer"):
        for module in vibench.build(template).modules():
            cls = type(module)
            if not cls.__module__.startswith("vibench.models.") or cls.__name__ in natives:
                continue  # torch's layers, and the blocks' own classes (leaves: no node is their attribute)
            own = (set(vars(cls)) | set(vars(module))) - plain - set(module._modules)
            own = {n for n in own if not n.startswith("_")}
            assert own <= RESERVED_NAMES | {"forward"}, (cls.__name__, own - RESERVED_NAMES)
            checked.add(cls.__name__)
    assert {"M_01_ISFM", "ResNet1D", "BasicBlock", "Autoformer"} <= checked


def test_non_identifiers_are_refused_by_the_builders() -> None:
    for bad in ("os.system('x')", "a b", "1x", "class"):
        with pytest.raises(ValueError):
            c.ref(bad)


# -- every emitted file passes ruff ------------------------------------------------------------


def _emitted(tmp_path) -> list[str]:
    files = []
    for spec, golden, params in [(e, os.path.basename(e) + ".py", {}) for e in EXAMPLES] + LIBRARY_CASES:
        target = os.path.join(ROOT, spec) if spec.endswith((".yaml", ".json")) else spec  # else a library name
        source = vibench.compile_spec(target, params=params or None).source
        path = tmp_path / golden.replace(".yaml", "").replace(".json", "")
        path.write_text(source)
        files.append(str(path))
    return files


def test_every_emitted_file_passes_ruff_check_and_format(tmp_path) -> None:
    files = _emitted(tmp_path)
    fmt = _ruff("format", "--check", "--config", CONFIG, "--no-cache", *files)
    assert fmt.returncode == 0, fmt.stdout[-4000:]
    check = _ruff("check", "--no-cache", "--isolated", "--line-length", "120", "--select", "E,F,W,I,B,UP",
                  "--target-version", "py310", *files)
    assert check.returncode == 0, check.stdout[-4000:]


# -- one class per structure, parameterised ----------------------------------------------------


def _classes(source: str) -> dict[str, ast.ClassDef]:
    return {n.name: n for n in ast.parse(source).body if isinstance(n, ast.ClassDef)}


def _init_args(cls: ast.ClassDef) -> list[str]:
    init = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__")
    return [a.arg for a in init.args.args[1:]]


def test_resnet_has_one_basic_block_class_with_arguments() -> None:
    source = vibench.compile_spec("cnn/ResNet1D", params={"num_classes": 4}).source
    classes = _classes(source)
    assert sorted(classes) == ["BasicBlock", "ResNet1D"]  # the shortcut, a chain of layers, is written inline
    assert _init_args(classes["BasicBlock"]) == ["C", "channels", "stride"]
    assert "if stride != 1 or C != channels\n            else nn.Identity()" in source
    assert "nn.Sequential(BasicBlock(64, 128, stride=2), BasicBlock(128, 128))" in source


def test_a_class_reads_its_arguments_where_the_spec_does() -> None:
    """A value the same in every use is still written as the argument the spec reads there, so the class
    means what its signature says: TCN's blocks all have 25 channels (`cout`), and the only projected
    shortcut reads a 1-channel input (`C`); a strided BasicBlock's inline shortcut has `stride`."""
    import importlib.util
    import sys
    import tempfile

    import torch

    tcn = vibench.compile_spec("cnn/TCN", params={"num_classes": 4}).source
    assert _init_args(_classes(tcn)["TemporalBlock"]) == ["C", "cout", "dilation"]
    assert "self.conv1 = WeightNormCausalConv1d(C, cout, 2, dilation=dilation)" in tcn
    assert "self.conv2 = WeightNormCausalConv1d(cout, cout, 2, dilation=dilation)" in tcn
    assert "self.downsample = nn.Conv1d(C, cout, kernel_size=1) if C != cout else nn.Identity()" in tcn
    resnet = vibench.compile_spec("cnn/ResNet1D", params={"num_classes": 4}).source
    assert "conv=nn.Conv1d(C, channels, kernel_size=1, stride=stride, bias=False)" in resnet

    with tempfile.TemporaryDirectory() as folder:  # the classes work with values the model does not use
        path = os.path.join(folder, "tcn_model.py")
        with open(path, "w") as fh:
            fh.write(tcn)
        spec = importlib.util.spec_from_file_location("tcn_model", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules.pop("tcn_model", None)
        spec.loader.exec_module(module)
        block = module.TemporalBlock(3, 8, 2)
        assert block(torch.randn(2, 3, 50)).shape == (2, 8, 50)
        assert block.downsample.in_channels == 3 and block.conv2.weight_v.shape == (8, 8, 2)


def test_bottleneck_resnet_keeps_the_reference_structure() -> None:
    source = vibench.compile_spec("cnn/ResNet1D", params={"num_classes": 4, "block_type": "bottleneck"}).source
    assert sorted(_classes(source)) == ["Bottleneck", "ResNet1D"]
    assert "nn.Conv1d(channels, 4 * channels, kernel_size=1, bias=False)" in source


def test_a_repeat_whose_count_differs_between_uses_is_a_loop() -> None:
    source = vibench.compile_spec("mlp/DenseNetMLP").source
    classes = _classes(source)
    assert len(classes) <= 6, sorted(classes)
    assert "for i in range(6)]" in source and "for i in range(24)]" in source


def test_copies_written_out_read_no_loop_variable() -> None:
    """Two dense blocks of 5 layers: the same count in both uses, so the copies are written out, each
    with its own width (a formula over the copy index `i` is for a loop only: it was written here,
    where no `i` exists, and the file failed with NameError; found by tests/test_library_sweep.py)."""
    import torch

    text = "vibench: 1\nname: Dense\nextends: mlp/DenseNetMLP\nwith: {block_config: [5, 5], output_dim: 2}\n"
    source = vibench.compile_spec(text=text).source
    assert "DenseLayer(64), DenseLayer(96), DenseLayer(128), DenseLayer(160), DenseLayer(192)" in source
    namespace: dict = {}
    exec(compile(source, "dense_model.py", "exec"), namespace)  # noqa: S102 - the file just emitted
    model = namespace["Dense"]().eval()
    assert model(torch.randn(2, 16, 1)).shape == (2, 16, 2)


_EQUAL_COPIES = """\
vibench: 1
name: Rep
blocks:
  Stack:
    params: {width: {type: int}, depth: {type: int, default: 3}}
    inputs: {x: {shape: [B, L, width]}}
    nodes:
      norms: {block: layer_norm, in: x, repeat: depth}
      sum: {block: add, in: [norms, x]}
    outputs: {y: sum}
inputs: {x: {shape: [B, 16, 8]}}
nodes:
  a: {block: Stack, in: x, width: 8}
  p: {block: linear, in: a, out_features: 4}
  b: {block: Stack, in: p, width: 4}
  norms: {block: layer_norm, in: b, repeat: 4}
outputs: {y: norms}
"""


def test_equal_copies_are_a_comprehension() -> None:
    """Three or more copies written the same are `[copy for _ in range(n)]`, with the spec's count
    where a class has it, the number in the model class; the state_dict keys are the list's."""
    import torch

    source = vibench.compile_spec(text=_EQUAL_COPIES).source
    assert "self.norms = nn.Sequential(*[nn.LayerNorm(width) for _ in range(depth)])" in source  # class Stack
    assert "self.norms = nn.Sequential(*[nn.LayerNorm(4) for _ in range(4)])" in source  # the model
    assert "nn.LayerNorm(width), nn.LayerNorm(width)" not in source
    namespace: dict = {}
    exec(compile(source, "rep_model.py", "exec"), namespace)  # noqa: S102 - the file just emitted
    model = namespace["Rep"]().eval()
    assert {"a.norms.2.weight", "b.norms.2.weight", "norms.3.weight"} <= set(model.state_dict())
    assert "a.norms.3.weight" not in model.state_dict()
    assert model(torch.randn(2, 16, 8)).shape == (2, 16, 4)
    library = vibench.compile_spec("mlp/MLPMixer").source
    assert "self.mixer_blocks = nn.Sequential(*[MixerBlock() for _ in range(8)])" in library


def _forward_of(source: str, cls: str) -> str:
    return source.split(f"class {cls}(")[1].split("    def forward(")[1].split("\n\n")[0]


def test_a_returned_chain_is_named_out_where_one_value_is_returned() -> None:
    """The chain of values a class builds and returns reads `out = ...` (it was named after its last node:
    `task_head = self.embedding(x, fs)`); a chain that took over an input keeps the input's name, and the
    outputs of a class with several keep their nodes' names."""
    model = vibench.compile_spec("isfm/M_01_ISFM", params={"task_head": "H_03_Linear_pred"}).source
    forward = _forward_of(model, "M_01_ISFM")
    assert "out = self.embedding(x, fs)" in forward and "out = self.backbone(out)" in forward
    line = _line_of("isfm/M_01_ISFM.yaml", "  task_head: {block:")
    tail = f"out = self.task_head(out, x)  # [B, L, C]  M_01_ISFM.yaml:{line}\n        return out"
    assert forward.rstrip().endswith(tail)
    mamba = _forward_of(vibench.compile_spec("isfm/backbone/B_05_Mamba").source, "ResidualBlock")
    assert "-> torch.Tensor:\n        out = self.norm(x)" in mamba and "out += x" in mamba
    two = vibench.compile_spec(os.path.join(ROOT, "examples", "fault_autoencoder.yaml")).source
    assert 'return {"logits": classifier, "signal": reconstruction}' in two


def test_no_del_where_only_in_place_lines_follow() -> None:
    """`del x` frees memory for the lines after it: ResNet's `out += downsample` then `torch.relu_(out)` allocate
    nothing, so none is written; before an in-place dropout (its mask is allocated) it stays."""
    basic = _forward_of(vibench.compile_spec("cnn/ResNet1D").source, "BasicBlock")
    assert basic.rstrip().endswith("out += downsample  # [B, channels, (L - 1) // stride + 1]  ResNet1D.yaml:58\n"
                                   "        out = torch.relu_(out)  # [B, channels, (L - 1) // stride + 1]  "
                                   "ResNet1D.yaml:59\n        return out")
    cell = _forward_of(vibench.compile_spec("rnn/ConvLSTM").source, "ConvLSTMCell")
    assert "del gates\n        gates_2 = F.dropout(gates_2, p=0.1, training=self.training, inplace=True)" in cell


_GUARDED = """vibench: 1
name: M
inputs: {x: {shape: [B, 4]}}
blocks:
  Unit:
    params: {a: {type: int}, b: {type: int}}
    inputs: {x: {shape: [B, 4]}}
    nodes:
      lin: {block: linear, in: x, out_features: 4, when: "${a != 1}"}
      act: {block: relu, in: lin, when: "${%s != 1}"}
      out: {block: linear, in: act, out_features: 4}
    outputs: {y: out}
nodes:
  u1: {block: Unit, in: x, a: 1, b: 2}
  u2: {block: Unit, in: u1, a: 2, b: 2}
  u3: {block: Unit, in: u2, a: 2, b: 1}
outputs: {y: u3}
"""


@pytest.mark.parametrize(("guard", "in_place"), [("a", True), ("b", False)])
def test_an_optional_node_works_in_place_on_a_value_made_under_the_same_when(guard: str, in_place: bool) -> None:
    """A node under `when` may overwrite the output of a node under the same `when` text (they are on and off
    together: MobileNet1D's expand_act after expand_bn); under another `when` the producer may be off where the
    reader runs, and its "output" is then the class's input, which must stay untouched."""
    import torch

    text = _GUARDED % guard
    source = vibench.compile_spec(text=text).source
    unit = _forward_of(source, "Unit")
    assert ("torch.relu_(" in unit) is in_place and ("torch.relu(" in unit) is not in_place
    # Values and gradients equal those of the model written without in-place work, input left as it was.
    model = vibench.build(text=text)
    plain = vibench.build(text=text, inplace=False)
    plain.load_state_dict(model.state_dict())
    x = torch.randn(3, 4, requires_grad=True)
    kept = x.detach().clone()
    y = model(x)
    y.sum().backward()
    grads = [p.grad.clone() for p in model.parameters()]
    x2 = kept.clone().requires_grad_(True)
    y2 = plain(x2)
    y2.sum().backward()
    torch.testing.assert_close(y, y2)
    torch.testing.assert_close(x.detach(), kept)
    for g, p in zip(grads, plain.parameters(), strict=True):
        torch.testing.assert_close(g, p.grad)
    assert "relu_" not in vibench.compile_spec(text=text, inplace=False).source.split("class Unit")[1]


def test_a_shared_class_comments_shapes_true_in_every_use() -> None:
    """A layer that some uses replace by nn.Identity() still runs there and gives its input: the shape
    comment covers those uses (a stride-1 BasicBlock's downsample keeps L; it said (L + 1) // 2)."""
    source = vibench.compile_spec("cnn/ResNet1D").source
    assert "downsample = self.downsample(x)  # [B, channels, (L - 1) // stride + 1]  ResNet1D.yaml:56" in source
    assert "out = self.conv1(x)  # [B, channels, (L - 1) // stride + 1]  ResNet1D.yaml:50" in source
    informer = vibench.compile_spec("transformer/Informer", params={"distil": True}).source
    assert "x = self.distil(x)  # [B, (L + 1) // 2 if distil else L, 256]  Informer.yaml:105" in informer
    # A line under `if self.with_<node>:` runs only where the node is on: its shape is that of those uses.
    mobile = vibench.compile_spec("cnn/MobileNet1D").source
    assert "if self.with_residual:\n            out += x  # [B, C, L]  MobileNet1D.yaml:119" in mobile


def test_a_size_that_differs_between_uses_is_explained_by_the_class_argument() -> None:
    """A strided length is written with the argument (checked at every L in 1..256 in every use); a
    flag splits the uses in two; anything else stays `?`."""
    from vibench.compiler.codegen.formula import explain_symbolic
    from vibench.compiler.symbolic import Expr

    L = Expr.symbol("L")
    uses = [{"stride": 1, "C": 8}, {"stride": 2, "C": 8}, {"stride": 4, "C": 16}]
    assert explain_symbolic([L, (L + 1) // 2, (L + 3) // 4], uses) == "(L - 1) // stride + 1"
    assert explain_symbolic([L, L // 2, L // 4], uses) == "L // stride"
    assert explain_symbolic([L * 1, L * 2, L * 4], uses) == "L * stride"
    assert explain_symbolic([L, (L + 1) // 2, L // 4], uses) is None  # no one form fits every use
    flags = [{"distil": True}, {"distil": False}, {"distil": True}]
    assert explain_symbolic([(L + 1) // 2, L, (L + 1) // 2], flags) == "(L + 1) // 2 if distil else L"
    assert explain_symbolic([L, L + 1, L + 2], [{"i": 0}, {"i": 1}, {"i": 3}]) is None
    # Integer sizes: one argument plus, or times, the same constant in every use (comments only).
    from vibench.compiler.codegen.formula import explain_offset

    assert explain_offset([96, 160], [{"D": 64}, {"D": 128}], ["D"]) == "D + 32"
    assert explain_offset([12, 24], [{"C": 4}, {"C": 8}], ["C"]) == "3 * C"
    assert explain_offset([12, 25], [{"C": 4}, {"C": 8}], ["C"]) is None
    dense = vibench.compile_spec("mlp/DenseNetMLP").source
    assert "dense = torch.cat([x, bottleneck], dim=-1)  # [B, L, D + 32]  DenseNetMLP.yaml:64" in dense


@pytest.mark.parametrize(("node", "imported"), [
    ("{block: constant_pad, in: x, dim: 0}", False),  # a pad of width 0 is its input
    ("{block: constant_pad, in: x, dim: 0, before: 1}", True),
    ("{block: relu, in: x}", False),
    ("{block: gelu, in: x}", True),
])
def test_functional_is_imported_only_when_the_code_calls_it(node: str, imported: bool) -> None:
    text = f"vibench: 1\nname: M\ninputs: {{x: {{shape: [2, 3]}}}}\nnodes:\n  n: {node}\noutputs: {{y: n}}\n"
    source = vibench.compile_spec(text=text).source
    assert ("import torch.nn.functional as F" in source) is imported
    assert ("F." in source.split("class M(")[1]) is imported


def test_a_node_whose_value_is_its_input_writes_no_line() -> None:
    """A pad of width 0 is its input: no `x = x` in forward, and the next node reads the same variable."""
    import torch

    text = ("vibench: 1\nname: M\ninputs: {x: {shape: [B, 3]}}\nnodes:\n  a: {block: relu, in: x}\n"
            "  p: {block: constant_pad, in: a, dim: 1}\n  g: {block: gelu, in: p}\noutputs: {y: g}\n")
    source = vibench.compile_spec(text=text).source
    body = source.split("def forward")[1]
    assert "x = x" not in body and "x = torch.relu(x)" in body and "x = F.gelu(x)" in body
    x = torch.randn(4, 3)
    torch.testing.assert_close(vibench.build(text=text)(x), torch.nn.functional.gelu(torch.relu(x)))


# -- free parameters -----------------------------------------------------------------------------


def test_the_model_class_takes_a_free_num_classes_and_refuses_structural_changes() -> None:
    model_cls = type(vibench.build("cnn/ResNet1D", num_classes=4))
    assert model_cls().classifier.out_features == 4
    assert model_cls(num_classes=7).classifier.out_features == 7
    assert model_cls(initial_channels=64).conv1.out_channels == 64  # the compiled value is accepted
    with pytest.raises(ValueError, match="initial_channels=32 differs from the value this file was compiled"):
        model_cls(initial_channels=32)
    with pytest.raises(ValueError, match="num_classes=0"):
        model_cls(num_classes=0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'widht'") as refused:
        model_cls(widht=3)
    assert "(takes: ['num_classes', 'input_dim'," in str(refused.value)  # what a typo could have meant


@pytest.mark.parametrize(("bounds", "refused", "accepted", "wanted"), [
    ("gt: 0, lt: 1", [0.0, 1.0, 1, -0.5, True, "0.5"], [0.5, 1e-9], "a number > 0.0 and < 1.0"),
    # layer_norm's eps is > 0 (its field): the class refuses 0 as the compiler does (`--set rate=0.0` is E104)
    ("ge: 0, le: 1", [-0.1, 1.5, 0.0, 0], [1e-9, 1.0, 1], "a number > 0.0 and <= 1.0"),
])
def test_a_free_parameter_keeps_its_declared_bounds(bounds: str, refused: list, accepted: list, wanted: str) -> None:
    """The model class checks a free parameter as the spec and the block's field declare it: `gt`/`lt` exclude
    the bound (they were tested as `ge`/`le`, so dropout=0.0 passed `gt: 0`)."""
    text = ("vibench: 1\nname: Heads\nparams:\n  rate: {type: float, default: 0.5, " + bounds + "}\n"
            "  width: {type: int, default: 4, ge: 1}\ninputs: {x: {shape: [B, 8]}}\nnodes:\n"
            "  fc: {block: linear, in: x, out_features: width}\n  norm: {block: layer_norm, in: x, eps: rate}\n"
            "outputs: {y: fc, z: norm}\n")
    model_cls = type(vibench.build(text=text))
    for value in refused:
        with pytest.raises(ValueError, match=re.escape(f"rate={value!r} must be {wanted}")):
            model_cls(rate=value)
    for value in accepted:
        assert model_cls(rate=value).norm.eps == value
    with pytest.raises(ValueError, match=r"width=0 must be an int >= 1$"):
        model_cls(width=0)


# -- training: in-place operations never break autograd -----------------------------------------


@pytest.mark.parametrize("spec", ["cnn/ResNet1D", "cnn/MobileNet1D", "cnn/AttentionCNN", "mlp/ResNetMLP",
                                  "mlp/DenseNetMLP", "cnn/TCN", "cnn/MultiScaleCNN"])
def test_a_training_step_runs(spec: str) -> None:
    """Autograd checks every tensor it saved is unmodified (version counters): an unsound in-place
    activation or residual sum would raise here."""
    import torch

    small = {"cnn/ResNet1D": {"layers": [1, 1, 1, 1], "initial_channels": 8},
             "cnn/MobileNet1D": {"width_multiplier": 0.25}, "cnn/AttentionCNN": {"channels": [16, 32]},
             "mlp/ResNetMLP": {"hidden_dim": 16, "num_layers": 2}, "mlp/DenseNetMLP": {"block_config": [2, 2]},
             "cnn/TCN": {"num_channels": [4, 4]}, "cnn/MultiScaleCNN": {"multiscale_channels": [8]}}[spec]
    model = vibench.build(spec, num_classes=3, **small).train()
    x = torch.randn(4, 256, 1, requires_grad=True)
    model(x).square().mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters() if p.requires_grad)


@settings(max_examples=25, deadline=None)
@given(chain=testing.chain_specs(max_nodes=6))
def test_emitted_files_of_generated_specs_pass_ruff(chain: testing.ChainCase, tmp_path_factory) -> None:
    source = vibench.compile_spec(text=chain.text, inputs=chain.bindings).source
    path = tmp_path_factory.mktemp("gen") / "model.py"
    path.write_text(source)
    fmt = _ruff("format", "--check", "--diff", "--config", CONFIG, "--no-cache", str(path))
    assert fmt.returncode == 0, fmt.stdout[-3000:]
    check = _ruff("check", "--no-cache", "--isolated", "--line-length", "120", "--select", "E,F,W,I,B,UP",
                  "--target-version", "py310", str(path))
    assert check.returncode == 0, check.stdout[-3000:]


@pytest.mark.parametrize(("dim", "out", "shape", "expected"), [
    ("${-1 + i}", 2, (1, 12, 29), (2, 12, 2)),  # copy 0 a plain module call, copy 1 along dim 0
    ("${i}", 3, (2, 3, 5), (3, 3, 5)),  # both along another dim than the last, each its own
])
def test_repeated_copies_whose_calls_differ_get_a_line_each(dim: str, out: int, shape: tuple, expected: tuple) -> None:
    """`repeat` of a block whose forward expression depends on the copy (linear's `dim` from `i`): each copy
    runs its own expression with its own module. One nn.Sequential, or one loop, ran copy 0's expression
    for every copy (found by the fuzz campaign, seed 53)."""
    import torch

    text = ("vibench: 1\nname: Mapped\ninputs: {x: {shape: [B, C, L]}}\n"
            f"nodes: {{lin: {{block: linear, in: x, repeat: 2, out_features: {out}, dim: '{dim}'}}}}\n"
            "outputs: {y: lin}\n")
    source = vibench.compile_spec(text=text, inputs={"x": shape}).source
    assert "nn.ModuleList([nn.Linear(" in source and "self.lin[1]" in source, source
    model = vibench.build(text=text, inputs={"x": shape})
    assert tuple(model(torch.randn(shape)).shape) == expected


def test_side_by_side_copies_whose_calls_differ_run_their_own() -> None:
    """`for_each` copies of a block whose forward expression depends on the item (linear's `dim`): each
    runs its own expression with its own module. Every copy ran copy 0's (found by the fuzz campaign,
    seed 59; tests/regressions/runtime-failure-f13f619031.yaml)."""
    import torch

    text = ("vibench: 1\nname: Mapped\ninputs: {x: {shape: [B, C, L]}}\n"
            "nodes: {lin: {block: linear, in: x, for_each: [2, 1], out_features: 3, dim: '${item}'}}\n"
            "outputs: {by_length: lin.0, by_channel: lin.1}\n")
    model = vibench.build(text=text, inputs={"x": (4, 5, 6)})
    x = torch.randn(4, 5, 6)
    out = model(x)
    assert tuple(out["by_length"].shape) == (4, 5, 3) and tuple(out["by_channel"].shape) == (4, 3, 6)
    torch.testing.assert_close(out["by_channel"], model.lin[1](x.movedim(1, -1)).movedim(-1, 1))


def _line_of(spec: str, start: str) -> int:
    """The line of the library spec ``spec`` that starts with ``start`` (a node's key), 1-based."""
    from vibench.compiler.spec_files import LIBRARY_DIR

    lines = open(f"{LIBRARY_DIR}/{spec}", encoding="utf-8").read().splitlines()
    return next(k for k, text in enumerate(lines, 1) if text.startswith(start))
