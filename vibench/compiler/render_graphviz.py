"""Graphviz's ``dot`` for ``--graph`` pictures in SVG or PNG (see :mod:`vibench.compiler.render`, which writes
the DOT text): found on PATH, run with a time limit, its failures as :class:`RenderError`.
"""

from __future__ import annotations

import shutil
import subprocess

DOT_TIMEOUT_S = 120


class RenderError(Exception):
    """A picture that cannot be made (no Graphviz, or dot failed); a usage error for the CLI."""


def dot_binary() -> str | None:
    """The Graphviz ``dot`` program on PATH, or None."""
    return shutil.which("dot")


def render_with_dot(text: str, fmt: str) -> bytes:
    """``dot -T<fmt>`` of DOT ``text`` (svg or png); :class:`RenderError` when it cannot run."""
    program = dot_binary()
    if program is None:
        raise RenderError(missing_dot_message(fmt))
    try:
        done = subprocess.run([program, f"-T{fmt}"], input=text.encode("utf-8"), capture_output=True,
                              timeout=DOT_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise RenderError(f"Graphviz `dot` failed: {err}") from None
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RenderError("Graphviz `dot` failed" + (f": {detail[0][:200]}" if detail else
                                                     f" (exit {done.returncode})"))
    return done.stdout


def missing_dot_message(fmt: str) -> str:
    return (f"a .{fmt} picture needs Graphviz's `dot`, which is not on PATH: install Graphviz "
            "(apt install graphviz, brew install graphviz, conda install graphviz), or write a .html page "
            "(self-contained, no Graphviz needed), a .dot or a .mmd file instead")
