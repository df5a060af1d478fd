"""Where specs are found: the installed library's folder, the file suffixes a spec may have, and the file a spec
name means (:func:`find_spec`). Imports nothing of the compiler but diagnostics, so that any module can use it."""

from __future__ import annotations

import os

from vibench.compiler.diagnostics import Diagnostic, SpecError

LIBRARY_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "specs")
SPEC_SUFFIXES = (".yaml", ".yml", ".json")


def find_spec(spec: str, search_path: list[str] | None = None) -> str:
    """The file a spec name means: an existing path, else a template on the search path or in the
    library (``cnn/ResNet1D``); SpecError E004 when there is none."""
    if os.path.exists(spec):
        return spec
    if not os.path.isabs(spec) and ".." not in spec.split("/"):
        for root in list(search_path or []) + [LIBRARY_DIR]:
            for suffix in ("",) + SPEC_SUFFIXES:
                candidate = os.path.join(root, spec + suffix)
                if os.path.isfile(candidate):
                    return candidate
    shown = spec if len(spec) <= 200 else spec[:200] + "..."
    raise SpecError([Diagnostic("E004", "no such spec file or library template", None, found=shown,
                                hint="give a path, or a template name such as cnn/ResNet1D "
                                "(`vibench-compile --list` lists them)")])
