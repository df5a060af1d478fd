"""The passes chained: spec text or file -> Program -> model.py source."""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from vibench.compiler import free_params
from vibench.compiler.descriptor_names import descriptor
from vibench.compiler.diagnostics import Diagnostic, SpecError, clip
from vibench.compiler.free_params import unprobed_note
from vibench.compiler.ir import CompileRequest, Program, SourceInfo, UnitDef
from vibench.compiler.ir_verify import verify_definition, verify_program
from vibench.compiler.load import LoadedDoc, is_experiment, load_text, read_spec_file, source_budget
from vibench.compiler.load_numbers import YAML11NumberError
from vibench.compiler.phm_classes import classes_from_metadata, from_metadata_note
from vibench.compiler.resolve import Library, resolve
from vibench.compiler.shape_hints import blamed_needs
from vibench.compiler.shapes import infer_program
from vibench.compiler.spec_files import find_spec as find_spec  # where callers import it from
from vibench.compiler.validate import validate
from vibench.schemas.document import SpecDocument

VERIFY_IR = os.environ.get("VIBENCH_VERIFY_IR") == "1"
"""Check the IR's invariants after each pass (:func:`~vibench.compiler.ir_verify.verify_definition` after
resolve, :func:`~vibench.compiler.ir_verify.verify_program` after the shapes pass). The test suite turns it on
(tests/conftest.py); an invariant broken there is a compiler bug, reported as an AssertionError."""


def load(path: str | None = None, text: str | None = None, display: str | None = None) -> LoadedDoc:
    """Pass 1 for a path or for text (``display`` names the text in messages).

    A repeated key is E005 and a YAML 1.1 number (`1:30`, `010`) E001, except in a PHM-Vibench experiment
    config, which is read again as PyYAML reads it (the last value wins; `010` is 8);
    :func:`vibench.compiler.phm.translate` then reports the repeats (an error inside `model:`, a warning
    elsewhere) and the numbers inside `model:` (E001).
    """
    def read(lenient: bool) -> LoadedDoc:
        if text is not None:  # with a path (the editor's, vibench.build's): its real path, as read_spec_file's
            where = os.path.realpath(path) if path and descriptor(path) is None else None
            return load_text(text, display or path or "<string>", where, lenient_keys=lenient)
        if path is None:
            raise TypeError("give a spec path or text")
        return read_spec_file(path, display or _display(path), lenient_keys=lenient)

    try:
        return read(False)
    except SpecError as err:
        if [d.code for d in err.diagnostics] != ["E005"] and not isinstance(err, YAML11NumberError):
            raise
        doc = read(True)
        if not is_experiment(doc.data):
            raise
        return doc


def _display(path: str) -> str:
    """Library specs are named `vibench/specs/...` wherever vibench is installed; others as given."""
    from vibench.compiler.resolve import LIBRARY_DIR

    real, lib = os.path.realpath(path), os.path.realpath(LIBRARY_DIR)
    if real.startswith(lib + os.sep):
        return "vibench/specs/" + os.path.relpath(real, lib).replace(os.sep, "/")
    return path


def load_spec(path: str | None = None, text: str | None = None) -> SpecDocument:
    return validate(load(path, text))


def compile_program(
    path: str | None = None,
    *,
    text: str | None = None,
    params: dict[str, Any] | None = None,
    inputs: dict[str, tuple[int, ...]] | None = None,
    search_path: list[str] | None = None,
    display: str | None = None,
    overrides_text: list[tuple[str, str]] | None = None,
    max_nodes: int | None = None,
    max_params: int | None = None,
    files_read: set[str] | None = None,
    max_activation: int | None = None,
    metadata: Any = None,
    locate_settings: bool = True,
) -> Program:
    """Load, validate, resolve and shape-check a spec (raises SpecError).

    ``metadata`` (a :class:`vibench.compiler.phm_metadata.DatasetMetadata`, read from PHM-Vibench's
    metadata table) gives ``num_classes`` as PHM-Vibench's factory does: for an experiment config it
    replaces the config's value; for a vibench spec it is a ``num_classes`` override, like ``--set``
    (an explicit ``params["num_classes"]`` wins in both cases).

    ``max_nodes``, ``max_params`` and ``max_activation`` bound the model (see :mod:`vibench.compiler.limits`); the
    expressions of the compilation share a budget of ``STEPS_PER_NODE * max_nodes`` steps (at least
    ``MIN_EXPRESSION_STEPS``), and the spec files
    it reads one of bytes, files and values (:func:`vibench.compiler.load.source_budget`), each file read once.
    ``files_read``, when given, receives the real path of every file the compilation read (the
    CLI refuses to write its output over one of them). ``locate_settings=False`` leaves an error
    inside a template where it was raised (no trials, see :mod:`vibench.compiler.blame`): for the
    compiler's own probes, which only ask whether a value compiles.
    """
    from vibench.compiler import expr, limits

    inputs, params = input_sizes(inputs), python_values(params)
    nodes = limits.check_limit(max_nodes, "max_nodes", limits.MAX_NODES)
    budget = (nodes, limits.check_limit(max_params, "max_params", limits.MAX_PARAMS),
              limits.check_limit(max_activation, "max_activation", limits.MAX_ACTIVATION))
    sources = source_budget(limits.MAX_SOURCE_BYTES, limits.MAX_SOURCE_FILES, limits.MAX_SOURCE_VALUES)
    with paused_gc(), expr.budget(limits.STEPS_PER_NODE * nodes), sources:
        return _compile_program(path, text, params, inputs, search_path, display, overrides_text, budget,
                                files_read, metadata, locate_settings)


def python_values(value: Any, depth: int = 0) -> Any:
    """Parameter values from Python with numpy scalars and 0-d torch tensors as the Python values they hold
    (``labels.max() + 1`` is an ``np.int64`` or a ``tensor(4)``), inside lists, tuples and dicts too (64
    levels; the resolver bounds deeper ones). Torch is never imported here: a tensor is known by its type."""
    if depth > 64:
        return value
    if isinstance(value, dict):  # keys too: `num_classes={np.int64(1): 4}` from a pandas groupby
        return {python_values(k, depth + 1): python_values(v, depth + 1) for k, v in value.items()}
    if type(value) in (list, tuple):
        return type(value)(python_values(v, depth + 1) for v in value)
    if type(value).__module__ in ("numpy", "torch") and getattr(value, "ndim", None) == 0 and hasattr(value, "item") \
            and not getattr(value, "is_meta", False):  # a meta tensor holds no value: binding says E202 for it
        return value.item()
    return value


def input_sizes(inputs: Any) -> dict[str, tuple[int, ...]] | None:
    """``inputs`` of the Python API as a dict of int tuples: TypeError or ValueError naming the entry
    for anything but positive integer sizes (a torch.Size, a list, numpy integers and 0-d integer tensors are
    fine), and for more than :data:`~vibench.compiler.limits.MAX_INPUT_SIZES` of them (only so many are taken
    from an iterator: ``itertools.repeat(1)`` is refused, not read for ever)."""
    import itertools

    from vibench.compiler import expr
    from vibench.compiler.limits import MAX_INPUT_SIZES

    if inputs is None:
        return None
    if not isinstance(inputs, dict):
        raise TypeError(f"inputs must be a dict of input name -> sizes such as {{'x': (32, 1, 1024)}}, "
                        f"not {type(inputs).__name__}")
    out: dict[str, tuple[int, ...]] = {}
    for name, dims in inputs.items():
        if not isinstance(name, str):
            raise TypeError(f"inputs: an input name is a str, not {type(name).__name__} ({name!r:.40})")
        what = f"inputs[{name!r:.60}]"
        if hasattr(dims, "shape") and not isinstance(dims, tuple):  # the tensor itself, or an array of the sizes
            raise TypeError(f"{what} takes the sizes, not a {type(dims).__name__}: pass its .shape if it is the "
                            "tensor, or tuple(...) of the sizes")
        if isinstance(dims, (str, bytes)) or not hasattr(dims, "__iter__"):
            raise TypeError(f"{what} must be a tuple of sizes such as (32, 1, 1024), not {type(dims).__name__}")
        sizes = [_size(d, what) for d in itertools.islice(dims, MAX_INPUT_SIZES + 1)]
        if len(sizes) > MAX_INPUT_SIZES:
            raise ValueError(f"{what}: more than {MAX_INPUT_SIZES:,} sizes (one per axis of the input)")
        if any(d < 1 for d in sizes):
            raise ValueError(f"{what}: sizes are positive integers, got {tuple(sizes)}")
        if any(d > expr.MAX_INT for d in sizes):
            raise ValueError(f"{what}: sizes are at most 2**62")
        out[name] = tuple(sizes)
    return out


def _size(d: Any, what: str) -> int:
    """One size of the entry ``what`` of ``inputs`` as an int. A tensor or array is 0-d, as for a parameter value
    (torch reads ``tensor([64])`` as an index too), and holds a value (a meta tensor's ``__index__`` is torch's
    RuntimeError)."""
    import operator

    if getattr(d, "is_meta", False):
        raise TypeError(f"{what}: sizes are integers, not a meta tensor ({d!r:.60}), which holds no value")
    if getattr(d, "ndim", 0) != 0:
        raise TypeError(f"{what}: sizes are integers or 0-d tensors, not a {d.ndim}-d {type(d).__name__} "
                        f"({d!r:.40}): pass its .item()")
    try:
        if isinstance(d, bool):
            raise TypeError
        return operator.index(d)
    except TypeError:
        raise TypeError(f"{what}: sizes are integers, not {type(d).__name__} ({d!r:.40})") from None


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while compiling.

    Compiling allocates many small, long-lived objects and almost no reference cycles, so the
    collector's full passes are pure overhead: on a 10,000-node spec they took half of the compile
    time (1.40 s with, 0.75 s without, measured). Reference counting still frees memory; the
    collector is re-enabled (if it was on) before returning.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _compile_program(path: str | None, text: str | None, params: dict[str, Any] | None,
                     inputs: dict[str, tuple[int, ...]] | None, search_path: list[str] | None,
                     display: str | None, overrides_text: list[tuple[str, str]] | None,
                     budget: tuple[int, int, int], files_read: set[str] | None, metadata: Any = None,
                     locate_settings: bool = True) -> Program:
    doc = load(path, text, display)
    _check_declared_nodes(doc, budget[0])
    library = Library(search_path)
    library.given_path = path
    library.sources[doc.file] = doc.text
    if overrides_text is None:  # values passed in Python (vibench.build's keywords, check's params=)
        library.in_python = True
    warnings: list[Diagnostic] = []
    from_metadata = None  # num_classes from the metadata table, recorded with the overrides (model.py's header)
    translated = False  # past phm.translate, whose own diagnostics quote nothing of a base config
    kept: tuple[Diagnostic, ...] = ()  # what it said of the config's keys: with a later error too (`input_dm: 2`)
    try:
        if is_experiment(doc.data):  # a PHM-Vibench experiment config: use its `model:` section
            from vibench.compiler import phm

            doc, warnings = phm.translate(doc, library, metadata=metadata, given=params)
            translated, kept = True, tuple(w for w in warnings if w.code in phm.KEPT_WITH_ERRORS)
            from_metadata = next((doc.data["with"]["num_classes"] for w in warnings if w.code == "I103"), None)
            if from_metadata is not None:  # W104 says the table gave it: no line of the config to remove
                library.from_table["num_classes"] = metadata.path
        elif metadata is not None and "num_classes" not in (params or {}):
            from_metadata, metadata_warnings = classes_from_metadata(doc, metadata, library)
            params = {**(params or {}), "num_classes": from_metadata}
            library.from_table["num_classes"] = metadata.path  # messages say the table gave it, not the caller
            warnings += metadata_warnings

        def source(given: dict[str, Any] | None) -> SourceInfo:  # after `resolve`, which refuses a value too deep to
            # show (E202); ``given``: the values this compile was given (a blame trial's are some of them)
            shown = [(k, _show(v)) for k, v in (given or {}).items()]
            if overrides_text is not None and given is params:  # as the command line wrote them
                shown = overrides_text
            if from_metadata is not None and not any(k == "num_classes" for k, _ in shown):
                shown = [*shown, ("num_classes", _show(from_metadata))]
            return SourceInfo(
                display_path=doc.file,
                sha256=doc.sha256,
                overrides=tuple(shown),
                input_bindings=tuple((k, ",".join(map(str, v))) for k, v in (inputs or {}).items()),
            )

        def analyse(d: LoadedDoc, max_nodes: int, overrides: dict[str, Any] | None) -> tuple[Program, UnitDef]:
            spec = validate(d)
            root = resolve(d, spec, library, overrides)
            if VERIFY_IR:
                verify_definition(root)
            return infer_program(root, library, source(overrides), inputs, max_nodes=max_nodes, max_params=budget[1],
                                 max_activation=budget[2], verify_ir=VERIFY_IR), root

        try:
            program, root = analyse(doc, budget[0], params)
        except SpecError as err:  # an error inside a template: at the user's setting it comes from, if one
            if not locate_settings:
                raise
            from functools import partial

            from vibench.compiler import blame, blame_chain, expr, limits

            def trial(d: LoadedDoc, overrides: dict[str, Any]) -> None:
                nodes = min(budget[0], blame.MAX_TRIAL_NODES)
                with expr.budget(limits.STEPS_PER_NODE * nodes):
                    analyse(d, nodes, overrides)

            said = len(library.warnings)  # the W101 of this compile; the trials' are theirs
            located = blame.blame_settings(doc, err.diagnostics, trial, params, library.value_origin,
                                           library.setting_named, partial(blame_chain.blame_chain, search=library))
            del library.warnings[said:]
            raise SpecError(blamed_needs(located, doc.data, params or {}, library, translated), err.sources) from None
        if program.root.metadata:  # what its `${...}` gave, as model.py will write it (--check says so too)
            from vibench.compiler.resolve_units import check_metadata_value

            definition = program.root.definition
            check_metadata_value(program.root.metadata, definition.pos if definition is not None else None)
        from vibench.compiler.emit_names import check_model_name

        check_model_name(program, doc.pos(("name",)) or program.root.pos)  # E106: a native takes the model's name
        if VERIFY_IR:
            verify_program(program)
        if any(d.layout is not None for d in root.inputs):  # only a `layout:` gives axes roles
            from vibench.compiler.roles import check_roles

            warnings += check_roles(program)  # W107: a block reads channels from the time axis
        if warnings or library.warnings or translated:
            later = _base_values_hidden(tuple(library.warnings) + program.warnings, doc, library, translated)
            program = replace(program, warnings=tuple(warnings) + later)
        request = CompileRequest(path, text, tuple((params or {}).items()), tuple((inputs or {}).items()),
                                 tuple(search_path or ()), display, budget)
        program = replace(program, request=request)
        if locate_settings and (note := unprobed_note(program)) is not None:  # not in the probes themselves
            program = replace(program, warnings=(*program.warnings, note))
        return program
    except SpecError as err:
        diagnostics = _base_values_hidden(err.diagnostics, doc, library, translated)
        if metadata is not None and from_metadata is not None:  # E208 at `num_classes: 4` said nothing of the table
            table, not_given = library.table_note(metadata.path), library.given_note("num_classes")
            diagnostics = tuple(from_metadata_note(d, table, not_given) for d in diagnostics)
        # W101 of the keys resolve found the reference ignores (`with:`, --set) come with the errors too, as those
        # phm.translate says of a config's keys (`kept`); a scoped key's W101 needs the components the compile chose
        ignored = _base_values_hidden(tuple(library.warnings), doc, library, translated)
        raise SpecError((*diagnostics, *kept, *ignored), {**library.sources, **err.sources}) from None
    finally:
        if files_read is not None:
            files_read |= library.read | ({os.path.realpath(doc.path)} if doc.path else set())


def _check_declared_nodes(doc: LoadedDoc, max_nodes: int) -> None:
    """E213 before any later pass when the file itself writes more nodes than a model may have
    (a 1,000,000-line spec is refused after loading, not after resolving every node)."""
    nodes = doc.data.get("nodes") if isinstance(doc.data, dict) else None
    if isinstance(nodes, dict | list) and len(nodes) > max_nodes:
        raise SpecError([Diagnostic("E213", f"the spec declares {len(nodes):,} nodes, more than a model may have",
                                    doc.pos(("nodes",), key=True),
                                    expected=f"at most {max_nodes:,} nodes after expansion",
                                    hint="if the model really is this large, raise the limit with --max-nodes "
                                    "(max_nodes= in the API)")], {doc.file: doc.text})


def _base_values_hidden(diagnostics: tuple[Diagnostic, ...], doc: LoadedDoc, library: Library,
                        translated: bool) -> tuple[Diagnostic, ...]:
    """The diagnostics of the passes after a PHM-Vibench config's translation with those located at a
    `base_configs` entry said without the base config's contents (:func:`vibench.compiler.phm.hide_base_values`):
    they may name the template parameter the value was given for, never the value; and in every one, wherever it
    is located, no string a base config gave (:func:`vibench.compiler.phm_base.unshown`: a shape check's message at
    the experiment's key quoted what the base config's value made)."""
    if not translated or not library.quiet:
        return diagnostics
    from vibench.compiler.phm_base import hide_base_values, unshown
    from vibench.compiler.phm_guide import GUIDE_KEYS

    given = doc.data.get("with") if isinstance(doc.data, dict) else None
    given = given if isinstance(given, dict) else {}
    where = {key: doc.pos(("with", key)) for key in given}
    names = {key for key, at in where.items() if at in library.quiet}
    hidden = hide_base_values(diagnostics, library.quiet, names)
    known = (GUIDE_KEYS, given)  # the guide's keys and the template's parameters are named as they are
    return tuple(unshown(given, where, library.quiet, library.sources.values(), known).said(hidden))


def free_parameters(program: Program, sizes: dict[tuple[str, str, int], str] | None = None) -> frozenset[str]:
    """The parameters the emitted class may take other values of (:func:`free_params.free_parameters`, whose
    probes compile the spec again with :func:`compile_program`)."""
    return free_params.free_parameters(program, compile_program, sizes)


def compile_source(program: Program, out_path: str | None = None, inplace: bool = True) -> str:
    """model.py for a program; its class accepts other values of the parameters :func:`free_parameters` finds.
    ``inplace=False``: no operation of ``forward`` writes into a layer's output (hooks see it as it was)."""
    from vibench.compiler.codegen.model_lines import check_model_lines
    from vibench.compiler.emit import emit  # jinja2 and the template only when emitting
    from vibench.compiler.free_candidates import code_names, reached_bounds

    with paused_gc():
        grouped = check_model_lines(program)  # E213 before the probes and the classes write any code
        sizes: dict[tuple[str, str, int], str] = {}
        free = free_parameters(program, sizes)
        reads = code_names(program, free)
        fields = reached_bounds(program) if free else {}
        return emit(program, out_path=out_path, free=free, sizes=sizes, inplace=inplace, reads=reads, fields=fields,
                    grouped=grouped)


def _show(value: Any) -> str:
    """A value given in Python as model.py's regenerate line writes it: the YAML text ``--set`` reads back as it
    (:func:`~vibench.compiler.yaml_text.yaml_text`: ``tag="1"``, ``p=.inf``)."""
    from vibench.compiler.yaml_text import yaml_text

    try:
        return yaml_text(value)
    except TypeError:  # no YAML value (a set, bytes): binding says E202 for it
        return clip(repr(value), 200)
