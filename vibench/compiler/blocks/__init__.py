"""The built-in block catalogue. Importing this package registers every block.

Every module in this package except ``base`` defines blocks with ``@register``; they are imported
in name order, so adding a file adds its blocks (no list to keep in sync).
"""

import importlib
import pkgutil

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    if _module != "base":
        importlib.import_module(f"{__name__}.{_module}")
