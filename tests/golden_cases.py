"""Library specs with golden files: (spec, golden file name, parameters)."""

from __future__ import annotations

LIBRARY_CASES: list[tuple[str, str, dict]] = []
