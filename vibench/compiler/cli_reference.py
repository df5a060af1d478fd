"""The commands of ``vibench-compile`` (:mod:`vibench.compiler.cli`) that compile no spec: ``--list [NAME]`` and
``--blocks [NAME]`` (the catalogue, or one entry's reference: :func:`reference`) and ``schema`` (the JSON Schema
that editors check specs with: :func:`schema`)."""

from __future__ import annotations

import argparse
import os
import sys

from vibench.compiler.cli_args import UsageError, _search_path
from vibench.compiler.cli_json import to_json
from vibench.compiler.cli_schema import schema_reads
from vibench.compiler.cli_streams import EXIT_OK, EXIT_SPEC, commit, own_stdout, standard_stream
from vibench.compiler.display import clip_path, escaped
from vibench.compiler.outputs import OutputError, Outputs, output_stream, output_target, refuse_inputs


def reference(ns: argparse.Namespace) -> int:
    """``--list [NAME]`` and ``--blocks [NAME]``: the catalogue, or one entry's reference. A template that does not
    load (`--list x/Bad -I lib`) raises its SpecError, which :mod:`vibench.compiler.cli` prints as a compile's."""
    from vibench.compiler import reference_docs

    if ns.list is not None and ns.blocks is not None:
        raise UsageError("--list and --blocks: give one of them")
    try:
        if ns.format == "json" and (ns.list or ns.blocks):
            # the name is checked first, as in text (`--list cnn/Resnet1D` offers cnn/ResNet1D), then refused
            if ns.list:
                reference_docs.template_reference(ns.list, _search_path(ns))
            else:
                reference_docs.block_reference(ns.blocks)
            raise UsageError("--format json lists the catalogue (--list, --blocks); one entry's reference is text")
        if ns.list:
            search = _search_path(ns)
            print(reference_docs.template_reference(ns.list, search), file=own_stdout())
        elif ns.list is not None:
            from vibench.compiler.library_index import list_templates, template_entries

            search = _search_path(ns)
            print(to_json(template_entries(search), indent=2) if ns.format == "json" else list_templates(search),
                  file=own_stdout())
        elif ns.blocks:
            print(reference_docs.block_reference(ns.blocks), file=own_stdout())
        elif ns.format == "json":
            from vibench.compiler import registry

            blocks = registry.all_blocks()
            print(to_json([{"name": n, "category": b.category, "description": b.description}
                           for n, b in blocks.items()], indent=2), file=own_stdout())
        else:
            print(_list_blocks(), file=own_stdout())
    except reference_docs.UnknownName as err:
        raise UsageError(str(err)) from None
    return EXIT_OK


def plugin_warnings() -> None:
    """The block plug-ins that did not load or were refused (W120, W121), on standard error."""
    from vibench.compiler import registry

    for warning in registry.plugin_warnings():
        print(warning.render() + "\n", file=sys.stderr)


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


def schema(ns: argparse.Namespace, outputs: Outputs) -> int:
    """``vibench-compile schema``: the JSON Schema of specs, on standard output or written to ``-o FILE``."""
    from vibench.compiler.cli_schema import ON_PATH, TEMPLATE, spec_path_file
    from vibench.compiler.diagnostics import SpecError
    from vibench.schemas.jsonschema import schema_text
    from vibench.schemas.template_schema import recording_left_out

    def refuse(target: str, reads: dict[str, str]) -> None:  # as for a compile, said as the schema reads files
        try:
            refuse_inputs({f"-o {clip_path(ns.output)}": target}, reads)
        except OutputError as err:
            raise OutputError(str(err).replace("a file this compile reads", "a file the schema reads")) from None

    search = _search_path(ns)
    # The output is checked before the schema is built, as a compile checks it (`-o /dev/null` was refused after
    # 25 s of reading a large -I folder); `-o -` (or /dev/stdout) is standard output, an empty path a usage error.
    stream = 1 if ns.output in (None, "-") else output_stream(ns.output, "-o")
    try:
        target = output_target(ns.output, "-o") if stream is None else None
    except OutputError as err:  # (the schema has no --check)
        raise OutputError(str(err).replace("use --check to write nothing, or ", "")) from None
    if target is not None and ns.template is not None and os.path.isfile(ns.template):  # read, as a compile's spec
        refuse(target, {os.path.realpath(ns.template): TEMPLATE})
    if target is not None and ns.template is None:  # read, or left out by the budgets (`-o lib/.base/Big.yaml`
        spec_file = spec_path_file(target, search)  # replaced the base a template extends): before the build
        if spec_file is not None:
            refuse(target, {target: spec_file})
    try:
        with recording_left_out() as left_out:
            text = schema_text(template=ns.template, search_path=search)
    except KeyError as err:
        from vibench.compiler.reference_templates import template_hint
        from vibench.compiler.spec_files import not_a_file

        unusable = not_a_file(ns.template, search)
        if unusable is not None:  # a FIFO or a folder `fam/F.yaml` on the spec path: said so, as `extends:` does
            raise UsageError(f"--template {clip_path(ns.template)} is {unusable[1]}, not a regular file: "
                             f"{clip_path(unusable[0])}") from None
        hint = template_hint(ns.template, search)
        raise UsageError(escaped(str(err.args[0])) + (f"; {hint}" if hint else "")) from None
    except SpecError as err:
        print(err.render(), file=sys.stderr)
        print(f"\nthe template {ns.template} has errors; no schema written", file=sys.stderr)
        return EXIT_SPEC
    finally:
        plugin_warnings()
    if target is not None and os.path.exists(target):  # a new file is none the schema read
        # the whole spec path: its templates and the files read, as the schema found them (not read all again)
        refuse(target, schema_reads(ns.template, search) if ns.template is not None else
               dict.fromkeys(left_out.templates | left_out.read, ON_PATH))
    for line in left_out.lines():  # the templates offered by name only, the walks that stopped
        print(f"vibench-compile: schema: {line}", file=sys.stderr)
    if target is not None:
        outputs.stage(ns.output, text, "-o")
        commit(outputs)
    else:  # the bytes `-o FILE` writes (UTF-8: '—', '±'), not text for people escaped in the stream's encoding
        standard_stream(stream).write_raw(text)  # (`\\xb1` under PYTHONIOENCODING=ascii was no JSON)
    return EXIT_OK
