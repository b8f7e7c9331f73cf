"""Line numbers of hits in text files, counted in the file as an editor shows it."""

from __future__ import annotations

from pathlib import Path

from core.ingest.documents import extract
from core.search.lines import LineFinder
from core.search.searcher import Hit


def _hit(path: Path, text: str, start: int) -> Hit:
    return Hit("h1", str(path), 0, text, None, start, start + len(text), 1.0)


def test_the_line_is_the_files_own_even_where_extraction_squeezed_blank_lines(tmp_path: Path) -> None:
    lines = ["Title", "", "", "", "", "intro   ", "", "", "the otter line", "after", "the otter line", "end"]
    path = tmp_path / "notes.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    text = extract(path).text
    first = text.index("the otter line")
    second = text.index("the otter line", first + 1)
    finder = LineFinder()
    assert finder.line(_hit(path, text[first : first + 20], first)) == 9
    assert finder.line(_hit(path, text[second : second + 10], second)) == 11, "the same occurrence as indexed"
    assert finder.lines([_hit(path, text[second : second + 10], second)]) == {"h1": 11}


def test_no_line_for_a_changed_file_or_a_format_without_lines(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("one\ntwo\nthree otters\n", encoding="utf-8")
    text = extract(path).text
    start = text.index("three")
    hit = _hit(path, text[start:], start)
    finder = LineFinder()
    assert finder.line(hit) == 3
    path.write_text("rewritten entirely\n", encoding="utf-8")
    assert finder.line(hit) is None, "a wrong line is worse than none"
    html = tmp_path / "page.html"
    html.write_text("<p>three otters</p>", encoding="utf-8")
    assert finder.line(_hit(html, "three otters", 0)) is None
    assert finder.line(_hit(tmp_path / "gone.txt", "x", 0)) is None
