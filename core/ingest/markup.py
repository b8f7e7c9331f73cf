"""HTML to text: the visible text of a page, in one linear pass with a deadline (no tree is built).

Shared by every reader whose text is markup: HTML files, e-book chapters (XHTML), e-mail bodies.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from core.errors import ExtractionTimeout
from core.ingest.text import DEADLINE_EVERY, Document, normalise
from core.ingest.textdecode import decode

_INVISIBLE = ("script", "style", "noscript", "template", "head", "iframe", "object", "svg", "canvas")
_BLOCKS = (
    *("address", "article", "aside", "blockquote", "body", "caption", "dd", "details", "dialog"),
    *("div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "header", "hr"),
    *("h1", "h2", "h3", "h4", "h5", "h6", "li", "main", "nav", "ol", "option", "p", "pre"),
    *("section", "summary", "table", "tbody", "tfoot", "thead", "tr", "ul"),
)
_BLOCKS_SET = frozenset(_BLOCKS)
_SPACES = re.compile(r"[ \t\r\n\f\v]+")


#: Elements that are page furniture, not content: navigation bars and the pilcrow links on headings.
_NAVIGATION_ROLES = frozenset({"navigation", "menubar", "menu", "toolbar"})
_CHROME_CLASSES = frozenset({"headerlink", "anchorjs-link", "heading-anchor"})
#: The previous/up/next bars that generated manuals put above and below every page: DocBook XSL's (Debian's
#: FAQ and guides, PostgreSQL, GnuCash) and Texinfo 7's. Their text is the neighbouring pages' titles.
_NAVIGATION_CLASSES = frozenset({"navheader", "navfooter", "nav-panel"})


class _HtmlText:
    """An lxml parser target: the visible text, gathered in one pass as the parser reads (no tree is built).

    Work is linear in the input: every element costs a constant, however many siblings it has or however
    deep it sits, and the walk stops at its deadline.
    """

    def __init__(self, path: Path, deadline: float) -> None:
        self.path, self.deadline = path, deadline
        self.parts: list[str] = []
        self.title: list[str] | None = None  # collecting the first <title> while not None
        self.title_done = False
        self.title_text = ""
        self.skipped = 0  # depth inside an invisible element
        self.pre = 0
        self.elements = 0

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        self.elements += 1
        if self.elements % DEADLINE_EVERY == 0 and time.monotonic() > self.deadline:
            raise ExtractionTimeout(self.path, "took too long to read (an enormous or pathological page)")
        if tag == "title" and not self.title_done and self.title is None:
            self.title = []
        if self.skipped:
            self.skipped += 1
            return
        if tag in _INVISIBLE or "hidden" in attrib or _chrome(tag, attrib):
            self.skipped = 1
            return
        if tag in _BLOCKS_SET or tag == "br":
            self.parts.append("\n")
        if tag == "pre":
            self.pre += 1

    def end(self, tag: str) -> None:
        if tag == "title" and self.title is not None:
            self.title_done = True
            self.title_text = " ".join("".join(self.title).split())
            self.title = None
        if self.skipped:
            self.skipped -= 1
            return
        if tag in _BLOCKS_SET:
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append("\t")
        if tag == "pre":
            self.pre -= 1

    def data(self, text: str) -> None:
        if self.title is not None:
            self.title.append(text)
        if not self.skipped:
            self.parts.append(text if self.pre else _SPACES.sub(" ", text))

    def comment(self, text: str) -> None:
        """Comments are not text."""

    def doctype(self, *args: object) -> None:
        """Neither is the doctype (``html SYSTEM "about:legacy-compat"``)."""

    def close(self) -> str:
        return "".join(self.parts)


def _chrome(tag: str, attrib: dict[str, str]) -> bool:
    if tag == "nav" or attrib.get("role", "").lower() in _NAVIGATION_ROLES:
        return True
    classes = _NAVIGATION_CLASSES if tag == "div" else _CHROME_CLASSES if tag == "a" else None
    return classes is not None and not classes.isdisjoint(attrib.get("class", "").split())


def html_document(path: Path, data: bytes, timeout: float = 60.0, *, title: bool = True) -> Document:
    """An HTML file's visible text, decoded as its charset tag says (or as detected)."""
    from bs4.dammit import EncodingDetector

    declared = EncodingDetector.find_declared_encoding(data, is_html=True)
    decoded = decode(data, path, declared=declared)
    return Document(path, html_text(path, decoded.text, timeout, title=title), encoding=decoded.encoding)


def html_text(path: Path, markup: str, timeout: float = 60.0, *, title: bool = True) -> str:
    """The visible text of decoded markup (an HTML page, an e-book chapter, an e-mail body).

    With ``title``, the page's ``<title>`` comes first unless the body already starts with it; an e-book
    chapter or an e-mail body goes without (theirs repeat the book's title, or say nothing).
    """
    from lxml import etree

    target = _HtmlText(path, time.monotonic() + timeout)
    # Re-encoded as UTF-8 and said so: the page's own charset tag has been dealt with already.
    parser = etree.HTMLParser(target=target, encoding="utf-8", no_network=True, huge_tree=True)
    text = etree.fromstring(markup.encode("utf-8", "replace"), parser) if markup.strip() else ""
    heading = target.title_text if title else ""
    lines = (" ".join(line.split()) for line in str(text or "").split("\n"))
    body = normalise("\n".join(lines))
    if heading and not body.startswith(heading):
        body = f"{heading}\n\n{body}" if body else heading
    return body
