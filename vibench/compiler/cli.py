"""``vibench-compile``: the command line.

    vibench-compile SPEC [-o OUT] [--check] [--set KEY=VALUE ...] [--input NAME=DIMS ...]
                    [--summary] [--graph OUT.mmd|OUT.dot] [--format text|json] [--spec-path DIR ...]
    vibench-compile --list | --blocks
    vibench-compile schema [-o FILE] [--template NAME] [--spec-path DIR ...]

Exit codes: 0 success, 1 the spec has errors, 2 usage errors (bad flags, unreadable paths),
3 an internal error (a bug in vibench; please report it with the spec).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

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
    p.add_argument("-o", "--output", metavar="OUT", help="write model.py here (atomically); default: standard output")
    p.add_argument("--check", action="store_true", help="validate and shape-check only; write nothing")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override a template parameter (VALUE is read as YAML: 4, 0.1, true, [2,2,2,2])")
    p.add_argument("--input", dest="inputs", action="append", default=[], metavar="NAME=DIMS",
                   help="bind an input's dimensions, e.g. x=32,1,1024 (checks constraints, fixes symbols)")
    p.add_argument("--summary", action="store_true", help="print each node's output shape, parameters and FLOPs")
    p.add_argument("--graph", metavar="OUT", help="write the graph as Mermaid (.mmd/.md) or Graphviz DOT (.dot/.gv)")
    p.add_argument("--format", choices=("text", "json"), default="text", help="diagnostics and report format")
    p.add_argument("--spec-path", "-I", dest="spec_path", action="append", default=[], metavar="DIR",
                   help="extra folder to search for `extends:` and block references (also VIBENCH_SPEC_PATH)")
    p.add_argument("--list", action="store_true", help="list the spec library's templates and exit")
    p.add_argument("--blocks", action="store_true", help="list the block catalogue and exit")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    return p


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
    except UsageError as err:
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
    if ns.list:
        from vibench.compiler.library_index import list_templates

        print(list_templates())
        return EXIT_OK
    if ns.blocks:
        print(_list_blocks())
        return EXIT_OK
    if not ns.spec:
        raise UsageError("no spec given")
    if ns.check and ns.output:
        raise UsageError("--check writes nothing; drop -o or --check")
    path = _spec_path(ns.spec, ns.spec_path)
    params, shown = _parse_sets(ns.sets)
    inputs = _parse_inputs(ns.inputs)
    search = list(ns.spec_path) + [p for p in os.environ.get("VIBENCH_SPEC_PATH", "").split(os.pathsep) if p]

    from vibench.compiler.diagnostics import SpecError
    from vibench.compiler.pipeline import compile_program

    try:
        program = compile_program(path, params=params or None, inputs=inputs or None, search_path=search,
                                  display=ns.spec if os.path.exists(ns.spec) else None,
                                  overrides_text=shown)
        source = None
        if not ns.check:
            from vibench.compiler.emit import emit

            source = emit(program, out_path=ns.output)
    except SpecError as err:
        if ns.format == "json":
            print(json.dumps({"ok": False, "diagnostics": err.to_json()}, indent=2))
        else:
            print(err.render(), file=sys.stderr)
            n = len(err.diagnostics)
            print(f"\n{n} error{'s' if n != 1 else ''} in {ns.spec}", file=sys.stderr)
        return EXIT_SPEC

    if program.warnings and ns.format == "text":
        with open(path, encoding="utf-8-sig") as fh:
            sources = {program.source.display_path: fh.read()}
        for warning in program.warnings:
            print(warning.render(sources) + "\n", file=sys.stderr)
    if ns.graph:
        from vibench.compiler.report import graph_text

        _write_atomic(ns.graph, graph_text(program, ns.graph))
    report_needed = ns.check or ns.summary or ns.format == "json"
    if source is not None:
        if ns.output:
            _write_atomic(ns.output, source)
        else:
            sys.stdout.write(source)
    if report_needed:
        from vibench.compiler.report import check_report, check_report_json

        if ns.format == "json":
            print(json.dumps(check_report_json(program, summary=ns.summary, written=ns.output), indent=2))
        elif ns.output or ns.check:
            print(check_report(program, summary=ns.summary, written=ns.output))
        else:
            print(check_report(program, summary=ns.summary, written=None), file=sys.stderr)
    return EXIT_OK


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


def _parse_sets(items: list[str]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    import yaml

    out: dict[str, Any] = {}
    shown: list[tuple[str, str]] = []
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--set expects KEY=VALUE, got `{item}`")
        try:
            value = yaml.load(text, Loader=yaml.CSafeLoader) if text.strip() else ""
        except yaml.YAMLError:
            raise UsageError(f"--set {key}: cannot read `{text}` as a value") from None
        if isinstance(value, (dict, list)) and len(text) > 10_000:
            raise UsageError(f"--set {key}: value too long")
        try:
            json.dumps(value)
        except ValueError:  # a value that contains itself (`&a [*a]`)
            raise UsageError(f"--set {key}: `{text}` refers to itself") from None
        except TypeError:  # timestamps: strings, as in spec files
            value = text.strip()
        out[key] = value
        shown.append((key, text))
    return out, shown


def _parse_inputs(items: list[str]) -> dict[str, tuple[int, ...]]:
    out: dict[str, tuple[int, ...]] = {}
    for item in items:
        name, sep, dims = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--input expects NAME=DIMS such as x=32,1,1024, got `{item}`")
        try:
            values = tuple(int(d) for d in dims.replace("x", ",").split(",") if d.strip())
        except ValueError:
            raise UsageError(f"--input {name}: dimensions must be integers, got `{dims}`") from None
        if not values or any(v < 1 for v in values):
            raise UsageError(f"--input {name}: dimensions must be positive integers, got `{dims}`")
        out[name.strip()] = values
    return out


def _write_atomic(path: str, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never a part."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"cannot write {path}: folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=".vibench-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except OSError as err:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise UsageError(f"cannot write {path}: {err.strerror or err}") from None


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
        _write_atomic(ns.output, text)
    else:
        sys.stdout.write(text)
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
