"""The README's main job: compile a shipped spec, run the model on a synthetic vibration batch.

    python examples/run_demo.py [SPEC] [--set KEY=VALUE ...] [-I DIR ...] [-o FILE] [--batch B] [--length L]

1. ``vibench-compile SPEC -o build/model.py`` (the same compiler the CLI runs; no torch needed): the
   checkout's build/model.py, as `make run` writes it, from whatever folder the demo runs in; ``-o FILE``
   writes FILE instead (a path from the current folder, as vibench-compile's ``-o``, but a file: not ``-``);
2. import that file as a plain Python file, whatever its suffix (it needs nothing but torch);
3. feed it a batch of synthetic bearing-vibration signals (shaft harmonics, periodic fault
   impacts exciting a structural resonance, noise) and print shapes and parameter counts: the spec's
   warnings on standard error, as ``--check`` prints them, and its summary at the batch's sizes.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import importlib.util
import math
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_SPEC = os.path.join("examples", "resnet18_1d.yaml")
DEFAULT_OUT = os.path.join("build", "model.py")  # in the checkout, whatever the current folder (`make run`)
DEFAULT_BATCH, DEFAULT_LENGTH = 8, 2048
MAX_BATCH, MAX_LENGTH = 4096, 2**24
"""The largest --batch and --length (a length of 10**11 asked torch for 400 GB; a batch of 2**62 + 1 is a size no
compile takes)."""
MAX_ELEMENTS = 2**26
"""The most elements of the demo's inputs together (256 MiB of float32): a batch of 4096 signals of 16,384 samples.
Bounded over all inputs, not each: three inputs [B, L] at that size each held 768 MiB, and 1.8 GB at their peak."""
ELEMENTS_PER_DRAW = 2**20
"""The most elements :func:`synthetic_vibration` computes at once: its arithmetic makes several temporaries of
the size it draws, so a batch is drawn a block of signals at a time into the tensor it returns."""


# Symbols that name channels or features, never the length (`[B, 512, C]`: Dlinear's length is fixed).
CHANNEL_NAMES = frozenset({"C", "D", "F", "channels", "in_channels", "features", "input_dim"})


def free_sizes(inputs, batch: int, length: int) -> tuple[dict[str, int], set[str]]:
    """The demo's sizes of the model's free symbols, and the names of the length symbols. The batch is the
    leading symbol the inputs of rank 2 or more share (`B` if it is one; the first input's leading symbol when
    no input has rank 2). A length is `L`, and any symbol that is the one free axis besides the batch of an
    input of rank 2 or 3 (`[B, T]`, `[B, 1, T]`, `[B, T, 2]`) and not a channel name (CHANNEL_NAMES); each gets
    --length. Other free sizes (channels C, ...) are 1 (the demo gives one a constraint fixes, `P == 32`, that value:
    :func:`pinned_sizes`)."""
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


def pinned_sizes(constraints) -> dict[str, int]:
    """The sizes the model's constraints fix, ``P == 32`` (``c * S + k == 0`` in one free symbol, with a positive
    whole solution): the demo's 1 for such a size failed the check of its batch (isfm/backbone/B_11_MomentumEncoder's
    P, its tokens, must be 32)."""
    from vibench.compiler.symbolic import Expr

    sizes: dict[str, int] = {}
    for c in constraints:
        if c.op != "==" or not isinstance(c.lhs, Expr) or len(c.lhs.terms) != 1:
            continue
        ((monomial, coefficient),) = c.lhs.terms
        if len(monomial) == 1 and isinstance(monomial[0], str):
            value, rest = divmod(-c.lhs.const, coefficient)
            if rest == 0 and value >= 1:
                sizes.setdefault(monomial[0], value)
    return sizes


def from_checkout(path: str) -> str:
    """An absolute ``path`` as the demo names it once it runs in the checkout: relative to it when inside it."""
    return os.path.relpath(path, ROOT) if path.startswith(ROOT + os.sep) else path


def bounded(high: int):
    """An option type: a positive integer of at most ``high`` (a usage error otherwise, as vibench-compile's)."""
    from vibench.compiler.cli_args import _positive

    def parse(text: str) -> int:
        value = _positive(text)
        if value > high:
            raise argparse.ArgumentTypeError(f"expected a positive integer of at most {high:,} (the demo's batch is "
                                             f"drawn in memory), got {value:,}")
        return value

    return parse


def too_large(shapes: dict[str, tuple[int, ...]], options: dict[str, tuple[str, ...]]) -> str | None:
    """Why the demo's batch of ``shapes`` is too large to draw (more than MAX_ELEMENTS elements in all), or None.
    ``options`` names, per input, the option that sets each axis: ``--batch``, ``--length``, or "" for a size the
    spec fixes (`[B, 4096, L]`, or `${c}` for a template's channels) or the demo sets. When even --batch 1
    --length 1 is too large the message names the spec's sizes as the cause, not --batch or --length."""
    counts = {name: math.prod(dims) for name, dims in shapes.items()}
    total = sum(counts.values())
    if total <= MAX_ELEMENTS:
        return None
    least = {name: math.prod(size for size, option in zip(dims, options[name], strict=True) if not option)
             for name, dims in shapes.items()}  # each input at --batch 1 --length 1
    spec_bound = sum(least.values()) > MAX_ELEMENTS
    name = max(least if spec_bound else counts, key=(least if spec_bound else counts).__getitem__)
    dims = shapes[name]
    said = (f"the demo's input `{name}` would be {dims}: {counts[name]:,} elements"
            + (f" ({total:,} with the other inputs)" if len(shapes) > 1 else "")
            + f", more than the {MAX_ELEMENTS:,} (256 MiB of float32) the demo draws")
    fixed = ", ".join(f"axis {k} at {size:,}" for k, (size, option) in enumerate(zip(dims, options[name], strict=True))
                      if not option and size > 1)
    if spec_bound:
        return (f"{said}; the spec fixes its {fixed}, too large even at --batch 1 --length 1: give the spec a smaller "
                "channel or feature size (--set, for a template's parameter), or another spec")
    given = " or ".join(sorted({option for axes in options.values() for option in axes if option}))
    return f"{said}" + (f" (the spec fixes its {fixed})" if fixed else "") + f"; give a smaller {given}"


def synthetic_vibration(batch: int, channels: int, length: int, fs: float = 12_000.0, seed: int = 0):
    """Bearing-like vibration: 1x/2x shaft harmonics, fault impacts ringing at a resonance, noise. Each signal
    draws its own shaft speed, fault rate and resonance; the signals are computed as tensors, a block of
    them at a time (a Python loop per signal took 18 minutes for 4096 x 4096 signals of 4 samples)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    count = batch * channels
    t = torch.arange(length, dtype=torch.float32) / fs
    shaft = 20 + 10 * torch.rand(count, 1, generator=gen)  # Hz
    fault = shaft * (3 + 2 * torch.rand(count, 1, generator=gen))  # an outer-race-like defect rate
    resonance = 2500 + 1500 * torch.rand(count, 1, generator=gen)
    out = torch.empty(count, length)
    step = max(1, ELEMENTS_PER_DRAW // max(length, 1))
    for start in range(0, count, step):
        rows = slice(start, start + step)
        x = torch.sin(2 * math.pi * shaft[rows] * t) + 0.3 * torch.sin(2 * math.pi * 2 * shaft[rows] * t)
        since_impact = torch.remainder(t, 1.0 / fault[rows])
        x += 2.0 * torch.exp(-800 * since_impact) * torch.sin(2 * math.pi * resonance[rows] * since_impact)
        x += 0.2 * torch.randn(x.shape, generator=gen)
        out[rows] = x
    return out.reshape(batch, channels, length)


def main() -> int:
    import vibench
    from vibench.compiler.cli_args import UsageError, _parse_sets, _search_path, _spec_path
    from vibench.compiler.diagnostics import MAX_SHOWN
    from vibench.compiler.outputs import OutputError, output_target, refuse_inputs, write_atomic
    from vibench.compiler.pipeline import compile_program, compile_source
    from vibench.compiler.report import check_report
    from vibench.compiler.resolve_sources import recording_sources

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", nargs="?", default=None, metavar="SPEC",
                        help="spec file (a path from the current folder) or a template such as cnn/ResNet1D, on the "
                        f"spec path or in the library; default: {DEFAULT_SPEC} of the checkout")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                        help="override a template parameter, as vibench-compile --set (VALUE is read as YAML)")
    parser.add_argument("--spec-path", "-I", dest="spec_path", action="append", default=[], metavar="DIR",
                        help="extra folder to search for SPEC, `extends:` and block references, as vibench-compile "
                        "-I (also VIBENCH_SPEC_PATH)")
    parser.add_argument("-o", "--out", default=None, metavar="FILE",
                        help="where to write model.py (a path from the current folder; its folder must exist; a file, "
                        f"which the demo imports, not -); default: {DEFAULT_OUT} of the checkout, as `make run` "
                        "writes it")
    # (None when not given: a size the model fixes, `L == 512`, then takes the model's value, not the default)
    parser.add_argument("--batch", type=bounded(MAX_BATCH), default=None,
                        help=f"samples in the synthetic batch (default: {DEFAULT_BATCH}; at most {MAX_BATCH:,})")
    parser.add_argument("--length", type=bounded(MAX_LENGTH), default=None,
                        help=f"samples per signal, the size L of the model's inputs (default: {DEFAULT_LENGTH}; at "
                        f"most {MAX_LENGTH:,})")
    args = parser.parse_args()
    # The spec, its --set values, the search path and -o as vibench-compile reads them from the caller's folder
    # (its messages name `--set backbone=...`, not a Python keyword); the spec and the output named from the
    # checkout (where the demo runs, so that build/ lands there) when they lie inside it.
    try:
        params, shown = _parse_sets(args.sets)
        search = [os.path.abspath(folder) for folder in _search_path(args)]
        spec = os.path.join(ROOT, DEFAULT_SPEC) if args.spec is None else os.path.abspath(_spec_path(args.spec, search))
        if args.out == "-":  # vibench-compile's standard output: the demo would write a file named `-`
            raise UsageError("-o -: the demo writes model.py to a file and imports it; give a file name "
                             "(`vibench-compile SPEC -o -` writes standard output)")
        target = None if args.out is None else {f"-o {args.out}": output_target(args.out, "-o", streams=False)}
    except (UsageError, OutputError) as err:
        parser.error(str(err))
    out = os.path.join(ROOT, DEFAULT_OUT) if args.out is None else os.path.abspath(args.out)
    spec, out = from_checkout(spec), from_checkout(out)
    os.chdir(ROOT)
    if args.out is None:
        os.makedirs(os.path.dirname(DEFAULT_OUT), exist_ok=True)

    started = time.perf_counter()
    read: set[str] = set()
    try:
        with recording_sources() as sources:  # the files a warning quotes, as vibench-compile --check shows them
            program = compile_program(spec, params=params or None, search_path=search, overrides_text=shown,
                                      files_read=read)
        source = compile_source(program, out_path=out)
    except vibench.SpecError as err:
        print(err.render(), file=sys.stderr)
        return 1
    for warning in program.warnings[:MAX_SHOWN]:  # (`with: {d_model: 128}` that no component reads: W104)
        print(warning.render(sources) + "\n", file=sys.stderr)
    if len(program.warnings) > MAX_SHOWN:
        print(f"... and {len(program.warnings) - MAX_SHOWN:,} more (the first {MAX_SHOWN} of "
              f"{len(program.warnings):,} are shown)\n", file=sys.stderr)
    try:  # `-o examples/resnet18_1d.yaml` would have replaced the spec it compiles
        refuse_inputs(target or {}, read)
    except OutputError as err:
        parser.error(str(err))
    elapsed = time.perf_counter() - started
    root = program.root
    batch_size, length = args.batch or DEFAULT_BATCH, args.length or DEFAULT_LENGTH
    sizes, lengths = free_sizes(root.inputs, batch_size, length)
    given = {name for name in sizes if (args.length if name in lengths else args.batch) is not None}
    pinned = {name: value for name, value in pinned_sizes(root.constraints).items() if name not in given}
    sizes.update(pinned)
    shapes = {name: tuple(d if isinstance(d, int) else sizes.get(str(d), 1) for d in t.shape)
              for name, t in root.inputs}
    options = {name: tuple("" if isinstance(d, int) or str(d) not in sizes or str(d) in pinned else
                           "--length" if str(d) in lengths else "--batch" for d in t.shape) for name, t in root.inputs}
    problem = too_large(shapes, options)
    if problem:  # before the bound compile and the draw (a size the spec fixes may be the large one too)
        parser.error(problem)
    if pinned:
        fixed = ", ".join(f"{name} set to {value}" for name, value in sorted(pinned.items()))
        print(f"(free size{'s' if len(pinned) > 1 else ''} {fixed}, as the model requires)")
    ones = sorted({str(d) for _, t in root.inputs for d in t.shape if not isinstance(d, int)} - set(sizes))
    if ones:
        print(f"(free size{'s' if len(ones) > 1 else ''} {', '.join(ones)} set to 1)")
    try:  # the batch's sizes against the model's constraints (L a multiple of the patch length, ...)
        bound = compile_program(spec, params=params or None, inputs=shapes, search_path=search, overrides_text=shown)
    except vibench.SpecError as err:
        print(f"the demo's batch (--batch {batch_size}, --length {length}) does not fit {spec}:", file=sys.stderr)
        print(err.render(), file=sys.stderr)
        return 1
    try:
        write_atomic(out, source, "-o" if args.out is not None else None)
    except OutputError as err:  # a full disk, no permission: said as vibench-compile says it
        print(f"run_demo.py: {err}", file=sys.stderr)
        return 2
    print(f"compiled {spec} in {elapsed:.2f} s -> {os.path.abspath(out)}")
    # the report at the demo's sizes: its shapes and FLOPs are the batch's, not formulas to bind with --input
    print(check_report(bound, summary=True, written=None), end="\n\n")

    import torch

    # A loader named here, not found by the suffix: `-o m.txt` or `-o mdl` is a model.py too (spec_from_file_location
    # finds no loader for those and gave None).
    loader = importlib.machinery.SourceFileLoader("vibench_demo_model", out)
    module_spec = importlib.machinery.ModuleSpec(loader.name, loader, origin=out)
    module_spec.has_location = True  # the module's __file__ is the file written
    module = importlib.util.module_from_spec(module_spec)
    # model.py needs nothing but torch. Run as that file is the text this run wrote there: a demo started beside
    # this one rewrites build/model.py, and reading the file back ran the other's model (seen in parallel tests).
    sys.modules[module_spec.name] = module
    exec(compile(source, module_spec.origin or out, "exec"), module.__dict__)
    torch.manual_seed(0)
    model = getattr(module, root.name)().eval()
    batch, described = {}, {}
    for name, t in root.inputs:
        length_first = len(t.shape) == 3 and str(t.shape[1]) in lengths
        batch[name], described[name] = demo_input(name, t.dtype, shapes[name], length_first)
    with torch.no_grad():
        started = time.perf_counter()
        try:
            output = model(**batch)
        except (RuntimeError, NotImplementedError) as err:  # an operation torch lacks on the CPU for a dtype
            dtypes = ", ".join(f"{name} {t.dtype}" for name, t in root.inputs)
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            print(f"the model compiled, but torch cannot run it on the CPU with the demo's batch ({dtypes}): {first}",
                  file=sys.stderr)
            return 1
        elapsed = time.perf_counter() - started
    count = sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters())
    print(f"model {root.name}: {count:,} parameters (imported from {os.path.abspath(out)})")
    for name, value in batch.items():
        print(f"input  {name}: {tuple(value.shape)} {str(value.dtype).removeprefix('torch.')} {described[name]}")
    outputs = output if isinstance(output, dict) else {root.outputs[0][0]: output}
    for name, value in outputs.items():
        print(f"output {name}: {tuple(value.shape)} {str(value.dtype).removeprefix('torch.')}{statistics(value)}")
    print(f"forward pass: {elapsed * 1000:.1f} ms on {torch.get_num_threads()} CPU thread(s)")
    return 0


def demo_input(name: str, dtype: str, dims: tuple[int, ...], length_first: bool):
    """(the demo's tensor for an input of the declared ``dtype`` and sizes ``dims``, what it holds): integer ids are 1
    (system 1), a bool mask is all true, `fs` is 12 kHz, an input of rank 3 is synthetic vibration (``length_first``:
    the (B, L, C) layout), another is random; each in ``dtype``, which model.py checks (float64, float16, complex64
    inputs given float32 were a ValueError)."""
    import torch

    wanted = getattr(torch, dtype)
    if dtype.startswith("int"):  # an id per sample (e.g. ISFM's system_id): system 1
        return torch.ones(*dims, dtype=wanted), "system id 1"
    if dtype == "bool":
        return torch.ones(*dims, dtype=wanted), "all true"
    if name == "fs":  # ISFM's sampling rate per sample
        return torch.full(dims, 12_000.0).to(wanted), "sampling rate 12 kHz"
    if len(dims) == 3 and length_first:  # (B, L, C) layout
        value, what = synthetic_vibration(dims[0], dims[2], dims[1]).transpose(1, 2), "synthetic bearing vibration"
    elif len(dims) == 3:
        value, what = synthetic_vibration(dims[0], dims[1], dims[2]), "synthetic bearing vibration"
    else:
        value, what = torch.randn(*dims), "random"
    return value.to(wanted), what + (" (fs = 12 kHz)" if what.startswith("synthetic") else "")


def statistics(value) -> str:
    """``  mean +0.0002  std 0.0464`` for a float output (of the magnitudes for a complex one); nothing for an
    integer or bool one (an int64 output's mean() raised)."""
    if value.is_complex():
        value, label = value.abs(), "mean |z|"
    elif value.is_floating_point():
        label = "mean"
    else:
        return ""
    value = value.double()  # (float16 and bfloat16 sums round)
    spread = f"  std {value.std().item():.4f}" if value.numel() > 1 else ""
    return f"  {label} {value.mean().item():+.4f}{spread}"


if __name__ == "__main__":
    sys.exit(main())
