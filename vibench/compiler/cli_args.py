"""The arguments of ``vibench-compile`` (see :mod:`vibench.compiler.cli`): its parsers, and the checks
and conversions of option values (``--set``, ``--input``, ``--depth``...;
``--weights`` in :mod:`vibench.compiler.cli_weights`).

Every problem with the command line is a :class:`UsageError` (exit code 2), raised before anything
is compiled or written.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import unicodedata
from typing import Any

from vibench.compiler.display import clip_path, escaped
from vibench.compiler.outputs import WORKING_FOLDER_GONE as _GONE


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def __init__(self, **kwargs: Any) -> None:
        # No abbreviations (`--form json` for --format): the command line is also read as words before it parses
        # (cli_json.format_json, for a usage error's format), which knew only the full name: `--form json --bogus`
        # was answered in text, `--format=json --form=text` (given twice, which docs/cli.md answers in text) in JSON.
        super().__init__(allow_abbrev=False, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        from vibench.compiler.display import escaped

        raise UsageError(escaped(message))  # `unrecognized arguments: a\nb`: one line, as every usage error


class _Once(argparse.Action):
    """A single-value option given twice is a usage error naming it: argparse kept the last value, so
    `--graph a.dot --graph b.html` wrote only b.html, exit 0."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        given: set[str] = namespace.__dict__.setdefault("_given_once", set())
        if self.dest in given:
            raise argparse.ArgumentError(self, "given twice; give it once")
        given.add(self.dest)
        setattr(namespace, self.dest, values)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="vibench-compile",
        description="Compile a vibench spec (YAML/JSON) into a standalone PyTorch model.py.",
        # laid out as written: wrapped, the command line broke at its hyphen (`vibench-` / `compile`)
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="subcommand, given first:\n"
        "  vibench-compile schema [-o FILE] [--template NAME] [--spec-path DIR ...]\n"
        "      write the JSON Schema of the spec language (its options: vibench-compile schema --help)",
    )
    p.add_argument("spec", nargs="?",
                   help="spec file (.yaml, .yml or .json), a library template such as cnn/ResNet1D, or `-` "
                   "for standard input")
    p.add_argument("-o", "--output", action=_Once, metavar="OUT",
                   help="write model.py here (atomically, through a symlink to its target; `-` for standard "
                   "output); default: standard output, unless --graph is given")
    p.add_argument("--check", action="store_true",
                   help="validate and shape-check only; write no model.py (--graph still draws)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override a template parameter (VALUE is read as YAML: 4, 0.1, true, [2,2,2,2])")
    p.add_argument("--input", dest="inputs", action="append", default=[], metavar="NAME=DIMS",
                   help="bind an input's dimensions, e.g. x=32,1,1024 (checks constraints, fixes symbols)")
    p.add_argument("--no-inplace", action="store_true",
                   help="no operation of forward writes into a layer's output (no torch.relu_, no +=): for hooks "
                   "that keep outputs (feature taps, Grad-CAM), at the memory in-place work saves")
    p.add_argument("--summary", action="store_true", help="print each node's output shape, parameters and FLOPs")
    p.add_argument("--graph", action=_Once, metavar="OUT",
                   help="write the graph, only when the spec compiles: a self-contained page "
                   "(.html/.htm), SVG or PNG (.svg/.png, needs Graphviz's dot), Graphviz DOT (.dot/.gv) or Mermaid "
                   "(.mmd/.mermaid, or .md: in a fenced block)")
    p.add_argument("--depth", type=_depth, action=_Once, default=0, metavar="N",
                   help="with --summary or --graph: expand composite nodes N levels deep (default 0; the .html "
                   "page starts there and expands or collapses on click)")
    p.add_argument("--max-nodes", type=_positive, action=_Once, metavar="N",
                   help="most nodes a model may have after expansion (default 100,000); the spec's expressions "
                   "share 10 steps per allowed node, at least 20,000 (E204); 10 declarations and 2.5 lines of model.py "
                   "per allowed node (E213)")
    p.add_argument("--max-params", type=_positive, action=_Once, metavar="N",
                   help="most parameter elements a model may have (default 2**31 = 2,147,483,648)")
    p.add_argument("--max-activation", type=_positive, action=_Once, metavar="N",
                   help="most elements one node's output may hold at the smallest input (default 2**31)")
    p.add_argument("--format", action=_Once, choices=("text", "json"), default="text",
                   help="diagnostics, report and catalogue (--list, --blocks) format")
    p.add_argument("--metadata", action=_Once, metavar="FILE",
                   help="PHM-Vibench's metadata table (.csv or .xlsx): num_classes = max(Label) + 1 per Dataset_id, "
                   "as PHM-Vibench's factory sets it")
    p.add_argument("--weights", action=_Once, metavar="CKPT",
                   help="with -o FILE: also write FILE's name with .pt beside it (-o model.py: model.pt), the "
                   "reference checkpoint (state_dict or Lightning .ckpt) renamed to the model's keys, for "
                   "model.load_state_dict")
    p.add_argument("--weights-prefix", action=_Once, metavar="PREFIX",
                   help="with --weights: the model's key prefix in a Lightning checkpoint (default: network.; '' "
                   "for none)")
    p.add_argument("--trust-checkpoint", action="store_true",
                   help="with --weights: read CKPT with torch.load(weights_only=False): only for a file you trust "
                   "(Lightning checkpoints keep hyper-parameters that weights_only refuses)")
    p.add_argument("--spec-path", "-I", dest="spec_path", action="append", default=[], metavar="DIR",
                   help="extra folder to search for `extends:` and block references (also VIBENCH_SPEC_PATH)")
    p.add_argument("--list", nargs="?", action=_Once, const="", default=None, metavar="NAME",
                   help="list the spec library's templates, or show one template's parameters, interface, slots "
                   "and an example (--list cnn/ResNet1D), and exit")
    p.add_argument("--blocks", nargs="?", action=_Once, const="", default=None, metavar="NAME",
                   help="list the block catalogue, or show one block's parameters, ports, shape rule and an example "
                   "(--blocks conv1d), and exit")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    return p


def _positive(text: str) -> int:
    number = text.replace("_", "").replace(",", "").strip()
    try:
        value = int(number)
    except ValueError:
        digits = number.removeprefix("+")
        if not digits.isdecimal():
            raise argparse.ArgumentTypeError(f"expected a positive integer, got `{_clip(text)}`") from None
        # a number, of more digits than int() reads (sys.get_int_max_str_digits(), 4,300 by default): leading
        # zeros count there, not in the value
        significant = digits[next((k for k, ch in enumerate(digits) if unicodedata.digit(ch)), len(digits)):]
        limit = sys.get_int_max_str_digits()
        if len(significant) > limit:
            raise argparse.ArgumentTypeError(f"too large: {len(significant):,} digits, more than the {limit:,} "
                                             "Python reads in a number") from None
        value = int(significant or "0")
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
    p.add_argument("-o", "--output", action=_Once, metavar="FILE",
                   help="write here (atomically); default or `-`: standard output")
    p.add_argument("--template", action=_Once, metavar="NAME",
                   help="a schema for specs that extend this template (completes its `with:` parameters): "
                   "family/Name on the spec path, or a spec file")
    p.add_argument("--spec-path", "-I", dest="spec_path", action="append", default=[], metavar="DIR",
                   help="extra folder to search for --template (also VIBENCH_SPEC_PATH)")
    return p


def _catalogue_ignored(ns: argparse.Namespace) -> list[str]:
    """The arguments given with ``--list`` or ``--blocks`` that only a compile reads (`--list cnn/TCN
    --set num_classes=4` showed the defaults, silently), and ``--spec-path`` with ``--blocks``."""
    given = (("the spec", ns.spec is not None), ("-o", ns.output is not None), ("--check", ns.check),
             ("--set", ns.sets), ("--input", ns.inputs), ("--no-inplace", ns.no_inplace), ("--summary", ns.summary),
             ("--graph", ns.graph is not None), ("--depth", ns.depth), ("--max-nodes", ns.max_nodes is not None),
             ("--max-params", ns.max_params is not None), ("--max-activation", ns.max_activation is not None),
             ("--metadata", ns.metadata is not None), ("--weights", ns.weights is not None),
             ("--weights-prefix", ns.weights_prefix is not None), ("--trust-checkpoint", ns.trust_checkpoint),
             ("--spec-path", ns.blocks is not None and ns.spec_path))  # blocks come from the registry
    return [flag for flag, on in given if on]


def _check_graph_target(graph: str | None) -> None:
    """A --graph name with a known suffix; for .svg/.png, Graphviz's dot on PATH (checked before compiling)."""
    if graph is None:
        return
    from vibench.compiler.render import DOT_SUFFIXES, GRAPH_SUFFIXES
    from vibench.compiler.render_graphviz import dot_binary, missing_dot_message

    suffix = os.path.splitext(graph.lower())[1]
    if os.path.basename(graph).lower() in GRAPH_SUFFIXES:  # `.dot` is a hidden file's name with no suffix
        raise UsageError(f"--graph {clip_path(graph)}: the name needs a stem before its suffix, such as "
                         f"g{clip_path(os.path.basename(graph))}")
    if suffix not in GRAPH_SUFFIXES:
        raise UsageError(f"--graph {clip_path(graph)}: use a .html (.htm), .svg, .png, .dot (.gv), .mmd (.mermaid) "
                         "or .md file name")
    if suffix in DOT_SUFFIXES and dot_binary() is None:
        raise UsageError(f"--graph {clip_path(graph)}: {missing_dot_message(DOT_SUFFIXES[suffix])}")


def _refuse_same_file(targets: dict[str, str]) -> None:
    """A usage error naming the two outputs that are one file (by real path: `--graph g.dot` a link to the model.pt
    that `--weights` writes was said to be "-o and --graph")."""
    first: dict[str, str] = {}
    for label, real in targets.items():
        if real in first:
            raise UsageError(f"{first[real]} and {label} name the same file; give them different names")
        first[real] = label


def _read_metadata(file: str | None) -> Any:
    """The metadata table of --metadata (a usage error when it cannot be read)."""
    if file is None:
        return None
    from vibench.compiler.phm_metadata import MetadataError, read_metadata

    try:
        return read_metadata(file)
    except MetadataError as err:
        raise UsageError(f"--metadata: {_clip(str(err), 400)}") from None


def _search_path(ns: argparse.Namespace) -> list[str]:
    """The folders searched for templates and spec references: each ``--spec-path``, then each entry of
    ``VIBENCH_SPEC_PATH`` (empty ones skipped, as ``PATH`` does: a trailing ``:``). Each must be a folder that
    may be searched (:func:`~vibench.compiler.spec_files.searchable`, as ``search_path=`` must): a mistyped one
    would only show later as an unknown template. A folder given again (the same real path, however
    spelt: ``lib``, ``./lib``, a link to it, or both in ``-I`` and ``VIBENCH_SPEC_PATH``) is kept once, where it
    first comes, as written there: a search finds nothing new in it (2,000 ``-I lib`` made every lookup read each
    of them, 5 s for ``--list``, and model.py's regenerate line repeated them all)."""
    from vibench.compiler.spec_files import NO_WORKING_FOLDER, UNSEARCHABLE, searchable, working_folder

    from_env = [p for p in os.environ.get("VIBENCH_SPEC_PATH", "").split(os.pathsep) if p]
    gone = working_folder() == NO_WORKING_FOLDER
    for named, folders in (("--spec-path", ns.spec_path), ("VIBENCH_SPEC_PATH entry", from_env)):
        for folder in folders:
            if gone and not os.path.isabs(folder):  # `.` would pass isdir (the removed folder) and name nothing
                raise UsageError(f"{named} {clip_path(folder)}: {_GONE}")
            if not os.path.isdir(folder):
                raise UsageError(f"{named} {clip_path(folder)}: "
                                 + ("not a folder" if os.path.exists(folder) else "no such folder"))
            if not searchable(folder):  # else "no such spec file"; one that may only be searched is used, as in Python
                raise UsageError(f"{named} {clip_path(folder)}: {UNSEARCHABLE}")
    return distinct_folders([*ns.spec_path, *from_env])


def distinct_folders(folders: list[str]) -> list[str]:
    """``folders`` without those whose real path an earlier one has, in their order. A relative folder once the
    working folder was removed names none: ValueError (a caller's `.` passes its isdir check there).

    >>> distinct_folders([".", "./", "..", "."])
    ['.', '..']
    """
    from vibench.compiler.spec_files import NO_WORKING_FOLDER, working_folder

    seen: set[str] = set()
    kept: list[str] = []
    gone = working_folder() == NO_WORKING_FOLDER
    for folder in folders:
        if gone and not os.path.isabs(folder):
            raise ValueError(f"the search folder {folder!r:.200} is relative: "  # search_path= or VIBENCH_SPEC_PATH
                             + _GONE.replace("`cd`", "os.chdir()"))
        real = os.path.realpath(folder)
        if real not in seen:
            seen.add(real)
            kept.append(folder)
    return kept


def _spec_path(spec: str, spec_path: list[str]) -> str:
    """The file a spec argument means (:func:`vibench.compiler.pipeline.find_spec`'s search), or a usage error."""
    from vibench.compiler.diagnostics import SpecError
    from vibench.compiler.pipeline import find_spec

    if os.path.isdir(spec):
        raise UsageError(f"{clip_path(spec)} is a folder, not a spec file")
    from vibench.compiler.descriptor_names import broken_link

    if broken := broken_link(spec):  # a link to no file: said so, not "no such spec file"
        raise UsageError(f"the spec {clip_path(spec)} {broken}")
    try:
        return find_spec(spec, spec_path)
    except SpecError:
        from vibench.compiler.reference_templates import template_hint
        from vibench.compiler.spec_files import NO_WORKING_FOLDER, not_a_file, working_folder

        unusable = not_a_file(spec, spec_path)
        if unusable is not None:  # a FIFO or a folder `fam/F.yaml` on the spec path: said so, as `extends:` does
            where, kind = unusable
            raise UsageError(f"the spec {clip_path(spec)} is {kind}, not a regular file: {clip_path(where)}") from None
        if not os.path.isabs(spec) and working_folder() == NO_WORKING_FOLDER:  # find_spec's E004 says so too
            raise UsageError(f"the spec {clip_path(spec)}: {_GONE}") from None
        path_like = spec.startswith((".", "/")) or spec.endswith(("/", ".yaml", ".yml", ".json"))
        hint = None if path_like else template_hint(spec, spec_path)  # a name as `extends:` reads it, not a path
        raise UsageError(f"no such spec file: {clip_path(spec)}" + (f"; {hint}" if hint else "")) from None


def _misplaced_subcommand(spec: str, spec_path: list[str]) -> None:
    """A usage error for a spec argument ``schema`` that names no spec file or template: the subcommand is one only
    as the first word (`vibench-compile --format json schema` read it as a spec, and said to write the model with
    -o FILE)."""
    if spec != "schema" or os.path.lexists(spec):
        return
    from vibench.compiler.diagnostics import SpecError
    from vibench.compiler.pipeline import find_spec

    try:
        find_spec(spec, spec_path)
    except SpecError:
        raise UsageError("no spec file or template is named schema, and the subcommand comes first: "
                         "`vibench-compile schema [-o FILE] [--template NAME] [--spec-path DIR ...]`") from None


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
            # The hint too, unless it speaks of a position (a syntax error's): `--set n=010` says to write 10.
            hint = f"; {diag.hint}" if diag.hint and "position" not in diag.hint else ""
            raise UsageError(f"--set {key}: cannot read `{_clip(text)}` as a value: {diag.message}{hint}") from None
        out[key] = value
        shown.append((key, text))
    return out, shown


def _clip(text: str, limit: int = 80) -> str:
    """A user's text in a message: one line, at most ``limit`` characters; a file name's byte that is not
    UTF-8 (Python's surrogate escape) as ``\\xe9``, as model.py's header and the JSON output write it."""
    flat = escaped(text)
    return flat if len(flat) <= limit else flat[:limit] + "..."


def _dimension(text: str) -> int:
    """An ``--input`` dimension as ``int()`` reads it (ValueError if it is none), a long one without reading all its
    digits: any value past :data:`MAX_DIM` is ``MAX_DIM + 1`` (`000...064` is 64, `-000...001` is -1)."""
    d = text.strip()
    if len(d) < 30:
        return int(d)
    match = _LONG_INT.fullmatch(d)
    if match is None:
        raise ValueError(text)
    digits = match[2].replace("_", "")  # leading zeros of any script dropped:
    kept = digits[next((k for k, c in enumerate(digits) if unicodedata.digit(c)), len(digits)):]
    value = int(kept or "0") if len(kept) <= 20 else MAX_DIM + 1
    return -max(value, 1) if match[1] == "-" else value


_LONG_INT = re.compile(r"([+-]?)(\d+(?:_\d+)*)")  # what int() reads: `1_000` (not `1__0`), any script's digits


def _parse_inputs(items: list[str]) -> dict[str, tuple[int, ...]]:
    out: dict[str, tuple[int, ...]] = {}
    for item in items:
        name, sep, dims = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--input expects NAME=DIMS such as x=32,1,1024, got `{_clip(item)}`")
        name = _clip(name.strip())
        parts = dims.replace("x", ",").split(",")
        if dims.strip() and not all(d.strip() for d in parts):
            raise UsageError(f"--input {name}: a dimension is missing (an empty field), got `{_clip(dims)}`")
        parts = [d for d in parts if d.strip()]
        try:
            values = tuple(_dimension(d) for d in parts)
        except ValueError:
            raise UsageError(f"--input {name}: dimensions must be integers, got `{_clip(dims)}`") from None
        if not values or any(v < 1 for v in values):
            raise UsageError(f"--input {name}: dimensions must be positive integers, got `{_clip(dims)}`")
        if any(v > MAX_DIM for v in values):
            raise UsageError(f"--input {name}: a dimension is larger than 2**62, got `{_clip(dims)}`")
        out[name] = values
    return out
