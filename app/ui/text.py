"""User-supplied strings in the web app: shown exactly as typed, never as Markdown or HTML.

Titles, captions, button, status and progress labels and alerts are Markdown in Streamlit, so a knowledge
base named `![x](http://host/x.png)` would make every visitor's browser fetch that image, `**bold**`
would lose its stars and `<b>` would vanish. Two helpers, one for each kind of element:

- `literal(s)` for Markdown elements: control characters become visible escapes (`app.display.one_line`:
  "a\\nb" shows as `a\\nb`), every ASCII punctuation character gets a backslash (CommonMark reads it as
  that character and nothing more, which also disarms Streamlit's `:emoji:`, `:material/icon:` and
  `:red[...]` shortcodes, `$math$` and links), and spaces at the ends or in runs become no-break spaces
  so they are not collapsed. GitHub's autolinks (`http://...`, `www.`, `a@b.org`) are found in the text
  after escapes are read, so an invisible word joiner (U+2060) goes after `://`'s colon, `www` and `@`.
- `plain(s)` for elements that show text as text but collapse whitespace (selectbox options): the same
  escapes and spaces without the backslashes.

Either way, names that differ display differently. Dataframes, `st.text` and `st.code` need neither.
A browser test renders every page with hostile names (tests/test_browser_names.py).

Example:
    >>> literal("**bold** [x](http://e.x)")
    '\\\\*\\\\*bold\\\\*\\\\* \\\\[x\\\\]\\\\(http\\\\:\\u2060\\\\/\\\\/e\\\\.x\\\\)'
    >>> plain("a\\nb  c")
    'a\\\\nb\\xa0\\xa0c'
"""

from __future__ import annotations

import re

from app.display import one_line

_PUNCTUATION = re.compile(r"[!-/:-@\[-`{-~]")
_AUTOLINK = re.compile(r"(?<=\\:)(?=\\/\\/)|(?<=www)(?=\\\.)|(?<=\\@)", re.IGNORECASE)
WORD_JOINER = "\u2060"
_SPACES = re.compile(r"^ +| +$| {2,}")


def literal(text: object) -> str:
    """`text` as Markdown that renders to exactly `text` (see the module docstring)."""
    escaped = _PUNCTUATION.sub(lambda m: "\\" + m.group(), one_line(str(text)))
    return _keep_spaces(_AUTOLINK.sub(WORD_JOINER, escaped))


def plain(text: object) -> str:
    """`text` for a plain-text element that collapses whitespace (a selectbox option)."""
    return _keep_spaces(one_line(str(text)))


def _keep_spaces(text: str) -> str:
    return _SPACES.sub(lambda m: "\u00a0" * len(m.group()), text)
