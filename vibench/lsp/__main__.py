"""``python -m vibench.lsp``: run the language server on stdin/stdout."""

from vibench.lsp import main

raise SystemExit(main())
