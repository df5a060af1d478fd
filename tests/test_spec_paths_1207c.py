"""A spec path means what the file system says (QA report 1207c).

1. References and `-I` folders were normalised by name (`os.path.normpath`) before the file system saw them:
   `link/../x.yaml` through a folder link read the `x.yaml` beside the link, not the one the OS reads;
   `./nothere/../blocks` and `./blocks/` compiled. A spec's folder was the path as given: a spec that is a link
   read its references beside the link when compiled itself, beside its target when another spec named it;
   `/dev/stdin` searched `/dev`.
2. A reference that names a folder (`./dd`, `block: isfm/backbone`) was E205 with an arbitrary did-you-mean, not
   the documented E004.
3. `search_path=` and `-I` disagreed on unusable folders (mode 000, mode 311) and the API said "no such spec
   file" for a spec that is a dangling or looping link.
4. `-o s.yaml/x.py` said "folder ... does not exist".
5. The did-you-mean of E205 offered a file whose name is not UTF-8, which looks like what was written.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import vibench
from vibench.compiler import cli
from vibench.compiler.outputs import OutputError, output_target

ROOT = Path(__file__).resolve().parent.parent


def _model(name: str) -> str:
    return textwrap.dedent(f"""\
        vibench: 1
        name: {name}
        inputs: {{x: {{shape: [B, 1, L]}}}}
        nodes:
          a: {{block: relu, in: x}}
        outputs: {{y: a}}
        """)


def _extends(ref: str) -> str:
    return f"vibench: 1\nextends: {ref}\n"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _error(spec: str, **kw) -> vibench.SpecError:  # type: ignore[no-untyped-def]
    with pytest.raises(vibench.SpecError) as info:
        vibench.check(spec, **kw)
    return info.value


@pytest.fixture
def linked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """top/link -> ../real/inner; an `x.yaml` and a `fam/T.yaml` in both top/ and real/, each named after its
    folder; real/inner/u.yaml extends `../x.yaml`."""
    for where in ("top", "real"):
        _write(tmp_path / where / "x.yaml", _model(f"{where.title()}X"))
        _write(tmp_path / where / "fam" / "T.yaml", _model(f"{where.title()}T"))
    _write(tmp_path / "real" / "inner" / "u.yaml", _extends("../x.yaml"))
    (tmp_path / "top" / "link").symlink_to("../real/inner")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VIBENCH_SPEC_PATH", raising=False)
    return tmp_path


def test_dot_dot_after_a_folder_link_is_where_the_link_leads(linked: Path) -> None:
    """`top/link/u.yaml` with `extends: ../x.yaml` read top/x.yaml; `cat top/link/../x.yaml` reads real/x.yaml."""
    assert Path("top/link/../x.yaml").read_text() == _model("RealX")  # what the file system says
    assert vibench.check("top/link/u.yaml", search_path=["real"]).root.name == "RealX"
    _write(linked / "top" / "main.yaml", _extends("./link/../x.yaml"))
    assert vibench.check("top/main.yaml", search_path=["real"]).root.name == "RealX"
    # Without real/ on the search path the file the OS reads is outside it: refused, named as written.
    err = _error("top/main.yaml")
    assert [d.code for d in err.diagnostics] == ["E205"] and "points outside" in err.diagnostics[0].message
    assert err.diagnostics[0].found == "top/link/../x.yaml"


def test_a_search_folder_with_dot_dot_is_where_the_file_system_leads(linked: Path) -> None:
    """`-I top/link/..` is real/ for the OS; normalised, it was top/."""
    _write(linked / "s.yaml", _extends("fam/T"))
    assert vibench.check("s.yaml", search_path=["top/link/.."]).root.name == "RealT"
    assert cli.main(["s.yaml", "-I", "top/link/..", "-o", "out.py"]) == 0
    assert "class RealT(" in Path("out.py").read_text()


def test_a_missing_folder_or_a_trailing_slash_names_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path / "blocks.yaml", _model("Blocks"))
    monkeypatch.chdir(tmp_path)
    for ref in ("./nothere/../blocks", "./blocks/", "./blocks.yaml/", "./blocks/."):
        _write(tmp_path / "u.yaml", _extends(ref))
        err = _error("u.yaml")
        assert [d.code for d in err.diagnostics] == ["E205"], (ref, str(err))
        assert err.diagnostics[0].message == f"unknown spec `{ref}`"
    _write(tmp_path / "u.yaml", _extends("./blocks/"))
    assert _error("u.yaml").diagnostics[0].hint == "did you mean `./blocks`?"
    # `./` in a subfolder named the parent's `inner.yaml` (the folder's name plus `.yaml`)
    _write(tmp_path / "inner.yaml", _model("Parent"))
    _write(tmp_path / "inner" / "u.yaml", _extends("./"))
    err = _error("inner/u.yaml")
    assert [d.code for d in err.diagnostics] == ["E004"] and "is a folder" in err.diagnostics[0].message


def test_a_linked_spec_reads_its_references_from_where_it_leads(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """X/link.yaml -> ../Y/spec.yaml with `extends: ./base` read X/base.yaml compiled itself, Y/base.yaml
    reached through X/u.yaml's `extends: ./link`: now Y/base.yaml both ways, CLI and API."""
    _write(tmp_path / "X" / "base.yaml", _model("XBase"))
    _write(tmp_path / "Y" / "base.yaml", _model("YBase"))
    _write(tmp_path / "Y" / "spec.yaml", _extends("./base"))
    _write(tmp_path / "X" / "u.yaml", _extends("./link"))
    (tmp_path / "X" / "link.yaml").symlink_to("../Y/spec.yaml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VIBENCH_SPEC_PATH", raising=False)
    assert vibench.check("X/link.yaml").root.name == "YBase"
    assert vibench.check("X/u.yaml", search_path=["Y"]).root.name == "YBase"
    assert cli.main(["X/link.yaml", "-o", "out.py"]) == 0
    assert "class YBase(" in Path("out.py").read_text()
    # the messages still name the spec as given
    _write(tmp_path / "Y" / "spec.yaml", _extends("./nosuch"))
    assert _error("X/link.yaml").diagnostics[0].pos.file == "X/link.yaml"  # type: ignore[union-attr]


def test_a_linked_spec_builds_the_model_its_target_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        folder: Path) -> None:
    """Through vibench.build and its cache too; an edit of the base the target reads is seen."""
    _write(tmp_path / "X" / "base.yaml", _model("XBase"))
    _write(tmp_path / "Y" / "base.yaml", _model("YBase"))
    _write(tmp_path / "Y" / "spec.yaml", _extends("./base"))
    (tmp_path / "X" / "link.yaml").symlink_to("../Y/spec.yaml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VIBENCH_SPEC_PATH", raising=False)
    assert type(vibench.build("X/link.yaml")).__name__ == "YBase"
    _write(tmp_path / "Y" / "base.yaml", _model("YBase2"))
    assert type(vibench.build("X/link.yaml")).__name__ == "YBase2"


def test_a_lookup_past_a_folder_link_is_kept_by_the_build_cache(linked: Path, folder: Path) -> None:
    """A template missing at `top/link/../fam/U` (real/fam/U.yaml for the OS) is found further on the search
    path; once real/fam/U.yaml is created the cached model is stale (the absent path is kept as the OS reads it,
    not as `top/fam/U.yaml`)."""
    _write(linked / "other" / "fam" / "U.yaml", _model("OtherU"))
    _write(linked / "s.yaml", _extends("fam/U"))
    assert type(vibench.build("s.yaml", search_path=["top/link/..", "other"])).__name__ == "OtherU"
    _write(linked / "top" / "fam" / "U.yaml", _model("TopU"))  # not on the OS's path: nothing changes
    assert type(vibench.build("s.yaml", search_path=["top/link/..", "other"])).__name__ == "OtherU"
    _write(linked / "real" / "fam" / "U.yaml", _model("RealU"))
    assert type(vibench.build("s.yaml", search_path=["top/link/..", "other"])).__name__ == "RealU"


def test_a_descriptor_spec_finds_its_references_from_the_working_folder(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """`/dev/stdin < X/u.yaml` searched /dev; as `-`, a descriptor's spec reads from the working folder."""
    _write(tmp_path / "X" / "base.yaml", _model("XBase"))
    spec = _write(tmp_path / "X" / "u.yaml", _extends("./X/base"))
    monkeypatch.chdir(tmp_path)
    fd = os.open(spec, os.O_RDONLY)
    try:
        assert vibench.check(f"/dev/fd/{fd}").root.name == "XBase"
    finally:
        os.close(fd)
    with spec.open("rb") as stdin:
        run = subprocess.run([sys.executable, "-m", "vibench.compiler.cli", "/dev/stdin", "--check"], stdin=stdin,
                             capture_output=True, text=True, cwd=tmp_path, timeout=120,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0 and "ok: XBase" in run.stdout, run.stderr


def test_a_reference_to_a_folder_is_e004_naming_its_specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path / "dd" / "a.yaml", _model("A"))
    _write(tmp_path / "dd" / "b.yml", _model("B"))
    _write(tmp_path / "u.yaml", _extends("./dd"))
    _write(tmp_path / "m.yaml", _model("M").replace("block: relu", "block: isfm/backbone"))
    monkeypatch.chdir(tmp_path)
    (diag,) = _error("u.yaml").diagnostics
    assert (diag.code, diag.message, diag.found) == ("E004", "spec reference `./dd` is a folder, not a regular file",
                                                     "dd")
    assert "`./dd/a`, `./dd/b`" in (diag.hint or "")
    (diag,) = _error("m.yaml").diagnostics
    assert (diag.code, diag.message) == ("E004", "spec reference `isfm/backbone` is a folder, not a regular file")
    assert diag.found == "vibench/specs/isfm/backbone" and "did you mean" not in (diag.hint or "")
    assert "such as `isfm/backbone/B_" in (diag.hint or "")
    # as the spec given itself: said to be a folder, by the CLI and the API
    (diag,) = _error("cnn").diagnostics
    assert (diag.code, diag.message) == ("E004", "spec `cnn` is a folder, not a regular file")


def test_a_spec_that_is_a_broken_link_is_named_so_by_the_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    Path("dang.yaml").symlink_to("nowhere.yaml")
    Path("loop1.yaml").symlink_to("loop2.yaml")
    Path("loop2.yaml").symlink_to("loop1.yaml")
    for spec, said in (("dang.yaml", "is a dangling symbolic link (to nowhere.yaml, which does not exist)"),
                       ("loop1.yaml", "is a symbolic link that leads round in a loop, to no file")):
        (diag,) = _error(spec).diagnostics
        assert (diag.code, diag.message) == ("E004", f"spec `{spec}` {said}")
        assert cli.main([spec, "--check"]) == cli.EXIT_USAGE
        assert f"the spec {spec} {said}" in capsys.readouterr().err


def test_an_output_in_a_file_says_the_file_is_no_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path / "s.yaml", _model("S"))
    for out in ("s.yaml/x.py", "s.yaml/sub/x.py", "./s.yaml/x.py"):
        with pytest.raises(OutputError) as info:
            output_target(out, "-o")
        folder = "./s.yaml" if out.startswith("./") else "s.yaml"
        assert str(info.value) == f"cannot write -o {out}: {folder} is a file, not a folder"
    with pytest.raises(OutputError, match=r"folder .*nodir does not exist"):
        output_target("nodir/x.py", "-o")
    assert cli.main(["s.yaml", "-o", "s.yaml/x.py"]) == cli.EXIT_USAGE
    assert "s.yaml is a file, not a folder" in capsys.readouterr().err


def test_a_name_that_is_not_utf8_is_never_a_did_you_mean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`l\\xe9b/fam/T\\xe9.yaml` (Latin-1 bytes) and `extends: fam/Té` typed as text: the hint offered
    `fam/T\\xe9`, which reads as what was written."""
    try:
        os.makedirs(os.path.join(os.fsencode(tmp_path), b"l\xe9b", b"fam"))
    except (OSError, UnicodeError) as err:  # a file system that keeps names in UTF-8 only (macOS)
        pytest.skip(f"this file system refuses names that are not UTF-8: {err}")
    Path(os.fsdecode(os.path.join(os.fsencode(tmp_path), b"l\xe9b", b"fam", b"T\xe9.yaml"))).write_text(_model("T"))
    _write(tmp_path / "u.yaml", _extends("fam/T\u00e9"))
    monkeypatch.chdir(tmp_path)
    (diag,) = _error("u.yaml", search_path=[os.fsdecode(b"l\xe9b")]).diagnostics
    assert diag.code == "E205" and "did you mean" not in (diag.hint or "")
    assert (diag.hint or "").startswith("the nearest file, `fam/T\udce9`, has a name that is not valid UTF-8")
    assert "so no spec can name it; rename it" in (diag.hint or "")


_PERMISSIONS = """
import json, sys
import vibench
from vibench.compiler import cli
out = {}
for folder in sys.argv[1:]:
    try:
        vibench.check("fam/T", search_path=[folder])
        api = "ok"
    except Exception as err:
        api = type(err).__name__ + ": " + str(err)
    out[folder] = {"api": api, "cli": cli.main(["fam/T", "-I", folder, "--check"])}
print(json.dumps(out))
"""


def _without_override() -> list[str]:
    """The command prefix under which permissions hold: none for another user than root; for root,
    setpriv without the capabilities that pass them (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    prefix = [setpriv or "setpriv", "--inh-caps=-dac_override,-dac_read_search",
              "--bounding-set=-dac_override,-dac_read_search"]
    if setpriv is None or subprocess.run([*prefix, "true"], capture_output=True).returncode != 0:
        pytest.skip("running as root without setpriv able to drop CAP_DAC_OVERRIDE: permissions cannot be denied")
    return prefix


def test_search_folders_that_cannot_or_can_only_be_searched_agree(tmp_path: Path) -> None:
    """`-I noperm` (mode 000) was a usage error, `search_path=[noperm]` "no such spec file"; `-I xonly` (mode 311:
    lookups work) was refused by the CLI, used by the API. Now: refused in both, in the same words; used in both.
    Run in a process that permissions bind: as root, under setpriv without CAP_DAC_OVERRIDE and
    CAP_DAC_READ_SEARCH (skipped only where setpriv cannot drop them; the check below proves they are dropped)."""
    prefix = _without_override()
    for name, mode in (("noperm", 0o000), ("xonly", 0o311)):
        _write(tmp_path / name / "fam" / "T.yaml", _model(name.title()))
        (tmp_path / name).chmod(mode)
    try:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("VIBENCH_SPEC_PATH", None)
        probe = subprocess.run([*prefix, sys.executable, "-c", "import os; os.listdir('xonly')"], cwd=tmp_path,
                               capture_output=True, text=True, timeout=60)
        assert probe.returncode != 0 and "PermissionError" in probe.stderr  # permissions hold: not vacuous
        run = subprocess.run([*prefix, sys.executable, "-c", _PERMISSIONS, "noperm", "xonly"], cwd=tmp_path,
                             capture_output=True, text=True, env=env, timeout=120)
    finally:
        for name in ("noperm", "xonly"):
            (tmp_path / name).chmod(0o755)
    assert run.returncode == 0, run.stderr
    said = json.loads(run.stdout.splitlines()[-1])
    assert said["xonly"] == {"api": "ok", "cli": cli.EXIT_OK}, run.stderr
    assert said["noperm"]["cli"] == cli.EXIT_USAGE
    assert said["noperm"]["api"] == "ValueError: search_path: 'noperm': the folder cannot be read (permission denied)"
    assert "--spec-path noperm: the folder cannot be read (permission denied)" in run.stderr


def test_an_unsearchable_environment_folder_is_refused_by_the_api(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """VIBENCH_SPEC_PATH too, as the CLI refuses it (os.access stands for the permission, as root passes it)."""
    (tmp_path / "env").mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(tmp_path / "env") else real(p, mode))
    monkeypatch.setenv("VIBENCH_SPEC_PATH", str(tmp_path / "env"))
    with pytest.raises(ValueError, match=r"VIBENCH_SPEC_PATH entry .*env': the folder cannot be read"):
        vibench.check("cnn/ResNet1D")


def test_the_examples_of_the_path_helpers_run() -> None:
    import doctest

    from vibench.compiler import resolve_refusals, spec_files, spec_search

    for module in (spec_files, spec_search, resolve_refusals):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__
