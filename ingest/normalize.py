"""Pure text clean-up applied by the loaders to every extracted page or file.

`normalize_text` runs the steps below in order. Unicode NFKC is deliberately *not* applied: it would
rewrite Chinese full-width punctuation (，。！) into ASCII and change what users search for.

Example:
    >>> normalize_text("An exam-\\nple\\r\\n\\r\\n\\r\\nnext   para\\x00")
    'An example\\n\\nnext para'
"""

from __future__ import annotations

import re

# C0/C1 controls except tab and newline, DEL, the BOM and the soft hyphen (invisible in rendered text).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ufeff\u00ad]")
# A letter, a hyphen at the end of a line, then a letter: maybe a word broken by PDF line wrapping
# (`join_hyphenated` decides). The word before is found by scanning back from each match, not by the
# pattern: `[\w-]*` in front of the hyphen made the regex quadratic on long runs of word characters (a
# 40,000-character "word" took 40 s).
_HYPHEN_BREAK = re.compile(r"(?<=[^\W\d_])-[ \t]*\n[ \t]*(?=[^\W\d_])")
_SPACES = re.compile(r"[ \t]+")
_BLANK_LINES = re.compile(r"\n(?:[ \t]*\n)+")


def normalize_newlines(text: str) -> str:
    """\\r\\n, \\r, form feed, vertical tab and Unicode line/paragraph separators become \\n."""
    text = text.replace("\r\n", "\n")
    return re.sub("[\r\f\v\u2028\u2029\x85]", "\n", text)


def remove_control_chars(text: str) -> str:
    """Drop NULs and other control characters (keeps \\t and \\n)."""
    return _CONTROL.sub("", text)


def join_hyphenated(text: str) -> str:
    """'exam-\\nple' -> 'example'.

    A capital after the break ('Jean-\\nPaul') keeps hyphen and newline; a word that already has a
    hyphen ('state-of-\\nthe-art') keeps this one too, since it is most likely a compound.
    """

    out: list[str] = []
    done = 0  # text[:done] is in `out`; a word never reaches back before the previous match
    for m in _HYPHEN_BREAK.finditer(text):
        if not text[m.end()].islower():
            continue
        start = m.start()
        while start > done and _is_word_char(text[start - 1]):
            start -= 1
        out.append(text[done : m.start()])
        if "-" in text[start : m.start()]:
            out.append("-")
        done = m.end()
    out.append(text[done:])
    return "".join(out)


def _is_word_char(ch: str) -> bool:
    """Letters, digits, underscore and hyphen: what `[\\w-]` matches."""
    return ch.isalnum() or ch in "_-"


def collapse_spaces(text: str) -> str:
    """Runs of spaces/tabs become one space; spaces at line ends go; 2+ line breaks become one blank line."""
    text = _SPACES.sub(" ", text)
    text = re.sub(r" ?\n ?", "\n", text)
    return _BLANK_LINES.sub("\n\n", text)


def normalize_text(text: str) -> str:
    """All of the above, then strip leading/trailing whitespace. Paragraph breaks (blank lines) survive."""
    text = normalize_newlines(text)
    text = remove_control_chars(text)
    text = join_hyphenated(text)
    return collapse_spaces(text).strip()
