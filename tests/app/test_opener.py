"""The command line each PDF viewer is given to open a result at its page."""

from __future__ import annotations

from typing import ClassVar

import pytest

from app import opener

PATH = "/home/ann/books/Field guide, 2nd ed.pdf"


@pytest.mark.parametrize(
    ("viewer", "expected"),
    [
        # evince and its forks: --page-index is the page's place in the file (1-based); --page-label
        # would be the printed number, wrong in a book whose front matter is numbered i, ii, iii…
        ("evince", ["--page-index=12", PATH]),
        ("atril", ["--page-index=12", PATH]),
        ("xreader", ["--page-index=12", PATH]),
        ("okular", ["--page", "12", PATH]),
        ("zathura", ["--page=12", PATH]),
        ("qpdfview", [f"{PATH}#12"]),
        ("mupdf", [PATH, "12"]),
    ],
)
def test_each_viewer_is_given_the_page_index(viewer: str, expected: list[str]) -> None:
    assert opener.page_command(viewer, PATH, 12) == expected


def test_no_viewer_is_given_a_printed_page_label() -> None:
    for viewer in opener._PAGE_ARGS:
        assert not any("label" in arg for arg in opener.page_command(viewer, PATH, 3))


class _Detached:
    started: ClassVar[list[tuple[str, list[str]]]] = []

    @classmethod
    def startDetached(cls, program: str, arguments: list[str]) -> tuple[bool, int]:
        cls.started.append((program, arguments))
        return True, 1


def test_a_pdf_opens_in_the_default_viewer_at_its_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(opener, "_default_pdf_viewer", lambda: "evince")
    monkeypatch.setattr(opener, "QProcess", _Detached)
    _Detached.started = []
    assert opener.open_file(PATH, 7)
    assert _Detached.started == [("evince", ["--page-index=7", PATH])]
