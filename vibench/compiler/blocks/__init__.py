"""The built-in block catalogue: one module per block family, each defining blocks with ``@register``.

Importing this package imports no block module: :mod:`vibench.compiler.registry` imports the one
module that defines a block when the block is first looked up (through the generated index
``_index.py``), and every module when the whole catalogue is listed. Adding a file adds its blocks
(no list to keep by hand); refresh the index with ``python -m vibench.compiler.registry``.
"""
