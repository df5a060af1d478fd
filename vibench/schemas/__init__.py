"""The spec language: pydantic models of a spec document, parameter types, the block catalogue's
parameter models and the generated JSON Schema. Never imports torch."""
