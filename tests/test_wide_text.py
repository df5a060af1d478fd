"""Wide text in model.py: CJK, emoji and combining accents in docs, string parameter values, metadata and the
header's file names and ``--set`` values.

A QA pass found model.py failing ``ruff check`` (E501, lines of 134-157 columns) and ``ruff format --check`` for a
``--set label=`` of 59 CJK characters or 60 emoji, and the format check failing for 100 decomposed ``é``
(``e`` + U+0301), whose header line was cut between an ``e`` and its accent: the emitter measured lines with
``len()``. Ruff measures them in columns (the `unicode-width` crate: a CJK character or an emoji takes two, a
combining accent none); the emitter now does too (``vibench.compiler.codegen.text.width``) and never cuts a line
between a character and the marks that follow it. The oracle is ruff itself, as in tests/test_codegen.py.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path
from typing import Any

import pytest

import vibench
from tests.helpers import ROOT, load_file_module
from tests.test_plugins_1206b import HEADER
from vibench.compiler.codegen.text import WIDTH, long_string

RUFF = os.path.join(os.path.dirname(sys.executable), "ruff")
CONFIG = os.path.join(ROOT, "pyproject.toml")

TEXTS = {
    "cjk": "模" * 59,  # the QA pass's cases
    "emoji": "😀" * 60,
    "combining": "e\u0301" * 100,
    "combining_odd": "x" + "e\u0301" * 300,  # long enough to be cut; both parities of a cut by characters
    "combining_even": "xy" + "e\u0301" * 300,
    "cjk_words": " ".join(["卷积神经网络"] * 40),
    "mixed": ("模型 😀 e\u0301 👍🏽 🇯🇵 ที่ 각 ｘ 'q' \"dq\" \\ ä\u0308\u0301 " * 12).strip(),
    "ideographic_space": "模型 \u3000" * 80 + "end",  # a docstring line that starts with U+3000 (ruff drops it)
    "zwj": "👨\u200d👩\u200d👧🇯🇵" * 30,
}

SPEC = """vibench: 1
name: Wide
doc: {doc}
params:
  label: {{type: str, default: x}}
  n: {{type: int, default: 4}}
inputs: {{x: {{shape: [B, 16]}}}}
nodes:
  fc: {{block: linear, in: x, out_features: "${{n}}", doc: {doc}}}
outputs: {{y: fc}}
metadata: {{note: {doc}, n: 3}}
"""


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([RUFF, *args], capture_output=True, text=True)


def _folder_name(text: str) -> str:
    """The start of ``text`` as a folder name (at most 150 bytes, no slash)."""
    name = ""
    for ch in text.replace("/", "_"):
        if len((name + ch).encode()) > 150:
            break
        name += ch
    return name.strip() or "x"


@pytest.fixture(scope="module")
def emitted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    """Each text as the spec's doc, a node's doc, a metadata value and ``--set label=``, the spec and the output
    in a folder named with it (the header's two file names): name -> (model.py, its source)."""
    root = tmp_path_factory.mktemp("wide")
    out = {}
    for name, text in TEXTS.items():
        folder = root / name / _folder_name(text)
        folder.mkdir(parents=True)
        spec = folder / "spec.yaml"
        spec.write_text(SPEC.format(doc=json.dumps(text, ensure_ascii=False)), encoding="utf-8")
        path = folder / "model.py"
        source = vibench.compile_spec(str(spec), params={"label": text}, out_path=str(path)).source
        path.write_text(source, encoding="utf-8")
        out[name] = (path, source)
    return out


@pytest.mark.parametrize("name", list(TEXTS))
def test_the_file_passes_ruff_check_and_format(emitted: dict[str, tuple[Path, str]], name: str) -> None:
    path, source = emitted[name]
    fmt = _ruff("format", "--check", "--diff", "--config", CONFIG, "--no-cache", str(path))
    assert fmt.returncode == 0, fmt.stdout[-4000:] + fmt.stderr[-2000:]
    check = _ruff("check", "--no-cache", "--isolated", "--line-length", "120", "--select", "E,F,W,I,B,UP",
                  "--target-version", "py310", str(path))
    assert check.returncode == 0, check.stdout[-4000:]
    from vibench.compiler.codegen.text import width

    # (ruff passes a long line without spaces, one word; the emitter keeps every line in the width anyway)
    assert all(width(line) <= WIDTH for line in source.splitlines())


@pytest.mark.parametrize("name", list(TEXTS))
def test_the_text_comes_back_exactly(emitted: dict[str, tuple[Path, str]], name: str) -> None:
    path, _ = emitted[name]
    text = TEXTS[name]
    module = load_file_module(str(path), f"wide_text_{name}")
    cls: Any = module.Wide
    assert cls.COMPILED_PARAMETERS["label"] == text
    assert cls.METADATA["note"] == text
    # The docstring holds the text, wrapped (white space between lines) and cleaned (a zero-width joiner is `?`).
    assert "".join(text.replace("\u200d", "?").split()) in "".join(cls.__doc__.split())


@pytest.mark.parametrize("name", list(TEXTS))
def test_no_line_is_cut_before_a_mark(emitted: dict[str, tuple[Path, str]], name: str) -> None:
    """A wrapped comment or docstring line, a string's next piece, a header line that goes on inside a quoted
    word: none starts with a combining mark (the character it belongs to is on the line before)."""
    _, source = emitted[name]
    for line in source.splitlines():
        start = line.lstrip(" #$'\"")
        assert not start or unicodedata.category(start[0]) not in ("Mn", "Me", "Mc"), line
        assert "\u200d\\" not in line and "\u200d'\\" not in line, line  # (a joiner is written `\u200d`)


@pytest.mark.parametrize("name", [n for n in TEXTS if n != "zwj"])  # (bash writes `\u200d` by the locale)
def test_the_header_runs_as_the_command(emitted: dict[str, tuple[Path, str]], name: str) -> None:
    path, source = emitted[name]
    lines = source.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# Regenerate: "))
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("#"))
    command = "\n".join(line[2:] for line in lines[start:end]).removeprefix("Regenerate: ")
    done = subprocess.run(["bash", "-c", f"set -- {command}\nprintf '%s\\0' \"$@\""], capture_output=True,
                          check=True)
    words = done.stdout.decode("utf-8", "surrogateescape").split("\0")[:-1]
    assert words == ["vibench-compile", str(path.parent / "spec.yaml"), "-o", str(path), "--set",
                     f"label={TEXTS[name]}"]


@pytest.mark.parametrize("name", list(TEXTS))
def test_long_string_pieces_fit_and_keep_marks_with_their_character(name: str) -> None:
    from vibench.compiler.codegen.text import breaks_at, width

    text = TEXTS[name]
    pieces = long_string(text, 60)
    values = [ast.literal_eval(p) for p in pieces]
    assert "".join(values) == text
    assert all(width(p) <= 60 for p in pieces), pieces
    at = 0
    for value in values[:-1]:
        at += len(value)
        assert breaks_at(text, at), (value, text[at:at + 3])


SAMPLES = ["模", "😀", "e\u0301", "\u3000", "👍🏽", "🇯🇵", "ที่", "\u1100\u1161\u11a8", "ｘ", "ﾞ", "\u4dc0", "Ω",
           "\u2764\ufe0f", "\u0644\u0627", "\U0001f468\u200d\U0001f469", "a\u0308\u0301", "x"]


def test_width_is_ruffs(tmp_path: Path) -> None:
    """The emitter's column count of a line is the one ruff's E501 reports."""
    from vibench.compiler.codegen.text import width

    lines = ["# " + "a" * 119 + " " + sample * 10 for sample in SAMPLES]
    path = tmp_path / "widths.py"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = _ruff("check", "--no-cache", "--isolated", "--select", "E501", "--line-length", "120",
                 "--output-format", "json", str(path))
    reported = {d["location"]["row"]: int(re.search(r"\((\d+) > 120\)", d["message"]).group(1))  # type: ignore[union-attr]
                for d in json.loads(done.stdout)}
    assert reported == {k: width(line) for k, line in enumerate(lines, 1)}


def test_a_header_word_one_column_past_the_room_is_cut_before_the_next_word(tmp_path: Path) -> None:
    """`-o PATH` of 117 columns followed by `--set`: the line with its ` \\` was 121 columns (E501)."""
    out = "/tmp/" + "p" * 106 + ".py"
    assert len(f"-o {out}") == 117
    source = vibench.compile_spec(text=SPEC.format(doc="Doc."), params={"label": "x"}, out_path=out).source
    header = [line for line in source.splitlines() if line.startswith("#")]
    assert all(len(line) <= WIDTH for line in header), header


def test_a_docstring_cut_keeps_each_backslash_escape_whole() -> None:
    """A cut after `\\\\` (one backslash, escaped) left a lone `\\` at the line's end: the line went on into the
    next, whose `\\\\b` read as a backspace. (Found with the width fix; ASCII text, the same before it.)"""
    from vibench.compiler.codegen.layout import docstring

    for text in ["a" * 108 + "\\\\" + "b" * 20, "a" * 109 + "\\\\" + "b" * 20, "a" * 108 + '\\"' + "b" * 20]:
        namespace: dict[str, Any] = {}
        exec("def f():\n    " + "\n    ".join(docstring([text], 4)) + "\n", namespace)
        assert "".join(namespace["f"].__doc__.split()) == text


def test_a_docstring_line_indented_past_the_width_is_wrapped() -> None:
    """A doc line indented by more than the docstring's room (130 spaces) made the wrapper loop forever."""
    code = ("from vibench.compiler.codegen.layout import docstring\n"
            "print(len(docstring(['Head', ' ' * 130 + 'x' * 300 + ' ab cd', ' ' * 100 + 'y' * 300], 4)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0 and int(done.stdout) > 3, done.stderr[-2000:]


LABEL_PLUGIN = HEADER + '''

class LabelParams(BlockParams):
    label: str = Field("x", description="A name kept on the layer.")


class Labelled(nn.Module):
    def __init__(self, label: str = "x") -> None:
        super().__init__()
        self.label = label

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


@register
class LabelledBlock(Block):
    """Keeps a label."""

    name, Params, category, natives = "p_label", LabelParams, "qa", (Labelled,)

    def infer(self, p, ins, ctx):
        return [ins[0]]

    def init_code(self, p):
        return c.call("Labelled", label=p.label)
'''


def test_a_layer_line_with_wide_text_is_measured_in_columns(tmp_path: Path) -> None:
    """emit.py wrote a layer's constructor on one line when its characters fit: 50 CJK characters of a plug-in's
    string setting made a 150-column line (ruff E501)."""
    from tests.test_plugins_loading import install, run_python

    site = tmp_path / "site"
    install(site, "p_label", {"p_label/__init__.py": LABEL_PLUGIN}, ["label = p_label"])
    label = "振" * 50
    (tmp_path / "s.yaml").write_text("vibench: 1\nname: M\ninputs: {x: {shape: [B, 1, L]}}\nnodes:\n"
                                     f"  n0: {{block: p_label, in: x, label: {label}}}\noutputs: {{y: n0}}\n",
                                     encoding="utf-8")
    done = run_python("from vibench.compiler.cli import main; raise SystemExit(main(['s.yaml', '-o', 'm.py']))",
                      [site], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    path = str(tmp_path / "m.py")
    fmt = _ruff("format", "--check", "--diff", "--config", CONFIG, "--no-cache", path)
    assert fmt.returncode == 0, fmt.stdout[-4000:]
    check = _ruff("check", "--no-cache", "--isolated", "--line-length", "120", "--select", "E,F,W,I,B,UP",
                  "--target-version", "py310", path)
    assert check.returncode == 0, check.stdout[-4000:]
    from vibench.compiler.codegen.text import width

    source = (tmp_path / "m.py").read_text(encoding="utf-8")
    assert label in source and all(width(line) <= WIDTH for line in source.splitlines())
