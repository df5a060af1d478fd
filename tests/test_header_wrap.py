"""model.py's Regenerate comment wraps between options, never between an option and its value.

A plug-in QA pass found `... --set` ending one comment line and `# num_layers=3` starting the next: copying the
first line dropped the setting.
"""

from __future__ import annotations

import re

import vibench
from vibench.compiler.codegen.text import WIDTH

SETS = {"embedding": "E_01_HSE", "backbone": "B_04_Dlinear", "task_head": "H_03_Linear_pred", "num_patches": 16,
        "max_len": 256, "max_out": 3, "patch_size_L": 16, "hidden_dim": 8, "output_dim": 32, "act": "gelu"}


def regenerate_lines(source: str) -> list[str]:
    lines = source.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# Regenerate: "))
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("#"))
    return [line[2:] for line in lines[start:end]]


def test_an_option_and_its_value_stay_on_one_line(tmp_path):
    out = tmp_path / ("a_rather_long_output_folder_name_" * 2) / "model.py"
    out.parent.mkdir()
    result = vibench.compile_spec("isfm/M_01_ISFM", params=SETS, out_path=str(out))
    lines = regenerate_lines(result.source)
    assert len(lines) >= 2  # the case wraps
    for line in lines:
        assert len(line) + 2 <= WIDTH
        assert not re.search(r"(^|\s)(-o|-I|--set|--input)$", line), lines
        assert not re.match(r"[a-z_]+=", line), lines  # no value without its option
    joined = " ".join(lines)
    assert f"-o {out}" in "".join(lines)  # a path longer than a line is cut inside, its option kept with its start
    for key, value in SETS.items():
        assert f"--set {key}={value}" in joined
