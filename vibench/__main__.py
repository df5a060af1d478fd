"""``python -m vibench ...`` is ``vibench-compile ...``: for an environment whose scripts folder is not on
``PATH`` (a cluster module, a notebook's ``!python -m vibench``)."""

import sys

from vibench.compiler.cli_entry import main  # Ctrl-C during the imports: one line, no traceback

if __name__ == "__main__":
    sys.exit(main())
