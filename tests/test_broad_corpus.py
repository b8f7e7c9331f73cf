"""The broad training folder's POD conversion: Perl's FAQ becomes Markdown whose questions are headings that
Sleuth's query mining reads as queries, and whose answers are the passages under them."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

from core.search.query_mining import clean_query, heading_split

ROOT = Path(__file__).resolve().parents[1]

POD = b"""=head1 NAME

perlfaqX - Data Manipulation

=head2 How do I round a number to two decimal places?

Use C<sprintf> with a precision. For example:

    my $n = sprintf "%.2f", 3.14159;

=head2 Why does my caf\xc3\xa9 string look odd?

Decode it first.

=cut
"""


def _load() -> ModuleType:
    sys.path.insert(0, str(ROOT / "scripts"))  # broad_corpus imports build_real_folder beside it
    spec = importlib.util.spec_from_file_location("broad_corpus", ROOT / "scripts" / "broad_corpus.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(shutil.which("pod2text") is None, reason="pod2text comes with Perl")
def test_pod_questions_become_headings_that_mine_as_queries() -> None:
    data, name = _load().pod_to_markdown(POD, "perlfaqX.pod")
    text = data.decode()
    assert name == "perlfaqX.md"
    section = text[text.index("## How do I") :]
    split = heading_split(section)
    assert split is not None
    heading, rest = split
    assert clean_query(heading.removeprefix("## ")) == "How do I round a number to two decimal places?"
    assert rest.lstrip().startswith("Use")
    assert 'my $n = sprintf "%.2f", 3.14159;' in rest  # code stays, indented less than before
    assert "## Why does my café string look odd?" in text  # UTF-8 survives
