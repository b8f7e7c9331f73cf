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
import email.policy
import re
import time
from email.message import EmailMessage, Message
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


def _parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)  # what policy.default makes
    return message


def message_text(path: Path, message: EmailMessage, deadline: float) -> str:
    lines = [f"{name}: {value}" for name in _HEADERS if (value := _header(message, name))]
    body = _body(path, message, deadline)
    attachments = [_attachment_name(part) for part in message.iter_attachments()]
    text = "\n".join(lines) + ("\n\n" + body if body else "")
    if attachments:
        text += "\n\nAttachments: " + ", ".join(attachments)
    return text


def _header(message: Message, name: str) -> str:
    try:
        value = message.get(name)
    except Exception:  # a malformed header loses only itself, not the message (the parser's errors vary)
        return ""
    return " ".join(str(value).split()) if value is not None else ""


def _body(path: Path, message: EmailMessage, deadline: float) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if not isinstance(part, EmailMessage):
        return ""
    text = _content(part)
    if part.get_content_subtype() == "html":
        return html_text(path, text, max(deadline - time.monotonic(), 0.0), title=False)
    return text


def _content(part: EmailMessage) -> str:
    """A text part decoded by its charset; an unknown or wrong charset is read as UTF-8, replacing what is not."""
    try:
        content = part.get_content()
        if isinstance(content, str):
            return content
    except (LookupError, UnicodeError, ValueError):
        pass
    payload = part.get_payload(decode=True)
    return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""


def _attachment_name(part: Message) -> str:
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            return f"forwarded message ({_header(inner[0], 'Subject') or 'no subject'})"
    name = part.get_filename()
    return name or f"unnamed {part.get_content_type()}"
