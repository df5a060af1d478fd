"""The hostile-input corpus: every attack of the hardening issue, through the real command line.

Each case runs ``vibench-compile`` in a subprocess limited to 1 GiB of address space and a wall
time that only catches hangs (the attacks are refused in about a second of CPU; the guard is
generous for a busy CI machine). A case passes when the compiler exits 1 (spec error) or 2 (usage
error) with a located message, prints no traceback and little text, and leaves an existing output
file byte for byte as it was.

* ``tests/hostile/dos_*`` and ``expr_*``: resource attacks (expansion, parameters, aliases,
  expression bombs); the first comment line names the expected code.
* generated here: files too large, devices, FIFOs, sockets, thousands of errors, a megabyte-long
  name, deep ``--set`` values, PHM base configs outside the project or holding secrets, outputs
  that would overwrite an input.
* ``tests/hostile/inject_*``: code injection through docs, metadata, names, file names, ``--set``
  values and ``-o`` paths. Each is compiled with ``-o``; the emitted file is then imported (and its
  model built) in one subprocess. The payload writes a canary file; it must never exist, and each
  case either imports with the parameter count ``--check`` reports or was refused with a located error.
"""

from __future__ import annotations

import json
import os
import re
import resource
import socket
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "hostile"
HANG_GUARD_S = 60
MEMORY_LIMIT = 1 << 30
CLI = [sys.executable, "-c", "import sys; from vibench.compiler.cli import main; sys.exit(main())"]
PREVIOUS = b"# the previous model.py\nprint('kept')\n"


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=HANG_GUARD_S,
                          preexec_fn=_limit_memory, env={**os.environ, "PYTHONPATH": str(HERE.parent)})


def assert_refused(result: subprocess.CompletedProcess[str], code: str | None = None) -> None:
    err = result.stderr + result.stdout
    assert result.returncode in (1, 2), f"exit {result.returncode}:\n{err[-3000:]}"
    assert "Traceback" not in err and "internal error" not in err, err[-3000:]
    assert len(err) < 100_000, f"{len(err):,} characters of output"
    if result.returncode == 1 and result.stdout.lstrip().startswith("{"):  # --format json
        diagnostics = json.loads(result.stdout)["diagnostics"]
        assert diagnostics and all("line" in d and "column" in d for d in diagnostics), diagnostics
    elif result.returncode == 1:
        assert re.search(r"^\s+--> ", err, flags=re.M), f"no located diagnostic:\n{err[:2000]}"
    else:
        assert "usage error" in err, err[:2000]
    if code is not None:
        assert f"error[{code}]" in err, err[:3000]


def refused_with_output_kept(tmp_path: Path, args: list[str], code: str | None = None) -> str:
    out = tmp_path / "model.py"
    out.write_bytes(PREVIOUS)
    result = run_cli([*args, "-o", str(out)], tmp_path)
    assert_refused(result, code)
    assert out.read_bytes() == PREVIOUS
    return result.stderr + result.stdout


# --------------------------------------------------------------------------------------------
# Resource attacks
# --------------------------------------------------------------------------------------------

DOS_FILES = sorted(p.name for p in CORPUS.glob("*.yaml") if p.name.startswith(("dos_", "expr_")))


@pytest.mark.parametrize("name", DOS_FILES)
def test_resource_attack_files(name: str, tmp_path: Path) -> None:
    first = (CORPUS / name).read_text(encoding="utf-8").splitlines()[0]
    code = re.search(r"\((E\d{3})", first)
    assert code, f"{name}: the first line names the expected code"
    refused_with_output_kept(tmp_path, [str(CORPUS / name)], code[1])


def _chain(n: int) -> str:
    lines = ["vibench: 1", "name: Chain", "inputs: {x: {shape: [B, 4, L]}}", "nodes:"]
    lines += [f"  n{k}: {{block: relu, in: {'n' + str(k - 1) if k else 'x'}}}" for k in range(n)]
    return "\n".join(lines + [f"outputs: {{y: n{n - 1}}}", ""])


def test_more_nodes_than_allowed_are_refused_after_loading(tmp_path: Path) -> None:
    (tmp_path / "chain.yaml").write_text(_chain(1001), encoding="utf-8")
    refused_with_output_kept(tmp_path, ["chain.yaml", "--max-nodes", "1000"], "E213")


def test_a_deep_strided_stack_has_exact_bounds(tmp_path: Path) -> None:
    # 5,000 convolutions, every second one strided: the length is (L + c) // 2**2500, whose integers
    # are beyond the float range. The checker's interval bounds stay exact (it once overflowed).
    spec = tmp_path / "deep.yaml"
    spec.write_text(
        "vibench: 1\nname: Deep\ninputs: {x: {shape: [B, 4, L]}}\nnodes:\n"
        "  c: {block: conv1d, repeat: 5000, in: x,\n"
        '      with: {out_channels: 4, kernel_size: 3, stride: "${1 + i % 2}", padding: 1}}\n'
        "outputs: {y: c}\n",
        encoding="utf-8",
    )
    result = run_cli([str(spec), "--check"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "// " + str(2**2500) in result.stdout


def test_thousands_of_errors_print_the_first_ones_and_a_count(tmp_path: Path) -> None:
    lines = ["vibench: 1", "name: Errors", "inputs: {x: {shape: [B, 4, L]}}", "nodes:"]
    lines += [f"  n{k}: {{block: conv1d, in: x, out_channels: -{k + 1}, kernel_size: 1}}" for k in range(5000)]
    lines.append("outputs: {" + ", ".join(f"y{k}: n{k}" for k in range(5000)) + "}")
    (tmp_path / "errors.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    text = refused_with_output_kept(tmp_path, ["errors.yaml"])
    assert re.search(r"and 4,950 more \(the first 50 of 5,000 are shown\)", text), text[-500:]


@pytest.mark.parametrize("where", ["block", "in"])
def test_a_megabyte_long_name_gives_a_short_message(where: str, tmp_path: Path) -> None:
    name = "relu" * 250_000
    node = f"{{block: {name}, in: x}}" if where == "block" else f"{{block: relu, in: {name}}}"
    (tmp_path / "long.yaml").write_text(f"vibench: 1\nname: Long\ninputs: {{x: {{shape: [B, 4, L]}}}}\n"
                                        f"nodes:\n  r: {node}\noutputs: {{y: r}}\n", encoding="utf-8")
    refused_with_output_kept(tmp_path, ["long.yaml"])


def test_a_file_larger_than_the_limit_is_not_read(tmp_path: Path) -> None:
    with open(tmp_path / "big.yaml", "wb") as fh:
        fh.truncate(17 * 1024 * 1024)  # sparse: no disk space used
    refused_with_output_kept(tmp_path, ["big.yaml"], "E002")


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_devices_are_not_specs(device: str, tmp_path: Path) -> None:
    if not os.path.exists(device):
        pytest.skip(f"{device} does not exist here")
    refused_with_output_kept(tmp_path, [device], "E004")


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.yaml")
    refused_with_output_kept(tmp_path, ["pipe.yaml"], "E004")


def test_a_socket_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        refused_with_output_kept(tmp_path, ["s.yaml"], "E004")


def test_a_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "folder.yaml").mkdir()
    refused_with_output_kept(tmp_path, ["folder.yaml"])


@pytest.mark.parametrize("flag", ["-o", "--graph"])
def test_an_empty_output_path_is_a_usage_error(flag: str, tmp_path: Path) -> None:
    result = run_cli([str(CORPUS / "inject_plain.yaml"), flag, ""], tmp_path)
    assert_refused(result)
    assert f"{flag} names no file (an empty path)" in result.stderr and not list(tmp_path.iterdir())


@pytest.mark.parametrize("depth", [4_000, 60_000])
def test_deeply_nested_set_values_are_usage_errors(depth: int, tmp_path: Path) -> None:
    spec = str(CORPUS / "inject_plain.yaml")
    text = refused_with_output_kept(tmp_path, [spec, "--set", "width=" + "[" * depth + "]" * depth])
    assert "--set width" in text


def test_an_alias_bomb_in_a_set_value_is_a_usage_error(tmp_path: Path) -> None:
    levels = ["&a0 [1, 1, 1, 1, 1, 1, 1, 1]"]
    levels += [f"&a{k} [{', '.join([f'*a{k - 1}'] * 8)}]" for k in range(1, 9)]  # 8**9 values
    refused_with_output_kept(tmp_path, [str(CORPUS / "inject_plain.yaml"), "--set", f"width=[{', '.join(levels)}]"])


# --------------------------------------------------------------------------------------------
# Files: PHM base configs and outputs
# --------------------------------------------------------------------------------------------

SECRET = "hunter2-SECRET-VALUE"


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / ".git").mkdir(parents=True)
    (root / "configs" / "exp").mkdir(parents=True)
    return root


def test_base_config_outside_the_project_is_refused(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (tmp_path / "outside.yaml").write_text("model: {type: CNN, name: ResNet1D}\n", encoding="utf-8")
    (root / "configs" / "exp" / "e.yaml").write_text("base_configs: {model: ../../../outside.yaml}\n")
    text = refused_with_output_kept(root, ["configs/exp/e.yaml"], "E205")
    assert "model: {type" not in text


@pytest.mark.parametrize("secret", [
    f'API_KEY: "{SECRET}\nTOKEN: {SECRET}\n',  # a YAML error inside the secret file
    f"password: {SECRET}\n!!python/object:os.system {SECRET}: 1\n",  # a forbidden tag
    f"model: {{type: CNN, name: ResNet1D, num_classes: {SECRET}}}\n",  # a value of the wrong type
    f"{SECRET}: {SECRET}\n{SECRET}: {SECRET}\n",  # a duplicate key
    f"type: CNN\nname: {SECRET}\n",  # a model name no template has
    f"type: {SECRET}\nname: {SECRET}\n",  # a model type no template family has
])
def test_base_config_values_are_never_printed(secret: str, tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / ".env.yaml").write_text(secret, encoding="utf-8")
    (root / "configs" / "exp" / "e.yaml").write_text("base_configs: {model: ../../.env.yaml}\n")
    for args in (["configs/exp/e.yaml"], ["configs/exp/e.yaml", "--format", "json"]):
        text = refused_with_output_kept(root, args)
        assert SECRET not in text, text


def test_output_never_overwrites_the_spec_or_a_file_it_read(tmp_path: Path) -> None:
    spec = (CORPUS / "inject_plain.yaml").read_text(encoding="utf-8")
    (tmp_path / "base.yaml").write_text(spec, encoding="utf-8")
    (tmp_path / "user.yaml").write_text("vibench: 1\nextends: ./base.yaml\n", encoding="utf-8")
    os.link(tmp_path / "base.yaml", tmp_path / "hardlink.py")
    (tmp_path / "symlink.py").symlink_to("base.yaml")
    for out in ("user.yaml", "base.yaml", "hardlink.py", "symlink.py"):
        result = run_cli(["user.yaml", "-o", out], tmp_path)
        assert_refused(result)
        assert "refusing to overwrite" in result.stderr
    assert (tmp_path / "base.yaml").read_text(encoding="utf-8") == spec
    assert (tmp_path / "symlink.py").is_symlink()


def test_output_never_overwrites_a_base_config(tmp_path: Path) -> None:
    root = _project(tmp_path)
    (root / "base.yaml").write_text("model: {type: CNN, name: ResNet1D, num_classes: 3}\n", encoding="utf-8")
    (root / "configs" / "exp" / "e.yaml").write_text("base_configs: {model: base.yaml}\n", encoding="utf-8")
    before = (root / "base.yaml").read_bytes()
    result = run_cli(["configs/exp/e.yaml", "-o", "base.yaml"], root)
    assert_refused(result)
    assert (root / "base.yaml").read_bytes() == before


def test_output_is_never_a_device(tmp_path: Path) -> None:
    result = run_cli([str(CORPUS / "inject_plain.yaml"), "-o", "/dev/null"], tmp_path)
    assert_refused(result)
    assert Path("/dev/null").is_char_device()


def test_graph_is_written_only_when_the_spec_compiles(tmp_path: Path) -> None:
    graph = tmp_path / "g.mmd"
    refused_with_output_kept(tmp_path, [str(CORPUS / "dos_giant_channels.yaml"), "--graph", str(graph)], "E307")
    assert not graph.exists()


# --------------------------------------------------------------------------------------------
# Code injection
# --------------------------------------------------------------------------------------------

PAYLOAD = '__import__("pathlib").Path("{canary}").write_text("pwned")'
INJECT_FILES = sorted(p.name for p in CORPUS.iterdir() if p.name.startswith("inject_")
                      and p.name not in ("inject_plain.yaml", "inject_set_value.yaml"))
INJECT_CLI = ["file_name_newline", "set_value_newline", "output_path_newline"]

IMPORTER = r"""
import importlib.util, json, sys, traceback
import torch
results = {}
for case, path in json.loads(sys.argv[1]).items():
    try:
        spec = importlib.util.spec_from_file_location(f"hostile_{len(results)}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        models = [v for v in vars(module).values()
                  if isinstance(v, type) and issubclass(v, torch.nn.Module) and v.__module__ == module.__name__]
        model = models[-1]()
        results[case] = {"ok": True, "params": sum(p.numel() for p in model.parameters())}
    except BaseException as err:  # the emitted file must import; report anything else
        results[case] = {"ok": False, "error": "".join(traceback.format_exception_only(type(err), err))[-2000:]}
print(json.dumps(results))
"""


def _injection_case(case: str, base: Path) -> tuple[list[str], Path, Path, list[Path]]:
    """(CLI args, the spec compiled, the output path, where the canary would appear) for one case,
    in its own folder. The import runs in ``base``; a path in a file name cannot hold `/`, so those
    payloads write a relative canary."""
    folder = base / case.replace(".", "_")
    folder.mkdir()
    canary = folder / "CANARY"
    payload = PAYLOAD.format(canary=canary)
    relative = PAYLOAD.format(canary=f"CANARY_{folder.name}")
    canaries = [canary, base / f"CANARY_{folder.name}", folder / f"CANARY_{folder.name}"]
    source = CORPUS / ("inject_plain.yaml" if case in INJECT_CLI[::2] else
                       "inject_set_value.yaml" if case in INJECT_CLI else case)
    text = source.read_text(encoding="utf-8").replace("@CANARY@", str(canary))
    name = source.name
    if case == "file_name_newline":
        name = f"evil\n{relative}\n#.yaml"
    spec = folder / name
    spec.write_text(text, encoding="utf-8")
    out = folder / (f"out\n{relative}\n#.py" if case == "output_path_newline" else "model.py")
    args = [name, "-o", out.name]
    if case == "set_value_newline":
        args += ["--set", f"tag=x\n{payload}\n#"]
    return args, spec, out, canaries


@pytest.fixture(scope="module")
def injections(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Compile every injection case, then import all emitted files in one subprocess (one torch import)."""
    import vibench

    base = tmp_path_factory.mktemp("inject")
    cases: dict[str, dict] = {}
    emitted: dict[str, str] = {}
    for case in INJECT_FILES + INJECT_CLI:
        args, spec, out, canaries = _injection_case(case, base)
        result = run_cli(args, spec.parent)
        info: dict = {"result": result, "canaries": canaries}
        if result.returncode == 0:
            emitted[case] = str(out)
            info["expected_params"] = vibench.check(str(spec)).root.param_count
        cases[case] = info
    if emitted:
        run = subprocess.run([sys.executable, "-c", IMPORTER, json.dumps(emitted)], cwd=base, capture_output=True,
                             text=True, timeout=600)
        assert run.returncode == 0, run.stderr[-3000:]
        for case, imported in json.loads(run.stdout.strip().splitlines()[-1]).items():
            cases[case]["import"] = imported
    return cases


@pytest.mark.parametrize("case", INJECT_FILES + INJECT_CLI)
def test_no_code_from_data(case: str, injections: dict[str, dict]) -> None:
    info = injections[case]
    result = info["result"]
    assert not any(c.exists() for c in info["canaries"]), f"{case}: the payload ran"
    if result.returncode != 0:  # refused: fine, if it says where and why
        assert_refused(result)
        return
    imported = info["import"]
    assert imported["ok"], f"{case}: the emitted file does not import:\n{imported['error']}"
    assert imported["params"] == info["expected_params"], (
        f"{case}: --check reports {info['expected_params']} parameters, the emitted model has {imported['params']}")


def test_the_corpus_is_complete() -> None:
    assert len(DOS_FILES) >= 20 and len(INJECT_FILES) >= 12


@pytest.mark.parametrize("folder", ["../../etc", "/etc", "~/secrets", "isfm/../../..", "a\\\\b", "/"])
def test_a_slot_folder_outside_the_search_path_is_refused(folder: str, tmp_path: Path) -> None:
    """A slot names a folder of the search path; one that climbs out would list (and, for its
    parameters, read) the files of any folder."""
    spec = tmp_path / "t.yaml"
    spec.write_text("vibench: 1\nname: T\nparams:\n"
                    f"  part: {{type: str, default: x, slot: {json.dumps(folder)}}}\n"
                    "inputs: {x: {shape: [B, 4]}}\nnodes:\n"
                    "  n: {block: linear, in: x, out_features: 2, inherit: true}\noutputs: {y: n}\n", encoding="utf-8")
    result = run_cli([str(spec), "--check"], tmp_path)
    assert_refused(result, "E210")
    assert "must be a folder inside the spec search path" in result.stderr and "t.yaml:4:" in result.stderr
