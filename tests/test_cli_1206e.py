"""Commands vibench-compile prints for a person to run, and where a write fails.

Each case is a defect QA found: the Regenerate line of model.py named a library template for a user's own
file under a folder called vibench/specs/ (it rebuilt another model), or wrote a path starting with `-` as an
option; the `or:` command of `--list NAME` was not quoted for the shell and left out the -I folders; a
folder that refuses new files was reported as a problem with the output file.
"""

from __future__ import annotations

import errno
import os
import shlex
import shutil
from pathlib import Path

import pytest

from tests.helpers import ROOT
from vibench.compiler import cli, outputs
from vibench.compiler.resolve import LIBRARY_DIR

TINY = Path(ROOT) / "examples" / "tiny_cnn.json"


def regenerate_words(model: Path) -> list[str]:
    """The Regenerate line of ``model`` (one line in these cases) as the shell splits it."""
    lines = model.read_text(encoding="utf-8").splitlines()
    line = next(row for row in lines if row.startswith("# Regenerate: "))
    assert not line.endswith("\\"), line
    words = shlex.split(line[len("# Regenerate: "):])
    assert words[0] == "vibench-compile"
    return words[1:]


def classes(model: Path) -> list[str]:
    return [row.split("(")[0] for row in model.read_text(encoding="utf-8").splitlines() if row.startswith("class ")]


# -- the Regenerate line ----------------------------------------------------------------------------------------


def test_a_users_file_under_a_folder_named_vibench_specs_is_regenerated_from_its_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `# Regenerate: vibench-compile cnn/ResNet1D -o model.py` rebuilt the library's ResNet1D over TinyCNN.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "vibench" / "specs" / "cnn").mkdir(parents=True)
    shutil.copy(TINY, tmp_path / "vibench" / "specs" / "cnn" / "ResNet1D.yaml")
    assert cli.main(["vibench/specs/cnn/ResNet1D.yaml", "-o", "model.py"]) == 0
    words = regenerate_words(tmp_path / "model.py")
    assert words == ["vibench/specs/cnn/ResNet1D.yaml", "-o", "model.py"]
    assert classes(tmp_path / "model.py") == ["class TinyCNN"]
    assert cli.main(words) == 0
    assert classes(tmp_path / "model.py") == ["class TinyCNN"]


def test_a_library_file_is_regenerated_by_its_template_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for spec in ("cnn/ResNet1D", os.path.join(LIBRARY_DIR, "cnn", "ResNet1D.yaml")):
        assert cli.main([spec, "-o", "model.py"]) == 0
        assert regenerate_words(tmp_path / "model.py") == ["cnn/ResNet1D", "-o", "model.py"]


def test_a_library_file_whose_name_an_I_folder_shadows_is_regenerated_from_its_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `cnn/ResNet1D -I lib` finds lib's own cnn/ResNet1D.yaml first: the name would rebuild another model.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lib" / "cnn").mkdir(parents=True)
    shutil.copy(TINY, tmp_path / "lib" / "cnn" / "ResNet1D.yaml")
    library_file = os.path.join(LIBRARY_DIR, "cnn", "ResNet1D.yaml")
    assert cli.main([library_file, "-I", "lib", "-o", "model.py"]) == 0
    words = regenerate_words(tmp_path / "model.py")
    assert words[0] != "cnn/ResNet1D" and os.path.realpath(words[0]) == os.path.realpath(library_file)
    assert cli.main(words) == 0
    assert classes(tmp_path / "model.py")[-1] == "class ResNet1D"


def test_paths_starting_with_a_dash_are_written_so_that_the_command_runs(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # `vibench-compile -x.json -o a.py` and `-o -y.py`: argparse read them as options.
    monkeypatch.chdir(tmp_path)
    shutil.copy(TINY, tmp_path / "-x.json")
    shutil.copy(TINY, tmp_path / "t.json")
    (tmp_path / "-lib").mkdir()
    assert cli.main(["-o", "a.py", "--", "-x.json"]) == 0
    assert cli.main(["t.json", "--output=-y.py", "--spec-path=-lib"]) == 0
    commands = {model: regenerate_words(tmp_path / model) for model in ("a.py", "-y.py")}
    assert commands == {"a.py": ["./-x.json", "-o", "a.py"], "-y.py": ["t.json", "-I", "./-lib", "-o", "./-y.py"]}
    for model, words in commands.items():
        (tmp_path / model).unlink()
        assert cli.main(words) == 0
        assert classes(tmp_path / model) == ["class TinyCNN"]


# -- the `or:` command of --list NAME ---------------------------------------------------------------------------


def or_words(capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    assert cli.main(["--list", *args]) == 0
    line = next(row for row in capsys.readouterr().out.splitlines() if row.startswith("  or: "))
    words = shlex.split(line[len("  or: "):])
    assert words[0] == "vibench-compile"
    return words[1:]


def test_the_or_command_of_list_is_quoted_for_the_shell(capsys: pytest.CaptureFixture[str]) -> None:
    # `--set num_classes={"1": 10}`: the shell split it and the command failed.
    words = or_words(capsys, "isfm/task_head/H_01_Linear_cla")
    assert 'num_classes={"1": 10}' in words
    assert cli.main(words) == 0


def test_the_or_command_of_list_names_the_I_folders_but_not_VIBENCH_SPEC_PATH(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VIBENCH_SPEC_PATH", raising=False)
    (tmp_path / "lib" / "my").mkdir(parents=True)
    shutil.copy(TINY, tmp_path / "lib" / "my" / "Tiny.json")
    words = or_words(capsys, "my/Tiny", "-I", "lib")
    assert words[:3] == ["my/Tiny", "-I", "lib"]
    assert cli.main(words) == 0
    monkeypatch.setenv("VIBENCH_SPEC_PATH", "lib")
    words = or_words(capsys, "my/Tiny")
    assert words[0] == "my/Tiny" and "-I" not in words
    assert cli.main(words) == 0


# -- a folder that refuses new files ----------------------------------------------------------------------------


def test_a_folder_that_refuses_the_temporary_file_is_named_as_the_problem(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # A writable ro/m.py in a read-only folder said `cannot write -o ro/m.py: Permission denied`: the file
    # is fine, the folder refuses the temporary file written beside it for the rename.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro" / "m.py").write_text("OLD\n")
    real_mkstemp = outputs.tempfile.mkstemp

    def read_only(*args: object, dir: str = "", **kwargs: object) -> tuple[int, str]:  # noqa: A002
        if os.path.basename(dir) == "ro":
            raise PermissionError(13, "Permission denied")
        return real_mkstemp(*args, dir=dir, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(outputs.tempfile, "mkstemp", read_only)
    assert cli.main([str(TINY), "-o", "ro/m.py"]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert ("cannot create a file in folder ro/ (Permission denied): -o writes a temporary file beside its target "
            "and renames it") in err, err
    assert (tmp_path / "ro" / "m.py").read_text() == "OLD\n"
    assert cli.main([str(TINY), "-o", str(tmp_path / "ro" / "m.py")]) == cli.EXIT_USAGE
    assert f"cannot create a file in folder {tmp_path / 'ro'}/ (Permission denied)" in capsys.readouterr().err

    def read_only_file_system(*args: object, **kwargs: object) -> tuple[int, str]:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(outputs.tempfile, "mkstemp", read_only_file_system)
    assert cli.main([str(TINY), "-o", "m.py", "--graph", "g.html"]) == cli.EXIT_USAGE
    assert "cannot create a file in folder ./ (Read-only file system): -o writes" in capsys.readouterr().err
