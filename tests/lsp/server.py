"""The pinned yaml-language-server for the editor tests: install it once, start it, mark positions.

The server is installed from npm into the git-ignored ``.tools/yaml-language-server/`` the first
time the tests need it, at :data:`SERVER_VERSION`. 1.25.0 runs on node 18 and 20; 2.0.0 declares
node >= 22 and behaves the same on these specs (``shared/reference/editor-completion.md``).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.lsp.client import LanguageServer, file_uri

ROOT = Path(__file__).resolve().parents[2]
SERVER_PACKAGE = "yaml-language-server"
SERVER_VERSION = "1.25.0"
TOOLS = ROOT / ".tools" / "yaml-language-server"
PACKAGE_DIR = TOOLS / "node_modules" / SERVER_PACKAGE
SCHEMA = ROOT / "vibench" / "schemas" / "spec.schema.json"
SCHEMA_LEVEL = frozenset({"E101", "E102", "E103", "E104", "E105", "E110", "E111", "E112", "E113"})
"""The compiler's error codes for what the JSON Schema expresses (structure, block parameters)."""

# Files without a modeline get the committed schema through the settings, as a user's editor would.
ASSOCIATED = ["tests/broken/**/*.yaml", "tests/broken/**/*.json", "tests/editor_cases/**/*.yaml",
              "tests/editor_cases/**/*.json"]


def settings() -> dict:
    # The server reads YAML 1.2 (its default); `yaml.yamlVersion: "1.1"` would make `y:` and `n:`
    # booleans, which PyYAML, and so the compiler, reads as strings.
    return {"yaml": {"validate": True, "hover": True, "completion": True, "format": {"enable": False},
                     "schemaStore": {"enable": False}, "schemas": {file_uri(SCHEMA): ASSOCIATED}}}


def installed_version() -> str | None:
    try:
        return json.loads((PACKAGE_DIR / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


def ensure_installed() -> tuple[str, Path]:
    """(node, the server's entry script); installs the pinned server if needed, skips without node."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        missing = " and ".join(n for n, p in (("node", node), ("npm", npm)) if p is None)
        reason = (f"EDITOR TESTS NOT RUN: `{missing}` not found on PATH. They drive the real {SERVER_PACKAGE} "
                  f"{SERVER_VERSION} over LSP; install Node.js (18 or later) to run them.")
        print(f"\n*** {reason}\n", file=sys.stderr)
        pytest.skip(reason)
    if installed_version() != SERVER_VERSION:
        TOOLS.mkdir(parents=True, exist_ok=True)
        cmd = [npm, "install", "--prefix", str(TOOLS), f"{SERVER_PACKAGE}@{SERVER_VERSION}", "--no-audit",
               "--no-fund", "--loglevel=error"]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if run.returncode != 0 or installed_version() != SERVER_VERSION:
            pytest.fail(f"`{' '.join(cmd)}` failed (exit {run.returncode}):\n{run.stdout}\n{run.stderr}")
    return node, PACKAGE_DIR / "bin" / SERVER_PACKAGE


def start_server() -> LanguageServer:
    from vibench.schemas.jsonschema import schema_text

    if SCHEMA.read_text(encoding="utf-8") != schema_text():
        pytest.fail("vibench/schemas/spec.schema.json is stale, and the editor tests open specs against it: "
                    "run `make schema`")
    node, script = ensure_installed()
    # A generous guard for every answer (as tests/lsp/vibench_lsp.py): a loaded machine never fails a test.
    server = LanguageServer([node, str(script), "--stdio"], settings=settings(), cwd=str(ROOT), timeout=120.0)
    server.initialize(file_uri(ROOT))
    return server


_MARK = re.compile(r"⟨(\w+)⟩")


def marked(text: str) -> tuple[str, dict[str, tuple[int, int]]]:
    """Remove ``⟨name⟩`` markers from ``text``; return it and each marker's 0-based (line, column)."""
    marks: dict[str, tuple[int, int]] = {}
    lines = []
    for number, line in enumerate(text.split("\n")):
        while (m := _MARK.search(line)) is not None:
            marks[m.group(1)] = (number, m.start())
            line = line[: m.start()] + line[m.end():]
        lines.append(line)
    return "\n".join(lines), marks
