"""``vibench-compile``: the command line.

    vibench-compile SPEC [-o OUT] [--check] [--set KEY=VALUE ...] [--input NAME=DIMS ...]
                    [--summary] [--graph OUT.html|.svg|.png|.dot|.mmd] [--depth N] [--format text|json]
                    [--spec-path DIR ...]
                    [--max-nodes N] [--max-params N] [--max-activation N] [--metadata FILE]
                    [--weights CKPT [--weights-prefix PREFIX] [--trust-checkpoint]]
    vibench-compile --list [TEMPLATE] | --blocks [BLOCK]
    vibench-compile schema [-o FILE] [--template NAME] [--spec-path DIR ...]

Exit codes: 0 success, 1 the spec has errors, 2 usage errors (bad flags, unreadable paths, an
output that would overwrite an input) and outputs that cannot be written, 3 an internal error (a bug
in vibench; please report it); Ctrl-C 130 and SIGTERM 143, with one line saying so.

Outputs (``-o``, ``--graph``) are checked before compiling and written only after everything
succeeded, all or none (:class:`vibench.compiler.outputs.Outputs`), before anything goes to standard
output: never over the spec or any file the compilation read, never over a device or folder, never
to a name ending in ``/``; a symlink is written through (its target replaced atomically, the link
kept); a new file gets 0666 less the umask, a replaced one keeps its mode. ``-o -`` writes the source
to standard output, as ``-o /dev/stdout`` does (``/dev/stderr``: standard error); a spec of ``-`` is
read from standard input (named ``<stdin>`` in messages; templates and files it names are found from
the current folder).

``--weights CKPT`` (with ``-o OUT``) also writes OUT's name with ``.pt`` beside it (``-o exp.py``:
``exp.pt``): the reference checkpoint's weights (a PHM-Vibench ``state_dict`` or Lightning checkpoint)
renamed to the model's keys, a ``state_dict`` the emitted class loads with ``load_state_dict``.

The parsers and the checks of option values are in :mod:`vibench.compiler.cli_args`, those of
``--weights`` (and model.pt) in :mod:`vibench.compiler.cli_weights`; the commands that compile no spec
(``--list``, ``--blocks``, ``schema``) in :mod:`vibench.compiler.cli_reference`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

from vibench.compiler.cli_args import (
    UsageError,
    _catalogue_ignored,
    _check_graph_target,
    _misplaced_subcommand,
    _parse_inputs,
    _parse_sets,
    _parser,
    _read_metadata,
    _refuse_same_file,
    _schema_parser,
    _search_path,
    _spec_path,
)
from vibench.compiler.cli_json import format_json, to_json
from vibench.compiler.cli_reference import plugin_warnings, reference, schema
from vibench.compiler.cli_streams import (
    EXIT_BUG,
    EXIT_OK,
    EXIT_SPEC,
    EXIT_USAGE,
    PipeClosed,
    Stderr,
    Stdout,
    Terminated,
    commit,
    exit_code_kept,
    on_sigterm,
    own_stdout,
    plugin_output_to,
    print_json,
    refuse_stdin,
    signal_received,
    standard_stream,
    stopped,
)
from vibench.compiler.cli_weights import read_checkpoint_arg, reference_weights, weights_output, weights_target
from vibench.compiler.display import clip_path
from vibench.compiler.outputs import (
    OutputError,
    Outputs,
    OutputWriteError,
    output_stream,
    output_target,
    refuse_inputs,
)

__all__ = ["EXIT_BUG", "EXIT_OK", "EXIT_SPEC", "EXIT_USAGE", "STDIN", "UsageError", "main"]
STDIN = "<stdin>"
"""How a spec read from standard input (`vibench-compile -`) is named in messages and in model.py."""


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    # pydantic scans every installed distribution for plugins the first time it validates
    # (about 20 ms of this command's start-up, measured); the CLI uses none.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    # What reaches the terminal is drawn safe (terminal_text.terminal_safe): a spec or file name holding an
    # escape sequence cannot clear the screen or retitle the window through a message that quotes it.
    stdout, stderr = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = Stdout(stdout), Stderr(stderr)
    terminate = on_sigterm()
    outputs = Outputs()  # the files this run writes, all or none; what was written, when a signal stops it
    ns: argparse.Namespace | None = None  # known once the command line parsed: a usage error after it heeds --format
    try:
        # Once the command line is read (--help prints on standard output), standard output is this command's
        # (model.py, the JSON report, the schema; written through own_stdout): whatever else prints meanwhile -
        # a plug-in's import, methods or validators - goes to standard error (cli_streams.plugin_output_to).
        if args and args[0] == "schema":
            schema_ns = _schema_parser().parse_args(args[1:])
            with plugin_output_to(sys.stderr):
                code = schema(schema_ns, outputs)
        else:
            ns = _parser().parse_args(args)
            with plugin_output_to(sys.stderr):
                code = _compile(ns, outputs)
        sys.stdout.flush()  # what is still buffered fails here (a full disk), not at interpreter exit
        return code
    except OutputWriteError as err:  # an I/O failure (a full disk, no permission), not a bad command line
        # a JSON reader gets a JSON document, as for a usage error (it got nothing on standard output); text
        # where standard output is the stream that failed
        if not (_wants_json(ns, args) and print_json({"ok": False, "write_error": str(err)})):
            print(f"vibench-compile: {err}", file=sys.stderr)
        return EXIT_USAGE
    except (UsageError, OutputError) as err:
        # as a spec's diagnostics: one JSON object on standard output; text when it cannot go there (closed,
        # `>&-`; its reader gone, `| true`; a full disk), as for a write error: a print raising in this handler
        # escaped every other one (a traceback, exit 1)
        if _wants_json(ns, args) and print_json({"ok": False, "usage_error": str(err)}):
            return EXIT_USAGE
        print(f"vibench-compile: usage error: {err}", file=sys.stderr)
        print("run `vibench-compile --help` for the options", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        stopped("interrupted", outputs)
        return 130
    except Terminated:
        stopped("terminated", outputs)
        raise
    except PipeClosed as err:
        return err.code
    except BrokenPipeError:  # standard output's reader is gone: the files were written before it
        if outputs.staged:
            print("vibench-compile: standard output was closed; no file written", file=sys.stderr)
            return EXIT_USAGE
        return EXIT_OK
    except Exception:  # noqa: BLE001 - last line of defence: a bug must not look like a spec error
        if signal_received() == signal.SIGINT:  # the interrupt, turned into another exception by what it stopped
            stopped("interrupted", outputs)
            return 130
        if signal_received() == signal.SIGTERM:
            stopped("terminated", outputs)
            raise Terminated(128 + signal.SIGTERM) from None
        import traceback

        print("vibench-compile: internal error (this is a bug in vibench; please report it with the spec):",
              file=sys.stderr)
        traceback.print_exc()
        return EXIT_BUG
    finally:
        outputs.discard()
        sys.stdout, sys.stderr = stdout, stderr
        terminate()


def _wants_json(ns: argparse.Namespace | None, args: list[str]) -> bool:
    """Whether errors are reported as JSON: ``--format json``, read from the words where the command line did not
    parse (an option given twice). ``schema`` has no --format (it writes JSON): `schema --format json` is an unknown
    option, answered in JSON as a compile's is (it was text), its words read after the subcommand's name."""
    return ns.format == "json" if ns is not None else format_json(args[1:] if args[:1] == ["schema"] else args)


# --------------------------------------------------------------------------------------------


def _compile(ns: argparse.Namespace, outputs: Outputs) -> int:
    if ns.version:
        from vibench._version import __version__

        print(f"vibench-compile {__version__}", file=own_stdout())
        return EXIT_OK
    if ns.list is not None or ns.blocks is not None:
        flag = "--list" if ns.list is not None else "--blocks"
        ignored = _catalogue_ignored(ns)
        if ignored:  # `spec.yaml --list -o x.py` printed the catalogue and wrote nothing, silently
            dropped = " and ".join([", ".join(ignored[:-1]), ignored[-1]] if len(ignored) > 1 else ignored)
            raise UsageError(f"{flag} prints the catalogue and exits: drop {dropped} "
                             f"(`{flag} NAME` shows one entry)")
        from vibench.compiler.diagnostics import SpecError

        try:
            return reference(ns)
        except SpecError as err:  # a spec-path template that does not load (`--list x/Bad -I lib`)
            with exit_code_kept(EXIT_SPEC):
                _print_errors(err, ns, ns.list)
            return EXIT_SPEC
        finally:
            if ns.blocks is not None:
                plugin_warnings()
    if not ns.spec:
        raise UsageError("no spec given")
    if ns.spec == "schema":  # after an option (`--format json schema`): a spec's name, unless none is so named
        _misplaced_subcommand(ns.spec, _search_path(ns))
    # `-o /dev/stdout` is standard output itself, as `-o -` (written through its link, the file a shell
    # appends to was replaced); `-o /dev/stderr` is standard error. None: a file, or no -o.
    stream = 1 if ns.output == "-" else None
    if ns.output not in (None, "-"):
        stream = output_stream(ns.output, "-o")
    if stream is not None:
        ns.output = "-"
    if ns.check and ns.output:
        raise UsageError("--check writes nothing; drop -o or --check")
    if ns.depth and not (ns.summary or ns.graph):
        raise UsageError("--depth expands composites in --summary and --graph; give one of them")
    if ns.format == "json" and not ns.check and (stream == 1 or (ns.output is None and not ns.graph)):
        # model.py and the JSON report both went to standard output: neither JSON nor Python
        raise UsageError("--format json prints its report on standard output, where model.py would go too: "
                         "write the model with -o FILE, or give --check")
    search = _search_path(ns)
    stdin = ns.spec == "-"  # the spec on standard input (a file named `-` is `./-`)
    path = None if stdin else _spec_path(ns.spec, search)
    params, shown = _parse_sets(ns.sets)
    metadata = _read_metadata(ns.metadata)
    weights_path = weights_target(ns)
    inputs = _parse_inputs(ns.inputs)
    to_file = ns.output is not None and ns.output != "-"
    # Outputs are checked before compiling (and against every file read, after): nothing is
    # written unless everything succeeds.
    targets = {f"{flag} {clip_path(out)}": output_target(out, flag)
               for flag, out in (("-o", ns.output if to_file else None), ("--graph", ns.graph)) if out is not None}
    weights_label = None  # how messages name model.pt
    if weights_path is not None:
        weights_label, real = weights_output(ns, weights_path)
        targets[weights_label] = real
    _check_graph_target(ns.graph)
    _refuse_same_file(targets)
    named = ((path, "the spec"), (ns.metadata, "the --metadata table"), (ns.weights, "the checkpoint --weights reads"))
    refuse_inputs(targets, {os.path.realpath(f): what for f, what in named if f})
    if stdin:
        refuse_stdin(targets)
    checkpoint = read_checkpoint_arg(ns) if weights_path is not None else None

    from vibench.compiler.diagnostics import SpecError
    from vibench.compiler.pipeline import compile_program
    from vibench.compiler.resolve_sources import recording_sources

    read: set[str] = set()
    text = None
    try:
        if stdin:
            text = _read_stdin()
        display = STDIN if stdin else ns.spec if os.path.exists(ns.spec) else None
        with recording_sources() as sources:  # the files a warning may quote: the spec, its templates, components
            program = compile_program(path, text=text, params=params or None, inputs=inputs or None,
                                      search_path=search, display=display, overrides_text=shown,
                                      max_nodes=ns.max_nodes, max_params=ns.max_params,
                                      max_activation=ns.max_activation, files_read=read, metadata=metadata)
        refuse_inputs(targets, read)
        source = None
        if not ns.check and (ns.output is not None or not ns.graph):  # --graph alone writes only the picture
            from vibench.compiler.pipeline import compile_source

            source = compile_source(program, out_path=ns.output if to_file else None, inplace=not ns.no_inplace)
    except SpecError as err:
        with exit_code_kept(EXIT_SPEC):
            _print_errors(err, ns)
        return EXIT_SPEC
    if program.warnings and ns.format == "text":  # before a checkpoint that does not fit: a note may say why
        _print_warnings(program, sources)
    weights = reference_weights(program, ns, checkpoint) if weights_path is not None else None
    if isinstance(weights, str):  # the checkpoint does not fit the model the spec describes
        with exit_code_kept(EXIT_SPEC):
            if ns.format == "json":
                from vibench.compiler.diagnostics import MAX_SHOWN

                failed: dict[str, Any] = {"ok": False, "diagnostics": [w.to_json() for w in
                                                                       program.warnings[:MAX_SHOWN]]}
                if len(program.warnings) > MAX_SHOWN:
                    failed["omitted"] = len(program.warnings) - MAX_SHOWN
                print(to_json(failed | {"weights": weights}, indent=2), file=own_stdout())
            else:
                print(f"vibench-compile: {weights}", file=sys.stderr)
        return EXIT_SPEC
    graph = None
    if ns.graph:
        from vibench.compiler.render import RenderError, graph_output

        try:
            graph = graph_output(program, ns.graph, ns.depth)
        except RenderError as err:
            raise UsageError(f"--graph {clip_path(ns.graph)}: {err}") from None
    report = None
    report_file: Any = own_stdout()  # standard error instead when model.py goes to standard output
    if ns.check or ns.summary or ns.format == "json":
        from vibench.compiler.report import check_report, check_report_json

        written = ns.output if to_file else None
        if ns.format == "json":
            report_json = check_report_json(program, summary=ns.summary, written=written, depth=ns.depth)
            # `written` names model.py alone (-o); every file the command writes, --graph's too, as given
            files = [f for f in (written, ns.graph, weights_path) if f is not None]
            report = to_json(report_json | ({"files_written": files} if files else {}), indent=2)
        elif to_file or ns.check or (ns.graph and source is None):
            report = check_report(program, summary=ns.summary, written=written, depth=ns.depth)
        else:  # model.py on a standard stream, the report on the other one
            report = check_report(program, summary=ns.summary, written=None, depth=ns.depth)
            # a payload asked for, not a diagnostic: written whole or exit 2, as model.py (sys.stderr drops errors)
            report_file = own_stdout() if stream == 2 else standard_stream(2)
    model_file = standard_stream(stream) if source is not None and not to_file else None
    for written_to in (report_file if report is not None else None, model_file):
        if written_to is not None and getattr(written_to, "stream", written_to) is None:  # `>&-` or `2>&-`
            what = "standard error" if written_to is sys.stderr else getattr(written_to, "what", "standard output")
            raise OutputError(f"cannot write {what}: it is closed")
    # All or nothing: every file is written beside its target first, then all are renamed over their
    # targets (any failure, a full disk or Ctrl-C, replaces none of them), and only then does model.py go
    # to standard output: a reader that is gone (`| head`) cannot keep a file from being written.
    for target, content, flag, label in ((ns.output if to_file else None, source, "-o", None),
                                         (ns.graph, graph, "--graph", None),
                                         (weights_path, weights, "the weights file", weights_label)):
        if target is not None and content is not None:  # model.pt: "the weights file model.pt (beside -o model.py)"
            outputs.stage(target, content, flag, label)
    commit(outputs)  # unless a signal came that torch's import swallowed
    if model_file is not None and source is not None:
        try:
            model_file.write_raw(source)  # model.py as -o FILE writes it (no terminal drawing)
            model_file.flush()
        except (BrokenPipeError, OutputError):
            # its reader gone (`--summary 2>report.txt | head`) or a full disk: the report meant for the other
            # stream still goes there (it was lost), and the exit status is the one model.py's stream gives
            if report is not None:
                with contextlib.suppress(BrokenPipeError, OutputError):
                    print(report, file=report_file)
            raise
    if report is not None:
        print(report, file=report_file)
    return EXIT_OK


def _read_stdin() -> str:
    """The spec on standard input (bounded and decoded as a spec file is)."""
    from vibench.compiler.load import read_spec_stream

    if sys.stdin is None:  # started with standard input closed (`<&-`)
        raise UsageError("the spec is `-` (standard input), which is closed")
    if sys.stdin.isatty():
        print("vibench-compile: reading the spec from standard input (end it with Ctrl-D)", file=sys.stderr)
    return read_spec_stream(sys.stdin.buffer, STDIN)


def _print_warnings(program: Any, sources: dict[str, str]) -> None:
    """The warnings and notes of a spec that compiled, on standard error: at most MAX_SHOWN, then how many more
    (as for errors: 50,000 warnings printed megabytes), each with its source line from ``sources`` (file name ->
    text, as the compile read them: the spec, a template it extends, a slot's component)."""
    from vibench.compiler.diagnostics import MAX_SHOWN

    for warning in program.warnings[:MAX_SHOWN]:
        print(warning.render(sources) + "\n", file=sys.stderr)
    more = len(program.warnings) - MAX_SHOWN
    if more > 0:
        print(f"... and {more:,} more (the first {MAX_SHOWN} of {len(program.warnings):,} are shown)\n",
              file=sys.stderr)


def _print_errors(err: Any, ns: argparse.Namespace, spec: str | None = None) -> None:
    """At most MAX_SHOWN diagnostics, then how many more: a spec with thousands of errors answers fast. The
    counts take in the problems a pass counted but did not build (:attr:`Diagnostic.more`)."""
    from vibench.compiler.diagnostics import MAX_SHOWN, counted

    n = counted(err.diagnostics)
    if ns.format == "json":
        report: dict[str, Any] = {"ok": False, "diagnostics": err.to_json(limit=MAX_SHOWN)}
        if n > MAX_SHOWN:
            report["omitted"] = n - MAX_SHOWN
        print(to_json(report, indent=2), file=own_stdout())
    else:
        print(err.render(limit=MAX_SHOWN), file=sys.stderr)
        errors = counted(d for d in err.diagnostics if d.severity == "error")
        warned = counted(d for d in err.diagnostics if d.severity == "warning")
        counts = [f"{k:,} {word}{'s' if k != 1 else ''}" for k, word in
                  ((errors, "error"), (warned, "warning"), (n - errors - warned, "note")) if k or word == "error"]
        said = counts[0] if len(counts) == 1 else ", ".join(counts[:-1]) + " and " + counts[-1]
        spec = clip_path(spec) if spec is not None else STDIN if ns.spec == "-" else clip_path(ns.spec)
        print(f"\n{said} in {spec}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
