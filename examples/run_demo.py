"""The README's main job: compile a shipped spec, run the model on a synthetic vibration batch.

    python examples/run_demo.py [SPEC] [--set KEY=VALUE ...] [--batch B] [--length L]

1. ``vibench-compile SPEC -o build/model.py`` (the same compiler the CLI runs; no torch needed);
2. import build/model.py as a plain Python file (it needs nothing but torch);
3. feed it a batch of synthetic bearing-vibration signals (shaft harmonics, periodic fault
   impacts exciting a structural resonance, noise) and print shapes and parameter counts.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_SPEC = os.path.join("examples", "resnet18_1d.yaml")


# Symbols that name channels or features, never the length (`[B, 512, C]`: Dlinear's length is fixed).
CHANNEL_NAMES = frozenset({"C", "D", "F", "channels", "in_channels", "features", "input_dim"})


def free_sizes(inputs, batch: int, length: int) -> tuple[dict[str, int], set[str]]:
    """The demo's sizes of the model's free symbols, and the names of the length symbols. The batch is the
    leading symbol the inputs of rank 2 or more share (`B` if it is one; the first input's leading symbol when
    no input has rank 2). A length is `L`, and any symbol that is the one free axis besides the batch of an
    input of rank 2 or 3 (`[B, T]`, `[B, 1, T]`, `[B, T, 2]`) and not a channel name (CHANNEL_NAMES); each gets
    --length. Other free sizes (channels C, ...) are 1."""
    def symbol(d) -> str | None:
        return str(d) if not isinstance(d, int) and str(d).isidentifier() else None

    shapes = [tuple(t.shape) for _, t in inputs]
    leads = [symbol(s[0]) for s in shapes if len(s) >= 2]
    leads = [d for d in leads if d is not None]
    if not leads:
        leads = [d for s in shapes[:1] if s and (d := symbol(s[0])) is not None]
    shared = [d for d in dict.fromkeys(leads) if all(d in (symbol(a) for a in s[:1]) for s in shapes if len(s) >= 2)]
    batch_name = "B" if "B" in leads else (shared or leads or [None])[0]
    sizes: dict[str, int] = {} if batch_name is None else {batch_name: batch}
    names = {str(d) for shape in shapes for d in shape if not isinstance(d, int)}
    lengths = {"L"} & names - set(sizes)
    for shape in shapes:
        rest = [symbol(d) for d in shape if not isinstance(d, int) and str(d) != batch_name]
        if len(shape) in (2, 3) and len(rest) == 1 and rest[0] is not None and rest[0] not in CHANNEL_NAMES:
            lengths.add(rest[0])
    sizes.update(dict.fromkeys(sorted(lengths), length))
    return sizes, lengths


def synthetic_vibration(batch: int, channels: int, length: int, fs: float = 12_000.0, seed: int = 0):
    """Bearing-like vibration: 1x/2x shaft harmonics, fault impacts ringing at a resonance, noise."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(length, dtype=torch.float32) / fs
    signals = []
    for _ in range(batch * channels):
        shaft = 20 + 10 * torch.rand(1, generator=gen).item()  # Hz
        fault = shaft * (3 + 2 * torch.rand(1, generator=gen).item())  # an outer-race-like defect rate
        resonance = 2500 + 1500 * torch.rand(1, generator=gen).item()
        x = torch.sin(2 * math.pi * shaft * t) + 0.3 * torch.sin(2 * math.pi * 2 * shaft * t)
        since_impact = torch.remainder(t, 1.0 / fault)
        x = x + 2.0 * torch.exp(-800 * since_impact) * torch.sin(2 * math.pi * resonance * since_impact)
        x = x + 0.2 * torch.randn(length, generator=gen)
        signals.append(x)
    return torch.stack(signals).reshape(batch, channels, length)


def main() -> int:
    import vibench
    from vibench.compiler.cli_args import UsageError, _parse_sets, _positive
    from vibench.compiler.outputs import write_atomic
    from vibench.compiler.pipeline import find_spec
    from vibench.compiler.report import check_report

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", nargs="?", default=None, metavar="SPEC",
                        help="spec file (a path from the current folder) or a library template such as "
                        f"cnn/ResNet1D; default: {DEFAULT_SPEC} of the checkout")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                        help="override a template parameter, as vibench-compile --set (VALUE is read as YAML)")
    parser.add_argument("--batch", type=_positive, default=8, help="samples in the synthetic batch (default: 8)")
    parser.add_argument("--length", type=_positive, default=2048,
                        help="samples per signal, the size L of the model's inputs (default: 2048)")
    args = parser.parse_args()
    try:
        params, _ = _parse_sets(args.sets)
    except UsageError as err:
        parser.error(str(err))
    # The spec as vibench-compile reads it from the caller's folder, named from the checkout (where the
    # demo runs, so that build/ lands there) when it lies inside it.
    try:
        spec = os.path.join(ROOT, DEFAULT_SPEC) if args.spec is None else os.path.abspath(find_spec(args.spec))
    except vibench.SpecError as err:
        print(err.render(), file=sys.stderr)
        return 1
    if spec.startswith(ROOT + os.sep):
        spec = os.path.relpath(spec, ROOT)
    os.chdir(ROOT)
    os.makedirs("build", exist_ok=True)

    out = os.path.join("build", "model.py")
    started = time.perf_counter()
    try:
        result = vibench.compile_spec(spec, params=params or None, out_path=out)
    except vibench.SpecError as err:
        print(err.render(), file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - started
    root = result.program.root
    sizes, lengths = free_sizes(root.inputs, args.batch, args.length)
    shapes = {name: tuple(d if isinstance(d, int) else sizes.get(str(d), 1) for d in t.shape)
              for name, t in root.inputs}
    ones = sorted({str(d) for _, t in root.inputs for d in t.shape if not isinstance(d, int)} - set(sizes))
    if ones:
        print(f"(free size{'s' if len(ones) > 1 else ''} {', '.join(ones)} set to 1)")
    try:  # the batch's sizes against the model's constraints (L a multiple of the patch length, ...)
        vibench.check(spec, params=params or None, inputs=shapes)
    except vibench.SpecError as err:
        print(f"the demo's batch (--batch {args.batch}, --length {args.length}) does not fit {spec}:", file=sys.stderr)
        print(err.render(), file=sys.stderr)
        return 1
    write_atomic(out, result.source)
    print(f"compiled {spec} in {elapsed:.2f} s -> {os.path.abspath(out)}")
    print(check_report(result.program, summary=True, written=None), end="\n\n")

    import torch

    module_spec = importlib.util.spec_from_file_location("vibench_demo_model", out)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    # model.py needs nothing but torch. Run as that file is the text this run wrote there: a demo started beside
    # this one rewrites build/model.py, and reading the file back ran the other's model (seen in parallel tests).
    sys.modules[module_spec.name] = module
    exec(compile(result.source, module_spec.origin or out, "exec"), module.__dict__)
    torch.manual_seed(0)
    model = getattr(module, root.name)().eval()
    batch = {}
    for name, t in root.inputs:
        dims = shapes[name]
        if t.dtype.startswith("int"):  # an id per sample (e.g. ISFM's system_id): system 1
            batch[name] = torch.ones(*dims, dtype=getattr(torch, t.dtype))
        elif name == "fs":  # ISFM's sampling rate per sample
            batch[name] = torch.full(dims, 12_000.0)
        elif len(dims) == 3 and str(t.shape[1]) in lengths:  # (B, L, C) layout
            batch[name] = synthetic_vibration(dims[0], dims[2], dims[1]).transpose(1, 2)
        elif len(dims) == 3:
            batch[name] = synthetic_vibration(dims[0], dims[1], dims[2])
        else:
            batch[name] = torch.randn(*dims)
    with torch.no_grad():
        started = time.perf_counter()
        output = model(**batch)
        elapsed = time.perf_counter() - started
    count = sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters())
    print(f"model {root.name}: {count:,} parameters (imported from {os.path.abspath(out)})")
    for name, value in batch.items():
        what = "synthetic bearing vibration (fs = 12 kHz)" if value.is_floating_point() and value.dim() == 3 else (
            "system id 1" if not value.is_floating_point() else "sampling rate 12 kHz" if name == "fs" else "random")
        print(f"input  {name}: {tuple(value.shape)} {what}")
    outputs = output if isinstance(output, dict) else {root.outputs[0][0]: output}
    for name, value in outputs.items():
        print(f"output {name}: {tuple(value.shape)}  mean {value.mean().item():+.4f}  std {value.std().item():.4f}")
    print(f"forward pass: {elapsed * 1000:.1f} ms on {torch.get_num_threads()} CPU thread(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
