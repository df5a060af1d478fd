"""The compiler: passes from spec text to model.py (load, validate, resolve, graph, shapes, emit),
diagnostics and the CLI. Never imports torch."""
