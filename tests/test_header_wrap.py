"""model.py's Regenerate comment is the command as shell reads it back, wrapped like a shell command.

A plug-in QA pass found `... --set` ending one comment line and `# num_layers=3` starting the next: copying the
first line dropped the setting. A second pass found that a path cut across lines lost or gained a space. Now a line
that goes on ends in ` \\` (between words) or `\\` (inside a word, quotes closed and opened again), never between
an option and its value: the lines without their `# ` run in bash as the one-line command would.
"""

from __future__ import annotations

import subprocess

import pytest

import vibench
from vibench.compiler.codegen.text import WIDTH

SETS = {"embedding": "E_01_HSE", "backbone": "B_04_Dlinear", "task_head": "H_03_Linear_pred", "num_patches": 16,
        "max_len": 256, "max_out": 3, "patch_size_L": 16, "hidden_dim": 8, "output_dim": 32, "act": "gelu"}


def regenerate_lines(source: str) -> list[str]:
    lines = source.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# Regenerate: "))
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("#"))
    return [line[2:] for line in lines[start:end]]


def shell_words(lines: list[str]) -> list[str]:
    """The words bash reads from the comment's lines (`Regenerate: ` dropped)."""
    text = "\n".join(lines).removeprefix("Regenerate: ")
    done = subprocess.run(["bash", "-c", f"set -- {text}\nprintf '%s\\0' \"$@\""], capture_output=True, check=True)
    return done.stdout.decode("utf-8", "surrogateescape").split("\0")[:-1]


@pytest.mark.parametrize("folder", [
    "a_rather_long_output_folder_name_" * 5,  # cut inside a plain word
    "a folder's name with spaces, 'quotes' and \"more\" " * 3,  # cut inside '...'
    "tab\there and \x1b escapes and é " * 4,  # cut inside $'...'
])
def test_the_comment_runs_as_the_command(tmp_path, folder):
    out = tmp_path / folder / "model.py"
    out.parent.mkdir()
    result = vibench.compile_spec("isfm/M_01_ISFM", params=SETS, out_path=str(out))
    lines = regenerate_lines(result.source)
    assert len(lines) >= 3  # the case wraps, and cuts the path
    assert all(len(line) + 2 <= WIDTH for line in lines)
    assert all(line.endswith("\\") for line in lines[:-1])
    words = shell_words(lines)
    assert words[:4] == ["vibench-compile", "isfm/M_01_ISFM", "-o", str(out)]
    assert words[4:] == [w for k, v in SETS.items() for w in ("--set", f"{k}={v}")]
    for line in lines[1:]:  # no value without its option at the start of a line
        assert not line.startswith(tuple(f"{k}=" for k in SETS))
