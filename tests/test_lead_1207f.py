"""Small fixes of 1207f found by the fuzz campaign.

`repeat` on a block with numbered outputs (`chunk`) said "1 input(s) and 0 output(s)": `block.outputs` is empty
for such blocks, whose ports are `node.0`, `node.1`, ... E405 now says the block has numbered outputs.
"""

from __future__ import annotations

import pytest

import vibench
from vibench.compiler.diagnostics import SpecError

REPEATED_CHUNK = """\
vibench: 1
name: R
inputs: {x: {shape: [B, 8]}}
nodes:
  s: {block: chunk, in: x, chunks: 2, dim: 1, repeat: 2}
outputs: {y: s.0}
"""


def test_repeat_on_a_block_with_numbered_outputs_says_so() -> None:
    with pytest.raises(SpecError) as caught:
        vibench.check(text=REPEATED_CHUNK)
    (d,) = caught.value.diagnostics
    assert d.code == "E405" and d.node == "s"
    assert d.message.endswith("`chunk` has 1 input(s) and numbered outputs (`node.0`, ...)"), d.message
