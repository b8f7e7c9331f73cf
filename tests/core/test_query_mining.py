"""Queries mined from passages: prose a person might type, never code, markup or a wrapped line's fragment."""

from __future__ import annotations

import pytest

from core.search.query_mining import clean_query, heading_split, is_fragment, sentence_split


@pytest.mark.parametrize(
    ("text", "query"),
    [
        ("Sourdough starter care", "Sourdough starter care"),
        ("Create a :class:`BytesParser` instance.", "Create a BytesParser instance."),
        ("See :func:`open <io.open>` for details", "See open for details"),
        ("Using ``os.fork()`` safely", "Using os.fork() safely"),
        ("**Note** this is *important*", "Note this is important"),
        ("set FPU control word on i386 (obsolete)", "set FPU control word on i386 (obsolete)"),
        ("Éruptions du Vésuve en l'an 79", "Éruptions du Vésuve en l'an 79"),
    ],
)
def test_prose_is_a_query_with_its_markup_taken_out(text: str, query: str) -> None:
    assert clean_query(text) == query


@pytest.mark.parametrize(
    "text",
    [
        "IPC",  # one word is a label
        "try:",
        "x = compute(3)",
        ">>> print(1)",
        ".. versionadded:: 3.11",
        "# comment",
        "def init(self, dirname):",
        "from xml.etree import ElementTree as ET",
        "FormatError([code])",
        "{ .fd = 0, .events = POLLIN }",
        "#include <stdlib.h>",
        "-------------",
    ],
)
def test_code_and_markup_are_no_queries(text: str) -> None:
    assert clean_query(text) is None


def test_a_heading_stands_alone_and_a_wrapped_line_does_not() -> None:
    body = "A sourdough starter is a culture of wild yeast and lactobacilli, fed with flour and water every day."
    assert heading_split(f"Sourdough bread\n\n{body}") == ("Sourdough bread", f"\n{body}")
    assert heading_split(f"Sourdough bread\n{body}") == ("Sourdough bread", body)  # a title line over a long one
    assert heading_split(f"Sourdough bread\n===============\n{body}") == ("Sourdough bread", body)
    assert heading_split(f"## Sourdough\n{body}") == ("## Sourdough", body)
    wrapped = "The starter is fed with flour and water\nevery day and doubles in a few hours\nwhen warm."
    assert heading_split(wrapped) is None


def test_the_first_sentence_ends_within_its_paragraph() -> None:
    assert sentence_split("Lava cools.  It forms basalt\ncolumns.") == ("Lava cools.", "It forms basalt columns.")
    assert sentence_split("LIBRARY\nStandard C library\n\nSYNOPSIS. #include <stdlib.h>") is None
    assert sentence_split("Lava cools fast.\n\nBasalt forms.") == ("Lava cools fast.", "Basalt forms.")
    assert sentence_split("the chunk starts mid-sentence. Then it goes on.") is None
    assert sentence_split("No sentence end here") is None


def test_fragments_break_off() -> None:
    assert is_fragment("For setresuid(), the")
    assert is_fragment("buried in ash, and")
    assert is_fragment("the end of a paragraph.")
    assert not is_fragment("Changes in the Python API")
    assert not is_fragment("Sourdough bread")
