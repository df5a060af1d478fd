"""The passes chained: spec text or file -> Program -> model.py source."""

from __future__ import annotations

from typing import Any

from vibench.compiler.diagnostics import SpecError
from vibench.compiler.emit import emit
from vibench.compiler.ir import Program, SourceInfo
from vibench.compiler.load import LoadedDoc, load_text, read_spec_file
from vibench.compiler.resolve import Library, resolve
from vibench.compiler.shapes import infer_program
from vibench.compiler.validate import validate
from vibench.schemas.document import SpecDocument


def load(path: str | None = None, text: str | None = None, display: str | None = None) -> LoadedDoc:
    """Pass 1 for a path or for text (``display`` names the text in messages)."""
    if text is not None:
        import os

        return load_text(text, display or path or "<string>", os.path.abspath(path) if path else None)
    if path is None:
        raise TypeError("give a spec path or text")
    return read_spec_file(path, display or path)


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
) -> Program:
    """Load, validate, resolve and shape-check a spec (raises SpecError)."""
    doc = load(path, text, display)
    library = Library(search_path)
    library.sources[doc.file] = doc.text
    try:
        spec = validate(doc)
        root = resolve(doc, spec, library, params)
        shown = overrides_text if overrides_text is not None else [(k, _show(v)) for k, v in (params or {}).items()]
        source = SourceInfo(
            display_path=doc.file,
            sha256=doc.sha256,
            overrides=tuple(shown),
            input_bindings=tuple((k, ",".join(map(str, v))) for k, v in (inputs or {}).items()),
        )
        return infer_program(root, library, source, inputs)
    except SpecError as err:
        raise SpecError(err.diagnostics, {**library.sources, **err.sources}) from None


def compile_source(program: Program, out_path: str | None = None) -> str:
    return emit(program, out_path=out_path)


def _show(value: Any) -> str:
    import json

    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))
