"""Every library template on an accelerator: the CPU's outputs, a training step, bf16 autocast.

    python scripts/device_check.py [--device cuda] [--only NAME ...] [--compile NAME ...] [--out FILE]

CI has no GPU, so this is run on demand on a machine that has one (see docs/performance.md for the
last run). The cases are tests/test_export.py's: every library template at a small size, with the
inputs its ``forward`` takes. For each case:

1. **same outputs**: the model is built once, run in eval mode on the CPU, moved to the device and
   run again on the same inputs (TF32 off, so the device computes in float32 too). A model that draws
   at random in eval mode (E_01_HSE's patches, as in the reference) draws from the device's
   generator, which differs from the CPU's: such a model is recognised by two device runs under two
   seeds giving different outputs, and only its output shapes and dtypes are compared;
2. **autocast**: eval under ``torch.autocast(device, dtype=torch.bfloat16)``: outputs finite and, for
   a deterministic model, within 10% (relative norm) of the float32 outputs;
3. with ``--compile NAME``: ``torch.compile`` (inductor) on the device gives the eager outputs;
4. **training step** (last: it updates batch-norm statistics): train mode on the device, the loss is
   the mean square of every floating output, ``backward``; every parameter that receives a gradient
   on the CPU receives a finite one on the device.

Prints one line per case and writes the rows as JSON with ``--out``. Exit status 1 when a check fails
(or the device is missing: of any kind, tried before any case runs), 2 for bad arguments: a device name
torch does not read or ``meta``, a case id of ``--only`` or ``--compile`` that is no case, a ``--compile``
id that ``--only`` leaves out, an ``--out`` that cannot be written (a symbolic link followed to its
target), each found before any case runs.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import sys
import time
import traceback
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

ATOL, RTOL = 1e-4, 1e-3  # float32 on two devices: different kernels, different summation orders
AUTOCAST_REL = 0.1  # bfloat16 keeps 8 bits of mantissa: ~0.4% per rounding, compounded over the layers


def tensors(value: Any) -> list[Any]:
    """The tensors of a model's outputs (a tensor, or a tuple/list/dict of them), in a fixed order."""
    import torch

    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        return [t for key in sorted(value) for t in tensors(value[key])]
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in tensors(item)]
    return []


def run(model: Any, args: tuple, seed: int = 0, grad: bool = False) -> list[Any]:
    import torch

    torch.manual_seed(seed)
    if grad:
        return tensors(model(*args))
    with torch.no_grad():
        return tensors(model(*args))


def max_error(found: list[Any], expected: list[Any]) -> float:
    """The largest |found - expected| / (ATOL + RTOL |expected|): at most 1 when every element agrees."""
    import torch

    worst = 0.0
    for f, e in zip(found, expected, strict=True):
        if not f.is_floating_point() and not f.is_complex():
            worst = max(worst, 0.0 if bool((f.cpu() == e.cpu()).all()) else float("inf"))
            continue
        f, e = f.detach().cpu().double(), e.detach().cpu().double()
        if not bool((torch.isfinite(f) == torch.isfinite(e)).all()) or not bool((f[~torch.isfinite(f)] == e[
                ~torch.isfinite(e)]).all()):
            return float("inf")  # a mask (-inf) in one place and not the other
        keep = torch.isfinite(e)
        f, e = f[keep], e[keep]
        worst = max(worst, float(((f - e).abs() / (ATOL + RTOL * e.abs())).max()) if f.numel() else 0.0)
    return worst


def signature(outs: list[Any]) -> list[tuple[tuple[int, ...], str]]:
    return [(tuple(t.shape), str(t.dtype)) for t in outs]


def check_case(case: Any, device: str, compile_it: bool) -> dict[str, Any]:
    import torch

    from tests.test_export import model_and_args

    row: dict[str, Any] = {"case": case.id}
    torch.manual_seed(0)  # the same initial weights on every run
    model, args = model_and_args(case)
    cpu_grads = _gradient_names(model, args)
    expected = run(model, args)
    model.to(device)
    dev_args = tuple(a.to(device) for a in args)
    found = run(model, dev_args)
    row["random_in_eval"] = random = max_error(run(model, dev_args, seed=1), found) > 1.0
    if signature(found) != signature(expected):
        row["outputs"] = f"FAIL: {signature(found)} on {device}, {signature(expected)} on the CPU"
    elif random:
        row["outputs"] = "ok (shapes and dtypes: random in eval)"
    else:
        err = max_error(found, expected)
        row["outputs"] = "ok" if err <= 1.0 else "FAIL"
        row["error"] = err

    try:
        with torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16):
            half = run(model, dev_args)
        # Non-finite where float32 is too (the -inf that masks another system's classes), nowhere else.
        pairs = [(h, f) for h, f in zip(half, found, strict=True) if f.is_floating_point()]
        finite = all(bool((torch.isfinite(h) == torch.isfinite(f)).all()) for h, f in pairs)
        rel = 0.0
        if finite and not random:
            for h, f in pairs:
                keep = torch.isfinite(f)
                if bool(keep.any()):
                    h, f = h[keep].float(), f[keep]
                    rel = max(rel, float((h - f).norm() / f.norm().clamp_min(1e-12)))
        row["autocast_rel"] = rel
        row["autocast"] = "ok" if finite and rel <= AUTOCAST_REL else f"FAIL: finite={finite}, rel={rel:.3g}"
    except Exception as err:  # noqa: BLE001 - reported in the table, with the message
        row["autocast"] = f"FAIL: {type(err).__name__}: {str(err).splitlines()[0][:160]}"

    if compile_it:
        try:
            compiled = torch.compile(model)
            err = max_error(run(compiled, dev_args), found)
            row["compile"] = "ok" if random or err <= 1.0 else f"FAIL: error {err:.3g}"
        except Exception as err:  # noqa: BLE001
            row["compile"] = f"FAIL: {type(err).__name__}: {str(err).splitlines()[0][:160]}"
    model.train()
    outs = [t for t in run(model, dev_args, grad=True) if t.is_floating_point() and t.requires_grad]
    loss = sum(t.float().square().mean() for t in outs)
    model.zero_grad(set_to_none=True)
    if outs:
        loss.backward()
    got = {n for n, p in model.named_parameters() if p.grad is not None}
    bad = sorted(n for n in got if not bool(torch.isfinite(p_grad(model, n)).all()))
    missing = sorted(cpu_grads - got)
    row["train"] = "ok" if not bad and not missing else f"FAIL: non-finite {bad[:3]}, missing {missing[:3]}"

    return row


def p_grad(model: Any, name: str) -> Any:
    return dict(model.named_parameters())[name].grad


def _gradient_names(model: Any, args: tuple) -> set[str]:
    """The parameters that receive a gradient from a CPU training step (the model left as it was)."""
    model.train()
    outs = [t for t in run(model, args, grad=True) if t.is_floating_point() and t.requires_grad]
    if outs:
        sum(t.float().square().mean() for t in outs).backward()
    names = {n for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    model.eval()
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="a torch device: cuda (default), cuda:1, cpu...")
    parser.add_argument("--only", nargs="+", default=None, metavar="CASE", help="case ids (default: every case)")
    parser.add_argument("--compile", nargs="*", default=[], metavar="CASE",
                        help="case ids to also run through torch.compile")
    parser.add_argument("--out", default=None, metavar="FILE", help="write the rows as JSON to FILE")
    args = parser.parse_args(argv)

    import torch

    from tests.test_export import CASES

    # Every argument checked before the first case runs (a bad device was a traceback, a mistyped case id ran
    # nothing and exited 0, an --out that cannot be written failed after every case had run).
    try:
        device = torch.device(args.device)
    except (RuntimeError, ValueError):
        parser.error(f"argument --device: expected a torch device such as cuda, cuda:1 or cpu, got `{args.device}`")
    if device.type == "meta":  # (accepted, then every check of every case failed)
        parser.error("argument --device: a meta tensor holds no values, so no output can be compared; give a device "
                     "that computes, such as cuda, cuda:1 or cpu")
    ids = [c.id for c in CASES]
    for option, given in (("--only", args.only or []), ("--compile", args.compile)):
        for case_id in given:
            if case_id not in ids:
                meant = difflib.get_close_matches(case_id, ids, n=1, cutoff=0.6)
                parser.error(f"argument {option}: no case `{case_id}`" + (f"; did you mean `{meant[0]}`?" if meant
                             else f" (the cases are the library's templates: {', '.join(ids[:3])}...)"))
    skipped = [case_id for case_id in args.compile if args.only is not None and case_id not in args.only]
    if skipped:  # it was silently not compiled
        parser.error(f"argument --compile: `{skipped[0]}` is not among the cases of --only, which alone run; add it "
                     "to --only")
    problem = unwritable(args.out, "--out") if args.out is not None else None
    if problem:
        parser.error(problem)
    missing = _missing(device)
    if missing:
        print(missing)
        return 1
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        print(f"{torch.cuda.get_device_name(device)} · torch {torch.__version__}")
    cases = [c for c in CASES if args.only is None or c.id in args.only]
    rows, failed = [], 0
    for case in cases:
        started = time.perf_counter()
        try:
            row = check_case(case, args.device, case.id in args.compile)
        except Exception as err:  # noqa: BLE001 - one case's crash is a failed row, not the end of the run
            row = {"case": case.id, "outputs": f"FAIL: {type(err).__name__}: {err}",
                   "trace": traceback.format_exc()[-2000:]}
        row["seconds"] = round(time.perf_counter() - started, 2)
        rows.append(row)
        bad = [k for k, v in row.items() if isinstance(v, str) and v.startswith("FAIL")]
        failed += bool(bad)
        print(f"{case.id:<52} outputs {row.get('outputs', '-'):<8.40} train {row.get('train', '-'):<6.40} "
              f"autocast {row.get('autocast', '-'):<6.60} " + (f"compile {row['compile']}" if "compile" in row else ""))
        if "trace" in row:
            print(row["trace"])
    print(f"{len(rows)} cases, {failed} with a failed check")
    if args.out is not None:
        from vibench.compiler.outputs import OutputError, write_atomic

        try:  # (the folder was checked before the first case: a disk that filled up since is said, not raised)
            write_atomic(args.out, json.dumps(rows, indent=1), "--out")
        except OutputError as err:
            print(f"device_check.py: {err}", file=sys.stderr)
            return 1
    return 1 if failed else 0


def _missing(device: Any) -> str | None:
    """Why ``device`` cannot be checked on this machine, or None: found before any case runs, for every device
    kind torch names (``mps`` or ``xpu`` without one, or a torch built without it, failed every case with a
    traceback). A device of another kind than CUDA is tried with one allocation."""
    import torch

    if device.type == "cuda":
        if not torch.cuda.is_available():
            return f"no CUDA device: {device} cannot be checked"
        if device.index is not None and device.index >= torch.cuda.device_count():
            return (f"no CUDA device {device.index}: this machine has {torch.cuda.device_count()} "
                    f"(cuda:0 to cuda:{torch.cuda.device_count() - 1}); {device} cannot be checked")
        return None
    try:
        torch.empty(1, device=device)
    except Exception as err:  # noqa: BLE001 - torch's kinds differ: NotImplementedError (mps), AssertionError (xpu)
        first = (str(err).strip().splitlines() or [""])[0][:160]
        return f"no {device.type} device: {device} cannot be checked ({type(err).__name__}: {first})"
    return None


def unwritable(path: str, flag: str, make_folder: bool = False) -> str | None:
    """Why a file cannot be written to ``path`` (the option ``flag`` names it), as a usage error says it, or
    None. A symbolic link is followed, as the file is written through it: a dangling link whose target's folder
    does not exist cannot be written (it passed, and the write failed once every case had run). ``make_folder``:
    a missing folder of ``path`` is made (not one a link leads to). Also used by benchmarks/forward.py."""
    import tempfile

    from vibench.compiler.outputs import broken_link

    if not path:
        return f"argument {flag}: an empty path names no file; give a file name"
    shown = os.path.abspath(path)
    target = os.path.realpath(path)
    via = f" (a symbolic link to {target})" if os.path.islink(path) else ""
    if os.path.isdir(target):
        return f"argument {flag}: {shown}{via} is a folder: give a file name"
    if os.path.islink(target):  # realpath stops where links go round
        return f"argument {flag}: {shown} {broken_link(path)}; remove the link or give another name"
    folder = os.path.dirname(target)
    if make_folder and not os.path.lexists(path):
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError:
            pass  # said below: a file where a folder should be, or no permission
    if not os.path.isdir(folder):
        above = folder
        while not os.path.lexists(above):
            above = os.path.dirname(above)
        what = (f"its folder {folder} does not exist" if os.path.isdir(above) else
                f"{above} is {'a file' if os.path.isfile(above) else 'no folder'}, not a folder")
        return f"argument {flag}: cannot write {shown}{via}: {what}"
    if os.path.exists(target) and not os.path.isfile(target):
        return f"argument {flag}: {shown}{via} is not a regular file; give the name of a file to write"
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
        if os.path.exists(target):
            with open(target, "a", encoding="utf-8"):
                pass
    except OSError as err:
        return f"argument {flag}: cannot write {shown}{via}: {err.strerror or err}"
    return None


if __name__ == "__main__":
    sys.exit(main())
