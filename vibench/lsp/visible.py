"""Text the server sends for the editor to show, made safe to show.

A spec's names and docs, a plug-in's docstrings, parameter descriptions and exception messages are any
text: a bidirectional override (U+202E) reorders what the reader sees (Trojan Source), an escape sequence
or a line separator acts where it is shown. The server writes each such character as its escape
(``\\u202e``, ``\\x1b``), as the compiler does for a block's doc in ``--blocks``
(:func:`vibench.compiler.blocks.base.visible_text`): :func:`visible`, applied to everything the editor
shows of a diagnostic, hover, completion item, symbol and code action (:func:`hover`,
:func:`completion_item`, :func:`symbol`, :func:`code_action`; the server's glue calls them), never to
text inserted into the document.

In hover markdown a value is written as a code span by :func:`code`, which no backtick in the value can
close, and a name in prose by :func:`plain`, which no markdown in it can turn into a link or markup (nor
a URL or an address in it into an autolink, as GitHub-flavoured renderers make of ``https://…``,
``www.…`` and ``a@b.c``). Docs (a block's docstring, a spec's ``doc:``) are markdown on purpose and
are shown as such (escaped, not quoted).

>>> code("a`b"), plain("x [link](command:quit)"), plain("https://e.com www.e.com a@e.com")
('``a`b``', 'x \\\\[link\\\\](command:quit)', 'https\\\\://e.com www\\\\.e.com a`@`e.com')
"""

from __future__ import annotations

import re

from lsprotocol import types as t

from vibench.schemas.param_schema import fenced

_MARKUP = re.compile(r"[\\`*\[\]<>~&]|(?<!\w)_|_(?!\w)")  # what may start markup in a line of prose
_SAFE = re.compile(r"[\w ./$#=,:+()-]*")  # text that needs no escape (`kernel_size`, `cnn/ResNet1D`, `cout=16`)
# What starts a GFM autolink (cmark-gfm, marked in VS Code): a scheme's `://`, `www.`, an address's `@`. A
# backslash before the `:` or `.` leaves the text as shown and no longer a link; cmark-gfm finds an address
# in the text after escapes are read, so an `@` is written as a code span (`x`@`y.z`), which it looks past.
_AUTOLINK = re.compile(r"@|:(?=//)|(?<=www)\.", re.IGNORECASE)


def visible(text: str) -> str:
    """``text`` with each character that would act rather than show (but line breaks and tabs) escaped."""
    if text.isprintable():
        return text
    from vibench.compiler.blocks.base import visible_text

    return visible_text(text)


def one_line(text: str) -> str:
    """:func:`visible` text with its line breaks written ``\\n`` (``\\r``) too."""
    return visible(text).replace("\r", "\\r").replace("\n", "\\n")


def code(text: str) -> str:
    """A markdown code span showing ``text`` as it is (CommonMark: the fence is one backtick longer than
    any run of backticks inside; a space pads a value that starts or ends with one).

    >>> code("x"), code("``"), code(" a ")
    ('`x`', '``` `` ```', '`  a  `')
    """
    return fenced(one_line(text))


def plain(text: str) -> str:
    """``text`` (a name) in markdown prose as it is written: what would start markup or an autolink escaped
    with a backslash."""
    shown = one_line(text)
    if not _SAFE.fullmatch(shown):
        shown = _MARKUP.sub(lambda m: "\\" + m.group(), shown)
    # after the markup: the backslashes and backticks it adds are not escaped again
    return _AUTOLINK.sub(lambda m: "`@`" if m.group() == "@" else "\\" + m.group(), shown)


# --------------------------------------------------------------------------------------------
# what the server sends
# --------------------------------------------------------------------------------------------


def _markup(content: t.MarkupContent | str | None) -> t.MarkupContent | str | None:
    if isinstance(content, t.MarkupContent):
        return t.MarkupContent(kind=content.kind, value=visible(content.value))
    return visible(content) if isinstance(content, str) else content


def hover(result: t.Hover | None) -> t.Hover | None:
    if result is None:
        return None
    contents = result.contents
    if isinstance(contents, list):
        shown: object = [c if not isinstance(c, str) else visible(c) for c in contents]
    elif isinstance(contents, t.MarkupContent | str):
        shown = _markup(contents)
    else:  # a MarkedString with a language
        shown = contents
    return t.Hover(contents=shown, range=result.range)  # type: ignore[arg-type]


def completion_item(item: t.CompletionItem) -> t.CompletionItem:
    """The item with its label, detail and documentation escaped; a label that changed keeps the text the
    client filters by (the name as typed)."""
    label = visible(item.label)
    if label != item.label and item.filter_text is None:
        item.filter_text = item.label
    item.label = label
    if item.detail is not None:
        item.detail = visible(item.detail)
    item.documentation = _markup(item.documentation)
    if item.label_details is not None:
        item.label_details = t.CompletionItemLabelDetails(
            detail=visible(item.label_details.detail) if item.label_details.detail else item.label_details.detail,
            description=visible(item.label_details.description) if item.label_details.description
            else item.label_details.description)
    return item


def symbol(item: t.DocumentSymbol) -> t.DocumentSymbol:
    item.name = visible(item.name)
    if item.detail is not None:
        item.detail = visible(item.detail)
    item.children = [symbol(child) for child in item.children] if item.children is not None else None
    return item


def code_action(action: t.CodeAction) -> t.CodeAction:
    action.title = visible(action.title)
    return action
