"""One module per model family: which reference models its templates cover (see tests/parity.py)."""
