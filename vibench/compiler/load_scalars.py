"""A YAML scalar's value under its tag, for the composer of :mod:`vibench.compiler.load_compose`
(:class:`TaggedScalars`, a mixin of its ``_Composer``): an explicit tag on a scalar, a mapping or a sequence is a
standard one or E003 (:meth:`TaggedScalars._tagged`, :meth:`TaggedScalars._check_container_tag`), and a scalar of
a standard tag is constructed as PyYAML's safe loader does, within the bounds of an integer and refusing the
numbers YAML 1.1 reads otherwise (:meth:`TaggedScalars._construct`, with
:class:`~vibench.compiler.load_numbers.Yaml11Numbers`). Separate from the composer's event loop: it runs for a
tagged value, and once for each distinct plain scalar's text (the composer caches what it resolves).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vibench.compiler.expr_functions import MAX_INT
from vibench.compiler.load_numbers import _JSON_LEADING_ZERO, _LEADING_ZERO, MAX_INT_DIGITS, Yaml11Numbers

_STD = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_STD + t for t in ("str", "int", "float", "bool", "null")}
_STR, _INT, _FLOAT, _BOOL, _MERGE_TAG = (_STD + t for t in ("str", "int", "float", "bool", "merge"))
_TAG_HINT = "specs use plain mappings, sequences and scalars; tags that construct objects are refused"


class TaggedScalars(Yaml11Numbers):
    """The composer's tags (a mixin of :class:`vibench.compiler.load_compose._Composer`)."""

    if TYPE_CHECKING:  # the composer's
        yaml: Any

    def _check_container_tag(self, event: Any, is_map: bool) -> None:
        tag = event.tag
        if tag is None or tag == "!":
            return
        if tag == _STD + ("map" if is_map else "seq"):
            return
        raise self.error("E003", f"YAML tag `{_tag_text(tag)}` is not allowed in a spec", event.start_mark,
                         hint=_TAG_HINT)

    def _tagged(self, event: Any) -> Any:
        """A scalar with an explicit tag (not the non-specific ``!``): a standard scalar tag only (E003)."""
        tag = event.tag
        if tag not in _SCALAR_TAGS:
            raise self.error("E003", f"YAML tag `{_tag_text(tag)}` is not allowed in a spec", event.start_mark,
                             hint=_TAG_HINT)
        return self._construct(tag, event.value, event)

    def _construct(self, tag: str, text: str, event: Any) -> Any:
        yaml = self.yaml
        node = yaml.ScalarNode(tag, text, event.start_mark, event.end_mark)
        constructor = self.constructor
        if tag == _INT and len(text) > MAX_INT_DIGITS:  # before int(), which refuses 4,301 digits
            raise self._out_of_range(text, event, f"an integer literal of {len(text):,} characters")
        if (tag == _INT or tag == _FLOAT) and "_" in text and ":" not in text:  # `10_`: refused as Python does
            read = self._refuse_underscores(tag, node, event)
            if read is not None:  # a lenient read: PyYAML's number
                if tag == _INT and not -MAX_INT <= read <= MAX_INT:
                    raise self._out_of_range(text, event)
                return read
        if (tag == _INT or tag == _FLOAT) and (":" in text or (tag == _INT and _LEADING_ZERO.match(text))
                                               or (self.json and _JSON_LEADING_ZERO.match(text))):
            read = self._refuse_yaml_1_1_number(tag, node, event)
            if read is not None:  # a lenient read: PyYAML's number
                if tag == _INT and not -MAX_INT <= read <= MAX_INT:
                    raise self._out_of_range(text, event)
                return read
        try:
            if tag == _STR:
                return text
            if tag == _INT:
                value = constructor.construct_yaml_int(node)
                if not -MAX_INT <= value <= MAX_INT:
                    raise self._out_of_range(text, event)
                return value
            if tag == _FLOAT:
                return constructor.construct_yaml_float(node)
            if tag == _BOOL:
                return constructor.construct_yaml_bool(node)
            return None
        except (ValueError, KeyError, OverflowError, IndexError):  # IndexError: PyYAML reads `!!int ""` at [0]
            kind = tag.rsplit(":", 1)[-1]
            raise self.error("E001", f"invalid {kind} scalar `{text[:40]}`", event.start_mark,
                             expected=f"a valid {kind} after `!!{kind}`", found=repr(text[:40]),
                             hint=f"drop the `!!{kind}` tag, or write a valid {kind}") from None


def _tag_text(tag: str) -> str:
    """A tag as the user wrote it: ``!!python/object`` rather than ``tag:yaml.org,2002:python/object``."""
    return "!!" + tag[len(_STD):] if tag.startswith(_STD) else tag
