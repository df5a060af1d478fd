"""Every spec in docs/*.md followed by the console output it gives prints that output now (1207i).

A spec block (```yaml or ```json) right before a ```text or ```console block is compiled as the docs say
(`vibench-compile FILE --check`, or the command its first line gives: `# $ vibench-compile spec.yaml --set ...`,
the file named as the output's `-->` names it), and the doc's lines must be the tool's lines. QA found two that had
drifted (E004's hint, E206's note); this keeps the rest from drifting. A block with a `-->` location is the whole
diagnostic and must appear as written, line for line; one without (an excerpt: the message and its `found:`) must
appear in order.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_PAIR = re.compile(r"```(yaml|json)\n(.*?)```\s*\n```(?:text|console)\n(.*?)```", re.S)


def _pairs() -> list[tuple[str, str, str, str]]:
    found = []
    for doc in sorted((ROOT / "docs").glob("*.md")):
        text = doc.read_text(encoding="utf-8")
        for match in _PAIR.finditer(text):
            line = text[:match.start()].count("\n") + 1
            found.append((f"{doc.name}:{line}", match.group(1), match.group(2), match.group(3)))
    return found


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip("\n").split("\n") if not line.startswith("$ ")]


def _in_order(expected: list[str], got: list[str]) -> bool:
    rest = iter(got)
    return all(any(line == seen for seen in rest) for line in expected)


@pytest.mark.parametrize(("where", "kind", "spec", "console"), _pairs(), ids=[p[0] for p in _pairs()])
def test_the_doc_shows_what_the_tool_prints(tmp_path: Path, where: str, kind: str, spec: str, console: str) -> None:
    named = re.search(r"--> (\S+?):\d", console)
    file = named.group(1) if named else f"spec.{kind}"
    args = [file, "--check"]
    command = re.match(r"#\s*\$ vibench-compile (.*)", spec)
    if command:
        args = [file if arg in ("spec.yaml", "spec.json") else arg for arg in shlex.split(command.group(1))]
    path = tmp_path / file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(spec, encoding="utf-8")
    env = {**os.environ, "VIBENCH_SPEC_PATH": "", "NO_COLOR": "1"}
    done = subprocess.run([sys.executable, "-m", "vibench", *args], cwd=tmp_path, capture_output=True, text=True,
                          env=env, timeout=120)
    got, expected = _lines(done.stdout + done.stderr), _lines(console)
    if any(line.lstrip().startswith("--> ") for line in expected):
        n = len(expected)
        assert any(got[i:i + n] == expected for i in range(len(got) - n + 1)), "\n".join(got)
    else:
        assert _in_order(expected, got), "\n".join(got)


def test_the_docs_have_such_pairs() -> None:
    """(The pattern finds them: a change of the docs' fences would leave the test above with nothing to run.)"""
    assert len(_pairs()) >= 40
