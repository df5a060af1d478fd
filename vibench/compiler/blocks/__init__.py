"""The built-in block catalogue. Importing this package registers every block."""

from vibench.compiler.blocks import (  # noqa: F401
    activation,
    arith,
    attention,
    conv,
    dense,
    norm,
    pool,
    position,
    rearrange,
    recurrent,
    reshape,
    spectral,
)
