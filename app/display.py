"""Names as one line of text: control characters shown as escapes, so output stays one line per item.

A file named "a\\nb.txt" would otherwise print as two lines and break the one-line-per-file output of
`kb ingest` and the tab-separated `kb list`. Control characters (newline, tab, escape, ...), the
Unicode line and paragraph separators and the invisible text-direction marks become `\\n`, `\\t`,
`\\x1b`, `\\u2028`, as `repr` writes them; a backslash itself is left alone unless it would be read
as one of those escapes, so ordinary names print exactly as they are and two names that differ always
print differently.

Example:
    >>> one_line("report\\tfinal\\n.pdf")
    'report\\\\tfinal\\\\n.pdf'
"""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069]|\\(?=[ntrxu\\])")
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\\": "\\\\"}


def one_line(text: str) -> str:
    """`text` with control, line-separator and text-direction characters escaped."""
    return _UNSAFE.sub(_escape, text)


def _escape(m: re.Match) -> str:
    ch = m.group()
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
