"""The README's first spec and the outputs it shows are what vibench really prints; every spec
example of the README and of the hand-written docs (docs/*.md) compiles as written; links between
them resolve; the generated tables keep their markers."""

from __future__ import annotations

import glob
import os
import re

import pytest
import yaml

from tests.helpers import ROOT
from vibench.compiler.cli import main

README = os.path.join(ROOT, "README.md")
# docs/blocks.md and docs/templates.md are generated from the registry and the library and tested by
# tests/test_reference_docs.py; every other page is written by hand, like the README.
GENERATED = {"blocks.md", "templates.md"}
ALL_PAGES = [README, *sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))]
PAGES = [p for p in ALL_PAGES if os.path.basename(p) not in GENERATED]
# docs/errors.md shows broken specs on purpose (tests/test_diagnostics.py checks it).
EXAMPLE_PAGES = [p for p in PAGES if os.path.basename(p) != "errors.md"]


def _readme() -> str:
    with open(README, encoding="utf-8") as fh:
        return fh.read()


def _tiny_spec() -> str:
    match = re.search(r"Save it as `tiny.yaml`:\n\n```yaml\n(.*?)```", _readme(), re.S)
    assert match, "the README lost its first spec"
    return match.group(1)


def _console(command: str) -> list[str]:
    text = _readme()
    start = text.index(f"$ {command}\n") + len(f"$ {command}\n")
    lines = []
    for line in text[start:].splitlines():
        if line.startswith("$ ") or line.startswith("```"):
            break
        lines.append(line)
    return lines


@pytest.fixture
def tiny(tmp_path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.yaml").write_text(_tiny_spec())
    return tmp_path


def test_check_summary_output_is_the_readme_s(tiny, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tiny.yaml", "--check", "--summary"]) == 0
    assert capsys.readouterr().out.splitlines() == _console("vibench-compile tiny.yaml --check --summary")


def test_emitted_model_runs_as_the_readme_says(tiny) -> None:
    import torch

    from tests.helpers import load_file_module

    assert main(["tiny.yaml", "-o", "model.py", "--set", "num_classes=10"]) == 0
    model = load_file_module(str(tiny / "model.py"), "readme_tiny_model")
    out = model.TinyCNN()(torch.randn(8, 1, 2048))
    assert f"{out.shape}" == _console('python -c "import torch, model; print(model.TinyCNN()'
                                      '(torch.randn(8, 1, 2048)).shape)"')[0]


def test_shape_error_is_the_readme_s(tiny, capsys: pytest.CaptureFixture[str]) -> None:
    lines = [line for line in _tiny_spec().splitlines(keepends=True) if "block: flatten" not in line]
    head = "fc:    {block: linear, in: pool, in_features: 32,"
    spec = "".join(lines).replace("fc:    {block: linear, in: flat,", head)
    (tiny / "tiny.yaml").write_text(spec)
    assert main(["tiny.yaml", "--check"]) == 1
    assert capsys.readouterr().err.splitlines() == _console("vibench-compile tiny.yaml --check")


def _yaml_blocks() -> list[tuple[str, str]]:
    """(id, text) of every ```yaml block of the hand-written pages but errors.md."""
    found = []
    for page in EXAMPLE_PAGES:
        with open(page, encoding="utf-8") as fh:
            blocks = re.findall(r"```yaml\n(.*?)```", fh.read(), re.S)
        name = os.path.relpath(page, ROOT)
        found += [(f"{name}#{n}", text) for n, text in enumerate(blocks)]
    return found


def _spec_blocks() -> list[tuple[str, str]]:
    """The blocks that are whole specs (a `vibench: 1` key after optional comment lines)."""
    return [(id_, text) for id_, text in _yaml_blocks() if re.match(r"(#[^\n]*\n)*vibench: 1\b", text)]


def test_the_docs_hold_spec_examples() -> None:
    ids = [id_ for id_, _ in _spec_blocks()]
    for page in ("README.md", "docs/language.md", "docs/library.md"):
        assert any(i.startswith(page + "#") for i in ids), f"{page} lost its spec examples"
    assert any("extends: " in text for _, text in _spec_blocks())


@pytest.mark.parametrize(("where", "text"), _yaml_blocks(), ids=[i for i, _ in _yaml_blocks()])
def test_every_yaml_example_is_yaml(where: str, text: str) -> None:
    yaml.safe_load(text)  # fragments (an excerpt of a template) included


@pytest.mark.parametrize(("where", "text"), _spec_blocks(), ids=[i for i, _ in _spec_blocks()])
def test_spec_examples_compile_as_written(where: str, text: str) -> None:
    import vibench

    program = vibench.check(text=text)
    assert program.root.outputs


def _slugs(text: str) -> set[str]:
    """The anchors GitHub gives a page's headings."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    slugs: set[str] = set()
    for title in re.findall(r"^#{1,6} (.+?)\s*$", text, re.M):
        base = re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")
        slug, n = base, 0
        while slug in slugs:
            n += 1
            slug = f"{base}-{n}"
        slugs.add(slug)
    return slugs


@pytest.mark.parametrize("page", PAGES, ids=lambda p: os.path.relpath(p, ROOT))
def test_relative_links_resolve(page: str) -> None:
    with open(page, encoding="utf-8") as fh:
        text = fh.read()
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", prose):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto
        path, _, anchor = target.partition("#")
        file = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
        if not os.path.exists(file):
            broken.append(target)
        elif anchor and file.endswith(".md"):
            with open(file, encoding="utf-8") as fh:
                if anchor not in _slugs(fh.read()):
                    broken.append(target)
    assert not broken, f"{os.path.relpath(page, ROOT)}: broken links {broken}"


def test_the_index_names_every_page() -> None:
    index = _readme()[_readme().index("## More documentation"):]
    for page in ALL_PAGES[1:]:
        assert f"](docs/{os.path.basename(page)})" in index, f"the README's index lacks {page}"


@pytest.mark.parametrize("script", ["parity_table", "isfm_matrix", "backend_table"])
def test_each_generated_table_has_one_home(script: str) -> None:
    """`make parity-table`, `isfm-matrix` and `backend-table` rewrite the one page holding the markers."""
    import importlib

    module = importlib.import_module(f"scripts.{script}")
    homes = []
    for page in ALL_PAGES:
        with open(page, encoding="utf-8") as fh:
            text = fh.read()
        if module.START in text or module.END in text:
            assert text.count(module.START) == text.count(module.END) == 1, page
            assert text.index(module.START) < text.index(module.END), page
            homes.append(os.path.relpath(page, ROOT))
    assert len(homes) == 1, f"{script}'s markers are in {homes or 'no page'}"


def test_the_first_commands_run_as_written(tmp_path) -> None:
    """The README's opening commands, from a copy of the repository's examples/ (the commands live in
    .venv/bin, as the README says: here, beside the running interpreter). CI also runs `make run` on
    a clean clone (.ci/run), the README's main job."""
    import shlex
    import shutil
    import subprocess
    import sys

    with open(README, encoding="utf-8") as f:
        block = re.search(r"```\n(vibench-compile .*?)```", f.read(), re.S)
    assert block is not None, "the README opens with the commands to run"
    shutil.copytree(os.path.join(ROOT, "examples"), tmp_path / "examples")
    bin_dir = os.path.dirname(sys.executable)
    lines = [line.split("  #")[0].strip() for line in block.group(1).splitlines() if line.strip()]
    assert len(lines) == 3
    for line in lines:
        argv = shlex.split(line)
        argv[0] = sys.executable if argv[0] == "python" else os.path.join(bin_dir, argv[0])
        run = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, f"{line}\n{run.stdout}{run.stderr}"
    assert "\nclass ResNet18_1D(nn.Module):" in (tmp_path / "model.py").read_text(encoding="utf-8")


def test_the_readme_lists_every_example() -> None:
    with open(README, encoding="utf-8") as f:
        text = f.read()
    section = text[text.index("## The examples"):text.index("## The command line")]
    listed = set(re.findall(r"^\| `([^`]+?)/?` \|", section, re.M))
    present = {name for name in os.listdir(os.path.join(ROOT, "examples")) if not name.startswith((".", "__"))}
    assert listed == present
