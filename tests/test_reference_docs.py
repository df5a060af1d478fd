"""The block and template reference: `--blocks NAME`, `--list NAME`, and docs/blocks.md and
docs/templates.md generated from the registry and the library (scripts/reference_docs.py, `make docs`).

The two pinned outputs were written against the registry by hand: conv1d's Params model (two
required fields, out_channels >= 1 and kernel_size >= 1; padding an int >= 0 or 'same'/'valid'...),
and its rule L_out = (L + 2*padding - dilation*(kernel_size - 1) - 1) // stride + 1, which is L - 2 for
kernel 3; ResNet1D's declared params and, at the defaults (layout BLC, input_dim 1, num_classes null:
the decoder), the output length 16 * ceil(L / 32) its doc states.
"""

from __future__ import annotations

import pytest

from scripts import reference_docs as script
from vibench.compiler import registry
from vibench.compiler.cli import main
from vibench.compiler.reference_docs import block_example, block_reference

CONV1D = """\
conv1d (convolution): 1D convolution over [B, C, L] (torch.nn.Conv1d).

shape rule:
  Output length ``(L + 2*padding - dilation*(kernel_size - 1) - 1) // stride + 1``; ``padding: same``
  keeps L (stride 1 only). ``in_channels`` is taken from the input.

inputs:  x
outputs: out

parameters:
  out_channels  int                                             required  >= 1  Output channels.
  kernel_size   int                                             required  >= 1  Kernel width.
  stride        int                                             1         >= 1  Stride.
  padding       int | 'same' | 'valid'                          0         >= 0  Zero padding on both sides, or 'same' /
                                                                                'valid'.
  dilation      int                                             1         >= 1  Spacing between kernel taps.
  groups        int                                             1         >= 1  Blocked connections; in and out channels
                                                                                must divide by it.
  bias          bool                                            true            Learnable bias.
  padding_mode  'zeros' | 'reflect' | 'replicate' | 'circular'  zeros           Padding mode.
  in_channels   int | None                                      null      >= 1  Input channels (inferred from the
                                                                                input).

example:
  vibench: 1
  name: Example
  inputs:
    x: {shape: [B, 8, L]}
  nodes:
    layer: {block: conv1d, in: x, out_channels: 4, kernel_size: 3}
  outputs:
    y: layer
  gives: x [B, 8, L] -> y [B, 4, L - 2]
  requires: L >= 3
"""

RESNET1D = """\
cnn/ResNet1D: 1D ResNet with basic or bottleneck residual blocks, PHM-Vibench's CNN/ResNet1D.

  He et al., "Deep Residual Learning for Image Recognition", CVPR 2016. A stem (conv k7/s2, batch
  norm, ReLU, max-pool k3/s2), four stages of residual blocks (basic: two 3-tap convolutions;
  bottleneck: 1x1, 3-tap, 1x1 with 4x expansion) of widths c0, 2c0, 4c0, 8c0 (c0 = initial_channels)
  and strides 1, 2, 2, 2, so the length shrinks 32-fold. Input x: [B, L, input_dim] (layout BLC, the
  reference's) or [B, input_dim, L] (BCL). With num_classes: global average pooling and a linear
  classifier give logits [B, num_classes]. Without: a decoder of transposed convolutions gives
  signal [B, L', output_dim] (BCL: [B, output_dim, L']), L' = 16 * ceil(L / 32) as in the reference
  (512 for L = 1024); match_input_length: true adds a stage so that L' = 32 * ceil(L / 32).

interface at the defaults: x [B, L, 1] -> signal [B, 16 * ((L + 31) // 32), 1]

inputs:
  x  The signal window.
outputs:
  logits  Class scores [B, num_classes].
  signal  Decoded signal [B, L', output_dim] (BLC).

parameters:
  input_dim           int         1             >= 1                       Input channels C (sensor axes) of x.
  block_type          str         basic         one of: basic, bottleneck  Residual block: basic or bottleneck.
  layers              list[int]   [2, 2, 2, 2]                             Residual blocks in each of the four
                                                                           stages.
  initial_channels    int         64            >= 1                       Width c0 of the stem and the first
                                                                           stage.
  num_classes         int | None  null          >= 1                       Classes of the classifier; null builds
                                                                           the decoder.
  output_dim          int | None  null          >= 1                       Channels of the decoded signal (null =
                                                                           input_dim).
  layout              str         BLC           one of: BLC, BCL           Axis order of x: BLC [B, L, C] or BCL
                                                                           [B, C, L].
  match_input_length  bool        false                                    Decoder with one stage per halving of
                                                                           the encoder (output length L for L a
                                                                           multiple of 32).

composite blocks:
  BasicBlock  Two 3-tap convolutions with batch norm, plus the input (or its 1x1 projection), then
              ReLU.
  Bottleneck  1x1 reduction, 3-tap convolution (strided), 1x1 expansion to 4 x channels, plus the
              input; ReLU.
  Shortcut    1x1 convolution and batch norm that match the residual's channels and length.
  Upsample    Transposed-convolution decoder; every stage and the final projection double the
              length.
  UpStage     Transposed convolution k4/s2/p1 (doubles the length), batch norm, ReLU.

example (a spec of your own):
  vibench: 1
  extends: cnn/ResNet1D
  with: {input_dim: 1, block_type: basic}

  or: vibench-compile cnn/ResNet1D --check --set input_dim=1 --set block_type=basic
"""


def test_blocks_conv1d_output_is_pinned(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--blocks", "conv1d"]) == 0
    assert capsys.readouterr().out == CONV1D


def test_list_resnet1d_output_is_pinned(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list", "cnn/ResNet1D"]) == 0
    assert capsys.readouterr().out == RESNET1D


def test_generated_pages_are_current() -> None:
    stale = script.stale()
    assert not stale, (f"{', '.join(stale)} out of date (the block registry or the spec library changed): "
                       "run `make docs`")


@pytest.mark.parametrize("name", sorted(registry.all_blocks()))
def test_every_block_example_compiles(name: str) -> None:
    example = block_example(registry.all_blocks()[name])
    assert not example.result.startswith("(does not compile"), example.result + "\n" + example.spec
    assert " -> " in example.result


@pytest.mark.parametrize(("argv", "hint"), [
    (["--blocks", "lstmm"], "did you mean `lstm`?"),
    (["--blocks", "Conv1D"], "did you mean `conv1d`?"),
    (["--list", "cnn/ResNet"], "did you mean `cnn/ResNet1D`?"),
    (["--list", "resnet1d"], "did you mean `cnn/ResNet1D`?"),
    (["--list", "/etc/passwd"], "no such template"),
    (["--list", "../../etc/passwd"], "no such template"),
    (["--blocks", "</script>\x00"], "no such block"),
])
def test_unknown_names_are_usage_errors_with_a_hint(argv: list[str], hint: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"vibench-compile: usage error: {argv[0]} ")
    assert hint in captured.err and "Traceback" not in captured.err


def test_list_and_blocks_without_a_name_keep_one_line_each(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--blocks"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [line.split()[0] for line in lines if line.startswith("  ")]
    assert names and set(names) == set(registry.all_blocks())
    assert all(line.endswith(":") for line in lines if not line.startswith("  "))
    assert main(["--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("cnn/ResNet1D ") for line in lines) and not any(line.startswith(" ") for line in lines)


def test_list_shows_the_templates_of_the_spec_path_too(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--list -I DIR` listed the library alone (and took a mistyped folder silently), though
    `--list NAME`, `extends:` and `vibench-compile NAME` find DIR's templates first."""
    import json

    tiny = ("vibench: 1\nname: Tiny\ndoc: A tiny template.\ninputs: {x: {shape: [B, 1, L]}}\n"
            "nodes: {c: {block: conv1d, in: x, out_channels: 4, kernel_size: 3}}\noutputs: {y: c}\n")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "Tiny.yaml").write_text(tiny)
    (tmp_path / "mine" / "Ext.yaml").write_text("vibench: 1\nextends: mine/Tiny\n")  # found on the spec path
    (tmp_path / "cnn").mkdir()
    (tmp_path / "cnn" / "ResNet1D.yaml").write_text(tiny)  # found before the library's
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "Hidden.yaml").write_text(tiny)
    assert main(["--list", "-I", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    library, _, ours = out.partition(f"\nin {tmp_path} (spec path):\n")
    assert ours.splitlines() == [
        "cnn/ResNet1D  A tiny template.  (x [B, 1, L] -> y [B, 4, L - 2])",
        "mine/Ext      (x [B, 1, L] -> y [B, 4, L - 2])",
        "mine/Tiny     A tiny template.  (x [B, 1, L] -> y [B, 4, L - 2])",
    ]
    resnet = next(line for line in library.splitlines() if line.startswith("cnn/ResNet1D "))
    assert resnet.endswith(f"[hidden by the one in {tmp_path}]") and "PHM-Vibench" in resnet
    assert main(["--list", "-I", str(tmp_path), "--format", "json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert [(e["name"], e["shadowed_by"]) for e in entries if e["folder"] == str(tmp_path)] == [
        ("cnn/ResNet1D", None), ("mine/Ext", None), ("mine/Tiny", None)]
    assert next(e for e in entries if e["name"] == "cnn/ResNet1D" and e["folder"] is None)["shadowed_by"] == \
        str(tmp_path)
    assert main(["--list", "-I", str(tmp_path / "nope")]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_list_and_blocks_give_the_catalogue_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    """`--format json` was ignored by --list and --blocks (text came out)."""
    import json

    from vibench.compiler.library_index import template_names

    assert main(["--list", "--format", "json"]) == 0
    templates = json.loads(capsys.readouterr().out)
    assert [t["name"] for t in templates] == template_names()
    resnet = next(t for t in templates if t["name"] == "cnn/ResNet1D")
    assert resnet["description"] and resnet["interface"].startswith("x [B, L, 1] -> ")
    assert main(["--blocks", "--format", "json"]) == 0
    blocks = json.loads(capsys.readouterr().out)
    assert {b["name"] for b in blocks} == set(registry.all_blocks())
    assert next(b for b in blocks if b["name"] == "conv1d")["category"] == registry.get("conv1d").category
    assert main(["--list", "cnn/TCN", "--format", "json"]) == 2  # one entry's reference is text
    assert "one entry's reference is text" in json.loads(capsys.readouterr().out)["usage_error"]


def test_block_reference_names_every_parameter_and_port() -> None:
    for name, block in registry.all_blocks().items():
        text = block_reference(name)
        assert text.startswith(f"{name} ({block.category}): ")
        for field in block.Params.model_fields:
            assert f"\n  {field} " in text or f"\n  {field}\n" in text, (name, field)


@pytest.mark.parametrize("name", ["vibench.compiler.reference_docs", "vibench.compiler.render"])
def test_docstring_examples(name: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
