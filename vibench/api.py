"""The public API: load_spec, check, compile_spec, build (and clear_cache).

Every function takes a spec as a path (``spec``) or as text (``text=``); ``params`` (or keyword
arguments of :func:`build`) override template parameters like ``--set``; ``inputs`` binds input
dimensions like ``--input``; ``search_path`` adds folders for ``extends:`` and block references, searched
before those of ``VIBENCH_SPEC_PATH`` (as ``--spec-path`` is).
``max_nodes`` (default 100,000 nodes after expansion), ``max_params`` (default 2**31 parameter
elements) and ``max_activation`` (default 2**31 elements in one node output at the smallest input)
bound the model like ``--max-nodes`` / ``--max-params`` / ``--max-activation`` (E213, E307, E309).
Bad specs raise :class:`vibench.SpecError` carrying every diagnostic; :func:`build` gives the warnings and
notes ``--check`` prints as :class:`SpecWarning` warnings.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vibench.compiler import pipeline
from vibench.compiler.ir import Program
from vibench.schemas.document import SpecDocument

if TYPE_CHECKING:
    import torch

_TINY = """
vibench: 1
name: Tiny
inputs: {x: {shape: [B, 1, L]}}
nodes:
  conv: {block: conv1d, in: x, out_channels: 8, kernel_size: 3, padding: 1}
  pool: {block: adaptive_avg_pool1d, in: conv, output_size: 1}
  flat: {block: flatten, in: pool}
  fc:   {block: linear, in: flat, out_features: "${num_classes}"}
outputs: {logits: fc}
params: {num_classes: 4}
"""


class SpecWarning(UserWarning):
    r"""A warning or note of a spec that compiled (W104, I103, ...), given by :func:`build` as the text
    ``vibench-compile --check`` prints, whose first line is ``warning[CODE]: ...`` (``note[CODE]: ...`` for a
    note): ``warnings.filterwarnings("error", category=SpecWarning)`` makes them errors, ``"ignore"``
    silences them (with ``message=r"note\["``, the notes only)."""


def _arguments(spec: Any, text: Any, params: Any = None, search_path: Any = None,
               metadata: Any = None) -> tuple[str | None, list[str] | None]:
    """TypeError naming the argument for a value of the wrong kind (a dict's `.items` or a path's
    `os.stat` failing inside the compiler said nothing of which argument); the spec as a str and the
    search path as a list (one folder may be given alone); a ValueError for an empty spec name."""
    if spec is not None and not isinstance(spec, (str, os.PathLike)):
        raise TypeError(f"spec is a path or a template name such as 'cnn/ResNet1D', not {type(spec).__name__}")
    if text is not None and not isinstance(text, str):
        hint = ": decode it first (text.decode('utf-8'))" if isinstance(text, (bytes, bytearray)) else ""
        raise TypeError(f"text is the spec's YAML or JSON as a str, not {type(text).__name__}{hint}")
    if params is not None and not isinstance(params, dict):
        raise TypeError(f"params is a dict of parameter name -> value, not {type(params).__name__}")
    bad_keys = [k for k in params or () if not isinstance(k, str)]
    if bad_keys:
        raise TypeError(f"params: a parameter name is a str, not {type(bad_keys[0]).__name__} ({bad_keys[0]!r:.40})")
    if isinstance(search_path, (str, os.PathLike)):
        search_path = [search_path]
    if search_path is not None:
        if not isinstance(search_path, (list, tuple)) or not all(isinstance(f, (str, os.PathLike))
                                                                 for f in search_path):
            raise TypeError(f"search_path is a list of folders (str or os.PathLike), got {search_path!r:.80}")
        search_path = [_path(f, "search_path", "a list of folders (str or os.PathLike)") for f in search_path]
        for folder in search_path:  # as --spec-path: a mistyped folder would only show as an unknown template
            _check_folder(folder, "search_path:")
    _check_metadata(metadata)
    spec = _path(spec, "spec", "a path or a template name such as 'cnn/ResNet1D'") if spec is not None else None
    if spec == "":  # as `vibench-compile ''`'s usage error (joined to the library, it named the library's folder)
        raise ValueError("no spec given: spec is '', not a path or a template name such as 'cnn/ResNet1D'")
    return spec, search_path


def _path(value: str | os.PathLike, name: str, kind: str) -> str:
    """The path that ``value``, the argument ``name`` (``kind``: what it is), names as a str; a TypeError naming the
    argument for a path object whose path is bytes (``os.fspath`` gives them; the compiler's paths, its messages
    and the cache key are str, and bytes given directly are refused as well) or a broken one."""
    try:
        path = os.fspath(value)
    except TypeError as err:  # an __fspath__ that returns neither str nor bytes
        raise TypeError(f"{name} is {kind}: {err}") from None
    if not isinstance(path, str):
        raise TypeError(f"{name} is {kind}, not a {type(value).__name__} whose path is {type(path).__name__}: "
                        f"pass os.fsdecode({name})")
    return path


_METADATA = ("the path of PHM-Vibench's metadata table (str or os.PathLike), or the DatasetMetadata that "
             "vibench.compiler.phm_metadata.read_metadata returns")


def _check_metadata(metadata: Any) -> None:
    """TypeError naming ``metadata`` for anything but a path or a :class:`DatasetMetadata` holding what
    ``read_metadata`` gives (another object with a ``num_classes`` was an AttributeError, or a TypeError
    from inside the compiler, at the first field it lacked)."""
    if metadata is None or isinstance(metadata, str):
        return
    if isinstance(metadata, os.PathLike):
        _path(metadata, "metadata", _METADATA)
        return
    from vibench.compiler.phm_metadata import DatasetMetadata, SkippedRows

    if not isinstance(metadata, DatasetMetadata):
        raise TypeError(f"metadata is {_METADATA}, not {type(metadata).__name__}")
    classes, skipped = metadata.num_classes, metadata.skipped
    if not isinstance(metadata.path, str):
        found = f"its path is {type(metadata.path).__name__}"
    elif not isinstance(classes, dict):
        found = f"its num_classes is {type(classes).__name__}"
    elif not all(isinstance(k, str) and type(v) is int for k, v in classes.items()):
        k, v = next((k, v) for k, v in classes.items() if not (isinstance(k, str) and type(v) is int))
        found = f"its num_classes maps {type(k).__name__} {k!r:.40} to {type(v).__name__} {v!r:.40}"
    elif skipped is not None and not isinstance(skipped, SkippedRows):
        found = f"its skipped is {type(skipped).__name__}"
    else:
        return
    raise TypeError(f"metadata is {_METADATA}: a DatasetMetadata holds a path (str), num_classes (a dict of "
                    f"Dataset_id (str) -> class count (int)) and skipped (SkippedRows or None), but {found}")


def _with_environment(search_path: list[str] | None) -> list[str] | None:
    """``search_path`` followed by the folders of ``VIBENCH_SPEC_PATH`` (empty entries skipped, as ``PATH``
    does), the search path ``vibench-compile`` uses; a ``ValueError`` names an entry that is not a folder, as
    the command line's usage error does."""
    from_env = [folder for folder in os.environ.get("VIBENCH_SPEC_PATH", "").split(os.pathsep) if folder]
    for folder in from_env:
        _check_folder(folder, "VIBENCH_SPEC_PATH entry")
    from vibench.compiler.cli_args import distinct_folders  # a folder given twice is searched once, as the CLI does

    return distinct_folders([*(search_path or []), *from_env]) or None


def _check_folder(folder: str, named: str) -> None:
    """ValueError for a search folder that is none, or that may not be searched (in the words of ``--spec-path``'s
    usage error: its templates would be "no such spec file"); one that may be searched but not listed is used."""
    from vibench.compiler.spec_files import UNSEARCHABLE, searchable

    if not os.path.isdir(folder):
        raise ValueError(f"{named} {folder!r:.200} "
                         + ("is not a folder" if os.path.exists(folder) else "does not exist"))
    if not searchable(folder):
        raise ValueError(f"{named} {folder!r:.200}: {UNSEARCHABLE}")


@dataclass(frozen=True)
class CompileResult:
    """What :func:`compile_spec` returns: the model.py source and the annotated graph."""

    source: str
    program: Program


def load_spec(spec: str | None = None, *, text: str | None = None) -> SpecDocument:
    """Load and validate the structure of one spec document, read from a path or from ``text`` (no
    templates resolved, no shapes checked; a library name such as ``cnn/ResNet1D`` is not looked up).

    A PHM-Vibench experiment config is no spec document: it is E103, naming :func:`check`,
    :func:`compile_spec` and :func:`build`, which read it.

    >>> doc = load_spec(text="vibench: 1\\nextends: cnn/ResNet1D\\nwith: {num_classes: 4}\\n")
    >>> doc.extends, doc.with_
    ('cnn/ResNet1D', {'num_classes': 4})
    """
    from vibench.compiler.load import is_experiment
    from vibench.compiler.spec_files import check_spec_file
    from vibench.compiler.validate import validate

    spec, _ = _arguments(spec, text)
    if spec is not None:  # E004 as check words it, not the whole name in a message or Python's ValueError for a NUL
        check_spec_file(spec, read=text is None)
    doc = pipeline.load(spec, text)
    if is_experiment(doc.data):
        from vibench.compiler.diagnostics import Diagnostic, SpecError

        key = "model" if "model" in doc.data else "base_configs"
        raise SpecError([Diagnostic(
            "E103", "`vibench.load_spec` reads a vibench spec, not a PHM-Vibench experiment config",
            doc.pos((key,), key=True), expected="a vibench spec (`vibench: 1`)",
            found=f"a PHM-Vibench experiment config (`{key}:`, no `vibench:`)",
            hint="`vibench.check`, `vibench.compile_spec` and `vibench.build` read PHM-Vibench configs "
            "(so does `vibench-compile`)")], {doc.file: doc.text})
    return validate(doc)


def check(
    spec: str | None = None,
    *,
    text: str | None = None,
    params: dict[str, Any] | None = None,
    inputs: dict[str, tuple[int, ...]] | None = None,
    search_path: list[str] | None = None,
    max_nodes: int | None = None,
    max_params: int | None = None,
    metadata: Any = None,
    max_activation: int | None = None,
) -> Program:
    """Validate and shape-check a spec; return the annotated graph (a :class:`Program`).

    ``metadata``: PHM-Vibench's dataset metadata table (a path, or what
    :func:`vibench.compiler.phm_metadata.read_metadata` returns) gives ``num_classes`` like ``--metadata``.

    >>> program = check(text=_TINY, params={"num_classes": 3}, inputs={"x": (2, 1, 1024)})
    >>> [(n.name, str(n.outputs[0][1])) for n in program.root.nodes]
    [('conv', '[B, 8, L]'), ('pool', '[B, 8, 1]'), ('flat', '[B, 8]'), ('fc', '[B, 3]')]
    >>> program.bindings
    (('B', 2), ('L', 1024))
    """
    spec, search_path = _arguments(spec, text, params, search_path, metadata)
    search_path = _with_environment(search_path)
    path = pipeline.find_spec(spec, search_path, in_python=True) if spec is not None else None
    if isinstance(metadata, (str, os.PathLike)):
        from vibench.compiler.phm_metadata import read_metadata

        metadata = read_metadata(os.fspath(metadata))
    return pipeline.compile_program(path, text=text, params=params, inputs=inputs, search_path=search_path,
                                    max_nodes=max_nodes, max_params=max_params, metadata=metadata,
                                    max_activation=max_activation)


def compile_spec(
    spec: str | None = None,
    *,
    text: str | None = None,
    params: dict[str, Any] | None = None,
    inputs: dict[str, tuple[int, ...]] | None = None,
    search_path: list[str] | None = None,
    out_path: str | os.PathLike[str] | None = None,
    max_nodes: int | None = None,
    max_params: int | None = None,
    metadata: Any = None,
    max_activation: int | None = None,
    inplace: bool = True,
) -> CompileResult:
    """Compile a spec to model.py source; ``out_path`` (a str or ``os.PathLike``) only feeds the header's
    regenerate line. ``inplace=False`` (``--no-inplace``): no operation of ``forward`` writes into a layer's output, so
    forward and backward hooks (feature taps, Grad-CAM) see it as the layer returned it.

    >>> result = compile_spec(text=_TINY)
    >>> print(result.source.splitlines()[0][:40])
    # Generated by vibench-compile 0.1.0 fro
    >>> "class Tiny(nn.Module):" in result.source
    True
    """
    if not isinstance(inplace, bool):  # before the compile, as build checks it
        raise TypeError(f"inplace must be True or False, not {inplace!r}")
    kind = "the path of the model.py the header names (str or os.PathLike)"
    if out_path is not None and not isinstance(out_path, (str, os.PathLike)):
        raise TypeError(f"out_path is {kind}, not {type(out_path).__name__}")
    out = None if out_path is None else _path(out_path, "out_path", kind)
    program = check(spec, text=text, params=params, inputs=inputs, search_path=search_path,
                    max_nodes=max_nodes, max_params=max_params, metadata=metadata, max_activation=max_activation)
    return CompileResult(source=pipeline.compile_source(program, out, inplace), program=program)


def build(
    spec: str | None = None,
    *,
    text: str | None = None,
    inputs: dict[str, tuple[int, ...]] | None = None,
    search_path: list[str] | None = None,
    max_nodes: int | None = None,
    max_params: int | None = None,
    max_activation: int | None = None,
    metadata: Any = None,
    inplace: bool = True,
    **params: Any,
) -> torch.nn.Module:
    """Build the nn.Module of a spec (imports torch). Keyword arguments set template parameters;
    ``metadata`` gives ``num_classes`` from PHM-Vibench's metadata table, as for :func:`check`;
    ``inplace=False`` builds the model without in-place work, for hooks that keep a layer's output
    (as :func:`compile_spec` and ``--no-inplace``).

    ``spec`` is whatever ``vibench-compile`` takes: a spec file, a library template name such as
    ``cnn/ResNet1D``, or a PHM-Vibench experiment config. The model is checked against ``max_nodes``
    ``max_params`` and ``max_activation`` before any weight is allocated. Compiled sources are cached by content
    (in memory and in ``~/.cache/vibench/models``; ``VIBENCH_CACHE=0`` keeps them in memory;
    :func:`clear_cache` empties it), so a second build of the same spec costs an import and the
    constructor; an edited template or plug-in block is compiled again. The spec's warnings and notes
    (``W104``: a parameter set here that no block reads, ...) are :class:`SpecWarning` warnings, at each build,
    from the cache too.

    >>> import torch
    >>> model = build(text=_TINY, num_classes=5).eval()
    >>> model(torch.randn(2, 1, 256)).shape
    torch.Size([2, 5])
    >>> build("cnn/ResNet1D", num_classes=4).classifier.out_features
    4
    """
    from vibench.runtime.build import build_spec

    spec, search_path = _arguments(spec, text, None, search_path, metadata)
    if spec is None and text is None:
        raise TypeError("give a spec path or text")
    search_path = _with_environment(search_path)
    if isinstance(metadata, (str, os.PathLike)):
        from vibench.compiler.phm_metadata import read_metadata

        metadata = read_metadata(os.fspath(metadata))
    # As compile_program reads them, so that the cache key does too (np.int64(4) and 4 are one model).
    params, inputs = pipeline.python_values(params), pipeline.input_sizes(inputs)
    if not isinstance(inplace, bool):
        raise TypeError(f"inplace must be True or False, not {inplace!r}")
    model, warned = build_spec(spec, text, params, inputs, search_path, max_nodes, max_params, max_activation,
                               metadata, inplace)
    for _, message in warned:  # at the caller's line; a hit in the cache gives them too
        warnings.warn(message, SpecWarning, stacklevel=2)
    return model


def clear_cache() -> None:
    """Forget every model :func:`build` compiled, in memory and in the cache folder
    (:func:`vibench.models.cache_dir`: its ``m_<32 hex digits>.py`` and ``.json`` files, their bytecode, its
    ``k_<key>`` index files and the ``.vibench-tmp-*`` files a killed write left, nothing else); the next build of
    a spec compiles it again. Models already built keep working, and keep pickling: a build that compiles to the
    same code gives their class again (its module stays imported). Deleting the folder clears it too;
    ``VIBENCH_CACHE=0`` leaves it unused (models are cached in memory only, and nothing is read or imported from
    the folder: loading a model saved whole whose module is there is an ``ImportError`` saying so). A folder that
    cannot be created or written keeps models in memory too, with one ``RuntimeWarning`` naming it and the error;
    a folder whose files this call cannot remove (read-only) is a ``RuntimeWarning`` at every call, saying how many
    stay.
    """
    from vibench.runtime import cache

    cache.clear()
