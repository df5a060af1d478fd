"""Extra golden variants per family: each module defines CASES = [(spec, golden name, params)]."""
