"""How messages name what the caller of a compilation gave it, in the caller's own words: ``--set n=4``,
``--input x`` and ``--metadata`` on the command line; ``n=4``, ``inputs['x']`` and ``metadata=`` in Python
(:class:`CallerWords`, which :class:`vibench.compiler.resolve.Library` is)."""

from __future__ import annotations

from vibench.compiler.diagnostics import clip


class CallerWords:
    """Where the values of a compilation came from, as its messages say it: ``in_python`` (called from
    ``vibench.build``/``check``, not the command line) and ``from_table`` (each parameter given with the
    overrides whose value PHM-Vibench's metadata table gave, not the caller -> the table's path)."""

    def __init__(self) -> None:
        self.in_python = False
        self.from_table: dict[str, str] = {}

    @property
    def given_as(self) -> str:
        """Where override values come from, in messages."""
        return "given in Python" if self.in_python else "from --set"

    def given_how(self, name: str) -> str:
        """Where the override ``name`` comes from, in messages: the metadata table, else :attr:`given_as`."""
        return "from the metadata table" if name in self.from_table else self.given_as

    def setting_named(self, name: str) -> str:
        """How a note names the setting of override ``name`` ("without it the error goes away, as it does
        without ..."): `--set n` or `n=`, and for a value the metadata table gave, the table."""
        if name in self.from_table:
            return f"the metadata table (`{self.metadata_option}`)"
        return f"`{name}=`" if self.in_python else f"`--set {name}`"

    def value_origin(self, name: str) -> str:
        """A note for a refused override: where its value came from (the error is at the declaration)."""
        if name in self.from_table:
            return self.table_note(self.from_table[name])
        return self.given_note(name)

    def given_note(self, name: str) -> str:
        """:meth:`value_origin` of a value the caller gave (``--set``, a keyword of ``vibench.build``)."""
        if self.in_python:
            return f"the value is `{name}` as given in Python (a keyword of vibench.build, or check's `params=`)"
        return f"the value is the one given on the command line: `--set {name}=...`"

    def table_note(self, table: str) -> str:
        """The note of a diagnostic about a ``num_classes`` read from the metadata table ``table``."""
        given = f"`{self.metadata_option}`" if self.in_python else self.metadata_option
        return f"the value is max(Label) + 1 per Dataset_id of the metadata table {clip(table, 200)} ({given})"

    @property
    def metadata_option(self) -> str:
        """How the caller gives the metadata table: ``metadata=`` in Python, ``--metadata`` on the command line."""
        return "metadata=" if self.in_python else "--metadata"

    def input_named(self, name: str) -> str:
        """A bound input as messages name it: ``--input x`` on the command line, ``inputs['x']`` in Python."""
        return f"inputs[{name!r}]" if self.in_python else f"--input {name}"
