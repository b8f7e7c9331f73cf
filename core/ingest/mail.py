"""E-mail: one message (.eml) or a mailbox of them (.mbox), parsed with the stdlib's ``email``.

A message reads as its Subject, From, To and Date lines, a blank line, then its text/plain body (or
its text/html body through the HTML cleaner), then the names of its attachments, which are listed,
not read. A mailbox is one document whose pages are its messages, in file order, each starting with
its own header lines: the index holds one record per file, so a page is how a result says which
message it came from (``page_label``).

The mailbox is split here rather than by ``mailbox.mbox``, which opens the file for writing (Sleuth
never writes into the user's folders) and indexes every message's offsets before the first is read.
Messages start at lines beginning ``From `` (mboxo and mboxrd; ``>From `` lines are unquoted once).
"""

from __future__ import annotations

import email
import re
import time
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.message import Message
from pathlib import Path

from core.errors import CorruptFile, ExtractionTimeout
from core.ingest.markup import html_text
from core.ingest.text import Document, normalise, paged, read_bytes

_HEADERS = ("Subject", "From", "To", "Date")
_SEPARATOR = re.compile(rb"^From [^\n]*\n", re.MULTILINE)
_QUOTED_FROM = re.compile(rb"^>(>*From )", re.MULTILINE)


def extract_eml(path: Path, timeout: float) -> Document:
    message = _parse(read_bytes(path))
    return Document(path, normalise(message_text(path, message, time.monotonic() + timeout)))


def extract_mbox(path: Path, timeout: float) -> Document:
    data = read_bytes(path)
    if not data.startswith(b"From "):
        raise CorruptFile(path, "not an mbox mailbox (it does not start with a From line)")
    deadline = time.monotonic() + timeout
    separators = list(_SEPARATOR.finditer(data))
    starts = [match.end() for match in separators]
    ends = [*(match.start() for match in separators[1:]), len(data)]
    texts: list[str] = []
    for start, end in zip(starts, ends, strict=True):
        if time.monotonic() > deadline:
            raise ExtractionTimeout(path, "took too long to read")
        texts.append(message_text(path, _parse(_QUOTED_FROM.sub(rb"\1", data[start:end])), deadline))
    return paged(path, texts)


def _parse(data: bytes) -> Message:
    # The compat32 policy: headers stay strings until one is asked for. policy.default runs every header it
    # touches through its registry, twenty times slower over a mailbox (5,000 messages: 45 s against 2.4 s).
    return email.message_from_bytes(data)


def message_text(path: Path, message: Message, deadline: float) -> str:
    lines = [f"{name}: {value}" for name in _HEADERS if (value := _header(message, name))]
    plain, html, attachments = _parts(message)
    body = ""
    if plain is not None:
        body = _content(plain)
    elif html is not None:
        body = html_text(path, _content(html), max(deadline - time.monotonic(), 0.0), title=False)
    text = "\n".join(lines) + ("\n\n" + body if body.strip() else "")
    if attachments:
        text += "\n\nAttachments: " + ", ".join(attachments)
    return text


def _header(message: Message, name: str) -> str:
    """A header decoded for people (RFC 2047 words in their charsets), on one line; "" where absent."""
    value = message.get(name)
    return "" if value is None else _decoded(value)


def _decoded(value: object) -> str:
    try:
        text = str(make_header(decode_header(value)))  # type: ignore[arg-type]
    except (HeaderParseError, LookupError, UnicodeError, ValueError):  # a malformed header is shown as it is
        text = str(value)
    return " ".join(text.split())


def _parts(message: Message) -> tuple[Message | None, Message | None, list[str]]:
    """The first text/plain and text/html parts in reading order, and the names of the attachments.

    An attachment (a part with a file name, or marked as one, or a forwarded message) is named, never
    opened; unnamed inline parts (the images of an HTML body) are neither read nor named.
    """
    plain = html = None
    attachments: list[str] = []
    todo = [message]
    while todo:  # depth-first in document order, without recursion
        part = todo.pop()
        kind = part.get_content_type()
        disposition = str(part.get("Content-Disposition", "")).split(";")[0].strip().lower()
        if part is not message and (kind == "message/rfc822" or disposition == "attachment" or part.get_filename()):
            attachments.append(_attachment_name(part))
        elif part.is_multipart():
            payload = part.get_payload()
            todo.extend(reversed([p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []))
        elif kind == "text/plain" and plain is None:
            plain = part
        elif kind == "text/html" and html is None:
            html = part
    return plain, html, attachments


def _content(part: Message) -> str:
    """A text part decoded by its charset; an unknown charset is read as UTF-8, replacing what is not."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    try:
        return payload.decode(part.get_content_charset() or "utf-8", "replace")
    except LookupError:
        return payload.decode("utf-8", "replace")


def _attachment_name(part: Message) -> str:
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            return f"forwarded message ({_header(inner[0], 'Subject') or 'no subject'})"
    name = part.get_filename()
    return _decoded(name) if name else f"unnamed {part.get_content_type()}"
