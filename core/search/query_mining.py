"""Queries mined from passages: what a person might type to find a passage, taken from the passage itself.

The self-supervised training pairs (core.training.data) and the fusion probes (core.search.fusion) ask the same
questions of a chunk: does it open with a heading, where does its first sentence end, and is that text
something a person would type? A query here is prose: inline markup (reST roles, Markdown emphasis,
backticks) is taken out, and a line of code, a markup directive, a one-word label or a fragment of a
hard-wrapped line is no query at all. On Python's documentation a third of the old pairs were such
fragments ("try:", ".. versionadded:: 3.11", "For setresuid(), the").
"""

from __future__ import annotations

import re

MIN_QUERY_WORDS = 2
#: Share of a query's words that must be plain words (letters, with inner hyphens or apostrophes).
MIN_WORDLIKE = 0.6
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")
_ROLE = re.compile(r":[\w.+-]+(?::[\w.+-]+)*:`~?([^`<]*?)\s*(?:<[^>]*>)?`")
_MARKUP = re.compile(r"`+|\*\*|(?<!\w)\*|\*(?!\w)|(?<!\w)_{1,2}(?=\w)|(?<=\w)_{1,2}(?!\w)")
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*[.,;:!?)]*")
_NOT_PROSE = re.compile(
    r"^\s*(?:"
    r"\.\.|>>>|\$ |#|//|/\*|[-=~^*+]{3,}|[{}\[\]()<>|@]"  # directives, prompts, comments, rules, brackets
    r"|\w+\s*[:=]\s*$"  # "try:", "x ="
    r"|(?:def|class|return)\b.*[:(]|from\s+\S+\s+import\b|import\s+[\w.]+\s*$"  # Python statements
    r"|\S+\(.*\)\s*:?\s*$"  # a call or signature: "FormatError([code])"
    r")"
)
_UNDERLINE = set("=-~^*+#")
_PARAGRAPH = re.compile(r"\n[ \t]*\n")
#: A heading does not end on one of these; a hard-wrapped line often does ("For setresuid(), the").
_FUNCTION_WORDS = frozenset(
    "a an the of to in on at by for from with and or but nor that which who whose is are was were be as if "
    "than then into onto its their this these those".split()
)


def clean_query(text: str) -> str | None:
    """The query a person would type for this heading or sentence, or None where it is code or markup."""
    if _NOT_PROSE.match(text):
        return None
    plain = " ".join(_MARKUP.sub("", _ROLE.sub(r"\1", text)).split())
    words = plain.split()
    if len(words) < MIN_QUERY_WORDS:
        return None
    wordlike = sum(1 for w in words if _WORD.fullmatch(w))
    return plain if wordlike / len(words) >= MIN_WORDLIKE else None


def heading_split(text: str) -> tuple[str, str] | None:
    """(first line, rest) where the first line stands alone: a Markdown heading, a line followed by a blank
    line or an underline, or a title line less than half as long as the line after it. A hard-wrapped
    paragraph's first line is a fragment, not a heading."""
    line, _, rest = text.partition("\n")
    following, _, after = rest.partition("\n")
    underline = following.strip()
    if underline and len(set(underline)) == 1 and underline[0] in _UNDERLINE:
        return line, after
    if line.lstrip().startswith("#") or not underline or 2 * len(line.strip()) < len(underline):
        return line, rest
    return None


def sentence_split(text: str) -> tuple[str, str] | None:
    """(first sentence, the text after it), whitespace collapsed, where the text opens with a sentence: a
    capital or a digit first (a chunk that starts mid-sentence has none), ended within its paragraph."""
    paragraph, *after = _PARAGRAPH.split(text.strip(), maxsplit=1)
    flat = " ".join(paragraph.split())
    following = " ".join(after[0].split()) if after else ""
    parts = _SENTENCE_END.split(flat, maxsplit=1)
    if len(parts) == 2:
        sentence, rest = parts[0], f"{parts[1]} {following}".strip()
    elif flat.endswith((".", "!", "?")) and following:
        sentence, rest = flat, following
    else:
        return None
    return (sentence, rest) if sentence[0].isupper() or sentence[0].isdigit() else None


def is_fragment(line: str) -> bool:
    """A line that ends a clause or a paragraph, or breaks off mid-phrase, rather than naming what follows."""
    line = line.strip()
    words = line.split()
    return (
        line.endswith((",", ";"))
        or (line[:1].islower() and line.endswith("."))
        or bool(words and words[-1].lower() in _FUNCTION_WORDS)
    )
