"""One sanitiser for every stored string shown to a person: on a terminal, in Markdown, in
HTML. A hostname, an error message or a device name comes from the store, and a store may
hold another machine's bundle: none of it may move the cursor, retitle the window, reorder
text (bidirectional overrides), start a Markdown table cell or become HTML.

`plain` is the base of the three: one line in which every character that is not printable
(the C0 and C1 controls with ESC among them, DEL, line and paragraph separators, format
characters such as U+202E) is written as its Python escape (``\\x1b``), so that what was
there stays visible without acting.
"""

from __future__ import annotations

import html as html_module

from rich.markup import escape as rich_escape


def plain(text: object) -> str:
    """`text` as one line a terminal shows as it is."""
    return "".join(character if character.isprintable()
                   else character.encode("unicode_escape", "backslashreplace").decode("ascii")
                   for character in str(text))


def terminal(text: object) -> str:
    """For a rich console (print, a table cell): plain, and its markup written literally."""
    return rich_escape(plain(text))


def markdown(text: object) -> str:
    """For a Markdown line or table cell: plain, no HTML (``& < >`` as entities), and
    neither a backslash nor ``|`` that could close a table cell."""
    return (html_module.escape(plain(text), quote=False)
            .replace("\\", "\\\\").replace("|", "\\|"))


def lines(text: object) -> str:
    """Like `plain`, line by line: for a block shown as lines (a worker's stderr in <pre>)."""
    return "\n".join(plain(line) for line in str(text).split("\n"))


def html(text: object) -> str:
    """For HTML text or an attribute value: `lines`, every markup character an entity."""
    return html_module.escape(lines(text), quote=True)
