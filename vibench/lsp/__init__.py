"""vibench-lsp: a language server for vibench specs and PHM-Vibench configs, backed by the compiler.

Completion (block names and parameters, node and port names in ``in:``, templates, ``with:`` and
``model:`` parameters, slot values), hover (a block's or template's doc; a node's inferred output
shape, parameter count and FLOPs; an input's constraints), the compiler's own diagnostics as you
type, go to definition, document symbols and "did you mean" quick fixes. It speaks LSP over stdio:

    vibench-lsp                      # or: python -m vibench.lsp

The server needs the optional dependency pygls (``pip install 'vibench[lsp]'``), imported only
when it starts; like the compiler, it never imports torch. Modules: :mod:`~vibench.lsp.outline`
(a tolerant reading of the text), :mod:`~vibench.lsp.catalog` (blocks, templates, spec files),
:mod:`~vibench.lsp.checking` (compiling and placing diagnostics), :mod:`~vibench.lsp.spec_kind`
(which documents are specs, from their top-level keys), :mod:`~vibench.lsp.document`,
the features (:mod:`~vibench.lsp.completion`, :mod:`~vibench.lsp.hover`,
:mod:`~vibench.lsp.navigation`), :mod:`~vibench.lsp.visible` (what is shown, escaped),
:mod:`~vibench.lsp.stdio` (standard output kept for the protocol), :mod:`~vibench.lsp.protocol`
(workarounds for pygls) and :mod:`~vibench.lsp.server` (the LSP glue).
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``vibench-lsp``: run the server, or say how to install what it needs."""
    try:
        import lsprotocol  # noqa: F401
        import pygls  # noqa: F401
    except ImportError as err:
        print(f"vibench-lsp needs the `lsp` extra ({err.name} is not installed): pip install 'vibench[lsp]'",
              file=sys.stderr)
        return 2
    from vibench.lsp.server import serve

    return serve(argv)
