"""The built-in block catalogue. Importing this package registers every block."""

from vibench.compiler.blocks import activation, arith, conv, dense, norm, pool, reshape  # noqa: F401
