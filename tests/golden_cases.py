"""Library specs with golden files: (spec, golden file name, parameters).

Every spec in the library gets one golden file with its default parameters (``cnn/ResNet1D`` ->
``tests/golden/cnn__ResNet1D.py``). A family adds variants in ``tests/golden_extra/<family>.py``
as ``CASES = [(spec, golden name, params), ...]`` (e.g. M_01_ISFM with three slot fillings).
"""

from __future__ import annotations

import importlib
import os
import pkgutil

from vibench.compiler.resolve import LIBRARY_DIR, SPEC_SUFFIXES


def _library_specs() -> list[str]:
    out = []
    for dirpath, _, files in os.walk(LIBRARY_DIR):
        for f in sorted(files):
            if f.endswith(SPEC_SUFFIXES):
                out.append(os.path.relpath(os.path.join(dirpath, f), LIBRARY_DIR).replace(os.sep, "/"))
    return sorted(out)


def _extra() -> list[tuple[str, str, dict]]:
    import tests.golden_extra as package

    cases: list[tuple[str, str, dict]] = []
    for m in pkgutil.iter_modules(package.__path__):
        cases += importlib.import_module(f"tests.golden_extra.{m.name}").CASES
    return cases


LIBRARY_CASES: list[tuple[str, str, dict]] = [
    (os.path.join(LIBRARY_DIR, rel), os.path.splitext(rel)[0].replace("/", "__") + ".py", {})
    for rel in _library_specs()
] + _extra()
