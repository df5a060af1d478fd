"""``vibench-compile``: the command line.

    vibench-compile SPEC [-o OUT] [--check] [--set KEY=VALUE ...] [--input NAME=DIMS ...]
                    [--summary] [--graph OUT.html|.svg|.png|.dot|.mmd] [--depth N] [--format text|json]
                    [--spec-path DIR ...]
                    [--max-nodes N] [--max-params N] [--metadata FILE]
                    [--weights CKPT [--weights-prefix PREFIX] [--trust-checkpoint]]
    vibench-compile --list [TEMPLATE] | --blocks [BLOCK]
    vibench-compile schema [-o FILE] [--template NAME] [--spec-path DIR ...]

Exit codes: 0 success, 1 the spec has errors, 2 usage errors (bad flags, unreadable paths, an
output that would overwrite an input), 3 an internal error (a bug in vibench; please report it).

Outputs (``-o``, ``--graph``) are checked before compiling and written only after everything
succeeded: never over the spec or any file the compilation read, never over a device or folder;
a symlink is written through (its target replaced atomically, the link kept); a new file gets
0666 less the umask, a replaced one keeps its mode. ``-o -`` writes the source to standard output.

``--weights CKPT`` (with ``-o model.py``) also writes ``model.pt`` beside it: the reference
checkpoint's weights (a PHM-Vibench ``state_dict`` or Lightning checkpoint) renamed to the model's
keys, a ``state_dict`` the emitted class loads with ``load_state_dict``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from vibench.compiler.outputs import OutputError, output_target, refuse_inputs, write_atomic

EXIT_OK, EXIT_SPEC, EXIT_USAGE, EXIT_BUG = 0, 1, 2, 3


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="vibench-compile",
        description="Compile a vibench spec (YAML/JSON) into a standalone PyTorch model.py.",
        epilog="Subcommand: `vibench-compile schema [-o FILE]` writes the JSON Schema of the spec language.",
    )
    p.add_argument("spec", nargs="?",
                   help="spec file (.yaml, .yml or .json), or a library template such as cnn/ResNet1D")
    p.add_argument("-o", "--output", metavar="OUT",
                   help="write model.py here (atomically, through a symlink to its target; `-` for standard "
                   "output); default: standard output, unless --graph is given")
    p.add_argument("--check", action="store_true", help="validate and shape-check only; write nothing")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override a template parameter (VALUE is read as YAML: 4, 0.1, true, [2,2,2,2])")
    p.add_argument("--input", dest="inputs", action="append", default=[], metavar="NAME=DIMS",
                   help="bind an input's dimensions, e.g. x=32,1,1024 (checks constraints, fixes symbols)")
    p.add_argument("--summary", action="store_true", help="print each node's output shape, parameters and FLOPs")
    p.add_argument("--graph", metavar="OUT",
                   help="write the graph, only when the spec compiles: a self-contained page (.html), SVG or PNG "
                   "(.svg/.png, needs Graphviz's dot), Graphviz DOT (.dot/.gv) or Mermaid (.mmd/.md)")
    p.add_argument("--depth", type=_depth, default=0, metavar="N",
                   help="with --summary and --graph: expand composite nodes N levels deep (default 0; the .html "
                   "page starts there and expands or collapses on click)")
    p.add_argument("--max-nodes", type=_positive, metavar="N",
                   help="most nodes a model may have after expansion (default 100,000)")
    p.add_argument("--max-params", type=_positive, metavar="N",
                   help="most parameter elements a model may have (default 2**31 = 2,147,483,648)")
    p.add_argument("--format", choices=("text", "json"), default="text", help="diagnostics and report format")
    p.add_argument("--metadata", metavar="FILE",
                   help="PHM-Vibench's metadata table (.csv or .xlsx): num_classes = max(Label) + 1 per Dataset_id, "
                   "as PHM-Vibench's factory sets it")
    p.add_argument("--weights", metavar="CKPT",
                   help="with -o model.py: also write model.pt beside it, the reference checkpoint (state_dict or "
                   "Lightning .ckpt) renamed to the model's keys, for model.load_state_dict")
    p.add_argument("--weights-prefix", default="network.", metavar="PREFIX",
                   help="the model's key prefix in a Lightning checkpoint (default: network.; '' for none)")
    p.add_argument("--trust-checkpoint", action="store_true",
                   help="read CKPT with torch.load(weights_only=False): only for a file you trust (Lightning "
                   "checkpoints keep hyper-parameters that weights_only refuses)")
    p.add_argument("--spec-path", "-I", dest="spec_path", action="append", default=[], metavar="DIR",
                   help="extra folder to search for `extends:` and block references (also VIBENCH_SPEC_PATH)")
    p.add_argument("--list", nargs="?", const="", default=None, metavar="NAME",
                   help="list the spec library's templates, or show one template's parameters, interface, slots "
                   "and an example (--list cnn/ResNet1D), and exit")
    p.add_argument("--blocks", nargs="?", const="", default=None, metavar="NAME",
                   help="list the block catalogue, or show one block's parameters, ports, shape rule and an example "
                   "(--blocks conv1d), and exit")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    return p


def _positive(text: str) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got `{_clip(text)}`") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _depth(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of levels (0 or more), got `{_clip(text)}`") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number of levels (0 or more), got {value}")
    return value


def _schema_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="vibench-compile schema", description="Write the JSON Schema of the spec language.")
    p.add_argument("-o", "--output", metavar="FILE", help="write here (atomically); default: standard output")
    p.add_argument("--template", metavar="NAME",
                   help="a schema for specs that extend this template (completes its `with:` parameters): "
                   "family/Name on the spec path, or a spec file")
    p.add_argument("--spec-path", "-I", dest="spec_path", action="append", default=[], metavar="DIR",
                   help="extra folder to search for --template (also VIBENCH_SPEC_PATH)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    # pydantic scans every installed distribution for plugins the first time it validates
    # (about 20 ms of this command's start-up, measured); the CLI uses none.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    try:
        if args and args[0] == "schema":
            return _schema(_schema_parser().parse_args(args[1:]))
        return _compile(_parser().parse_args(args))
    except (UsageError, OutputError) as err:
        print(f"vibench-compile: usage error: {err}", file=sys.stderr)
        print("run `vibench-compile --help` for the options", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception:  # noqa: BLE001 - last line of defence: a bug must not look like a spec error
        import traceback

        print("vibench-compile: internal error (this is a bug in vibench; please report it with the spec):",
              file=sys.stderr)
        traceback.print_exc()
        return EXIT_BUG


# --------------------------------------------------------------------------------------------


def _compile(ns: argparse.Namespace) -> int:
    if ns.version:
        from vibench._version import __version__

        print(f"vibench-compile {__version__}")
        return EXIT_OK
    if ns.list is not None or ns.blocks is not None:
        return _reference(ns)
    if not ns.spec:
        raise UsageError("no spec given")
    if ns.check and ns.output:
        raise UsageError("--check writes nothing; drop -o or --check")
    if ns.depth and not (ns.summary or ns.graph):
        raise UsageError("--depth expands composites in --summary and --graph; give one of them")
    path = _spec_path(ns.spec, ns.spec_path)
    params, shown = _parse_sets(ns.sets)
    metadata = _read_metadata(ns.metadata)
    weights_path = _weights_target(ns)
    inputs = _parse_inputs(ns.inputs)
    search = list(ns.spec_path) + [p for p in os.environ.get("VIBENCH_SPEC_PATH", "").split(os.pathsep) if p]
    to_file = ns.output is not None and ns.output != "-"
    # Outputs are checked before compiling (and against every file read, after): nothing is
    # written unless everything succeeds.
    targets = {f"{flag} {_clip(out)}": output_target(out, flag)
               for flag, out in (("-o", ns.output if to_file else None), ("--graph", ns.graph),
                                 ("--weights", weights_path)) if out is not None}
    _check_graph_target(ns.graph)
    if len(set(targets.values())) < len(targets):
        raise UsageError("-o and --graph name the same file")
    refuse_inputs(targets, {os.path.realpath(path)} | ({os.path.realpath(ns.weights)} if ns.weights else set()))

    from vibench.compiler.diagnostics import SpecError
    from vibench.compiler.pipeline import compile_program

    read: set[str] = set()
    try:
        program = compile_program(path, params=params or None, inputs=inputs or None, search_path=search,
                                  display=ns.spec if os.path.exists(ns.spec) else None,
                                  overrides_text=shown, max_nodes=ns.max_nodes, max_params=ns.max_params,
                                  files_read=read, metadata=metadata)
        refuse_inputs(targets, read)
        source = None
        if not ns.check and (ns.output is not None or not ns.graph):  # --graph alone writes only the picture
            from vibench.compiler.pipeline import compile_source

            source = compile_source(program, out_path=ns.output if to_file else None)
    except SpecError as err:
        _print_errors(err, ns)
        return EXIT_SPEC
    weights = _reference_weights(program, ns) if weights_path is not None else None
    if isinstance(weights, str):
        print(f"vibench-compile: --weights {_clip(ns.weights)}: {weights}", file=sys.stderr)
        return EXIT_SPEC

    if program.warnings and ns.format == "text":
        sources = {program.source.display_path: _read_text(path)}
        for warning in program.warnings:
            print(warning.render(sources) + "\n", file=sys.stderr)
    graph = None
    if ns.graph:
        from vibench.compiler.render import RenderError, graph_output

        try:
            graph = graph_output(program, ns.graph, ns.depth)
        except RenderError as err:
            raise UsageError(f"--graph {_clip(ns.graph)}: {err}") from None
    report_needed = ns.check or ns.summary or ns.format == "json"
    if source is not None:
        if to_file:
            write_atomic(ns.output, source)
        else:
            sys.stdout.write(source)
    if graph is not None:
        write_atomic(ns.graph, graph)
    if weights is not None and weights_path is not None:
        write_atomic(weights_path, weights)
    if report_needed:
        from vibench.compiler.report import check_report, check_report_json

        written = ns.output if to_file else None
        if ns.format == "json":
            report = check_report_json(program, summary=ns.summary, written=written, depth=ns.depth)
            print(json.dumps(report, indent=2))
        elif to_file or ns.check or (ns.graph and source is None):
            print(check_report(program, summary=ns.summary, written=written, depth=ns.depth))
        else:
            print(check_report(program, summary=ns.summary, written=None, depth=ns.depth), file=sys.stderr)
    return EXIT_OK


def _check_graph_target(graph: str | None) -> None:
    """A --graph name with a known suffix; for .svg/.png, Graphviz's dot on PATH (checked before compiling)."""
    if graph is None:
        return
    from vibench.compiler.render import DOT_SUFFIXES, GRAPH_SUFFIXES, dot_binary, missing_dot_message

    suffix = os.path.splitext(graph.lower())[1]
    if suffix not in GRAPH_SUFFIXES:
        raise UsageError(f"--graph {_clip(graph)}: use a .html, .svg, .png, .dot, .gv, .mmd or .md file name")
    if suffix in DOT_SUFFIXES and dot_binary() is None:
        raise UsageError(f"--graph {_clip(graph)}: {missing_dot_message(DOT_SUFFIXES[suffix])}")


def _read_metadata(file: str | None) -> Any:
    """The metadata table of --metadata (a usage error when it cannot be read)."""
    if file is None:
        return None
    from vibench.compiler.phm_metadata import MetadataError, read_metadata

    try:
        return read_metadata(file)
    except MetadataError as err:
        raise UsageError(f"--metadata: {err}") from None


def _weights_target(ns: argparse.Namespace) -> str | None:
    """Where --weights writes: the -o file's name with .pt (model.py -> model.pt)."""
    if ns.weights is None:
        return None
    if ns.check or ns.output in (None, "-"):
        raise UsageError("--weights needs -o FILE (the state_dict is written beside it, as FILE's name with .pt)")
    if not os.path.isfile(ns.weights):
        raise UsageError(f"--weights {_clip(ns.weights)}: no such file")
    target = os.path.splitext(ns.output)[0] + ".pt"
    if os.path.realpath(target) == os.path.realpath(ns.output):
        raise UsageError("-o names a .pt file; the weights would overwrite it (name the model file model.py)")
    return target


def _reference_weights(program: Any, ns: argparse.Namespace) -> bytes | str:
    """The model's state_dict with the checkpoint loaded (torch.save bytes), or why it does not fit."""
    import io

    import torch

    from vibench.runtime.build import build_program
    from vibench.runtime.checkpoint import ReferenceCheckpointError, load_reference_state_dict

    model = build_program(program)
    try:
        load_reference_state_dict(model, ns.weights, strict=True, prefix=ns.weights_prefix or None,
                                  weights_only=not ns.trust_checkpoint)
    except ReferenceCheckpointError as err:
        return str(err)
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getvalue()


def _read_text(path: str) -> str:
    """The spec's text again, for rendering warnings (bounded like the loader's read)."""
    from vibench.compiler.load import MAX_BYTES

    with open(path, "rb") as fh:
        return fh.read(MAX_BYTES).decode("utf-8-sig", errors="replace")


def _print_errors(err: Any, ns: argparse.Namespace) -> None:
    """At most MAX_SHOWN diagnostics, then how many more: a spec with thousands of errors answers fast."""
    from vibench.compiler.diagnostics import MAX_SHOWN

    n = len(err.diagnostics)
    if ns.format == "json":
        report: dict[str, Any] = {"ok": False, "diagnostics": err.to_json(limit=MAX_SHOWN)}
        if n > MAX_SHOWN:
            report["omitted"] = n - MAX_SHOWN
        print(json.dumps(report, indent=2))
    else:
        print(err.render(limit=MAX_SHOWN), file=sys.stderr)
        errors = sum(d.severity == "error" for d in err.diagnostics)
        warned = n - errors
        tail = f" and {warned:,} warning{'s' if warned != 1 else ''}" if warned else ""
        print(f"\n{errors:,} error{'s' if errors != 1 else ''}{tail} in {_clip(ns.spec, 200)}", file=sys.stderr)


def _spec_path(spec: str, spec_path: list[str]) -> str:
    if os.path.exists(spec):
        if os.path.isdir(spec):
            raise UsageError(f"{spec} is a folder, not a spec file")
        return spec
    # A library template name: cnn/ResNet1D
    from vibench.compiler.resolve import LIBRARY_DIR, SPEC_SUFFIXES

    for root in list(spec_path) + [LIBRARY_DIR]:
        for suffix in ("",) + SPEC_SUFFIXES:
            cand = os.path.join(root, spec + suffix)
            if os.path.isfile(cand):
                return cand
    raise UsageError(f"no such spec file: {spec}")


MAX_SET_CHARS = 10_000
MAX_DIM = 2**62


def _parse_sets(items: list[str]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """``--set KEY=VALUE`` values, read as YAML by the spec loader: the same safety limits as a spec
    file (no tags, nesting at most 64 levels, bounded aliases), and at most :data:`MAX_SET_CHARS`."""
    from vibench.compiler.diagnostics import SpecError
    from vibench.compiler.load import load_text

    out: dict[str, Any] = {}
    shown: list[tuple[str, str]] = []
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--set expects KEY=VALUE, got `{_clip(item)}`")
        if len(key) > 200 or not key.isprintable():
            raise UsageError(f"--set expects KEY=VALUE with a parameter name as KEY, got `{_clip(key)}`")
        if len(text) > MAX_SET_CHARS:
            raise UsageError(f"--set {key}: value too long ({len(text):,} characters; at most {MAX_SET_CHARS:,})")
        try:
            value = load_text(text, f"--set {key}").data if text.strip() else ""
        except SpecError as err:
            (diag, *_) = err.diagnostics
            if "contains it" in diag.message:  # `&a [*a]`
                raise UsageError(f"--set {key}: `{_clip(text)}` refers to itself") from None
            raise UsageError(f"--set {key}: cannot read `{_clip(text)}` as a value: {diag.message}") from None
        out[key] = value
        shown.append((key, text))
    return out, shown


def _clip(text: str, limit: int = 80) -> str:
    """A user's text in a message: one line, at most ``limit`` characters."""
    flat = text.encode("unicode_escape").decode("ascii") if not text.isprintable() else text
    return flat if len(flat) <= limit else flat[:limit] + "..."


def _parse_inputs(items: list[str]) -> dict[str, tuple[int, ...]]:
    out: dict[str, tuple[int, ...]] = {}
    for item in items:
        name, sep, dims = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--input expects NAME=DIMS such as x=32,1,1024, got `{_clip(item)}`")
        name = _clip(name.strip())
        parts = [d for d in dims.replace("x", ",").split(",") if d.strip()]
        try:
            values = tuple(int(d) if len(d.strip()) < 30 else MAX_DIM + 1 for d in parts)
        except ValueError:
            raise UsageError(f"--input {name}: dimensions must be integers, got `{_clip(dims)}`") from None
        if not values or any(v < 1 for v in values):
            raise UsageError(f"--input {name}: dimensions must be positive integers, got `{_clip(dims)}`")
        if any(v > MAX_DIM for v in values):
            raise UsageError(f"--input {name}: a dimension is larger than 2**62, got `{_clip(dims)}`")
        out[name] = values
    return out


def _reference(ns: argparse.Namespace) -> int:
    """``--list [NAME]`` and ``--blocks [NAME]``: the catalogue, or one entry's reference."""
    from vibench.compiler import reference_docs

    if ns.list is not None and ns.blocks is not None:
        raise UsageError("--list and --blocks: give one of them")
    try:
        if ns.list:
            search = list(ns.spec_path) + [p for p in os.environ.get("VIBENCH_SPEC_PATH", "").split(os.pathsep) if p]
            print(reference_docs.template_reference(ns.list, search))
        elif ns.list is not None:
            from vibench.compiler.library_index import list_templates

            print(list_templates())
        elif ns.blocks:
            print(reference_docs.block_reference(ns.blocks))
        else:
            print(_list_blocks())
    except reference_docs.UnknownName as err:
        raise UsageError(str(err)) from None
    return EXIT_OK


def _list_blocks() -> str:
    from vibench.compiler import registry

    blocks = registry.all_blocks()
    width = max(len(n) for n in blocks)
    lines = []
    for category in sorted({b.category for b in blocks.values()}):
        lines.append(f"{category}:")
        for name, block in blocks.items():
            if block.category == category:
                lines.append(f"  {name:<{width}}  {block.description}")
    return "\n".join(lines)


def _schema(ns: argparse.Namespace) -> int:
    from vibench.compiler.diagnostics import SpecError
    from vibench.schemas.jsonschema import schema_text

    search = list(ns.spec_path) + [p for p in os.environ.get("VIBENCH_SPEC_PATH", "").split(os.pathsep) if p]
    try:
        text = schema_text(template=ns.template, search_path=search)
    except KeyError as err:
        raise UsageError(str(err.args[0])) from None
    except SpecError as err:
        print(err.render(), file=sys.stderr)
        print(f"\nthe template {ns.template} has errors; no schema written", file=sys.stderr)
        return EXIT_SPEC
    if ns.output:
        write_atomic(ns.output, text)
    else:
        sys.stdout.write(text)
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
