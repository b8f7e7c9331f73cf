"""The stdlib docstring corpus (scripts/docstring_corpus.py) and the training pairs it yields."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from core.training.data import queries_from


def _script() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "scripts" / "docstring_corpus.py"
    spec = importlib.util.spec_from_file_location("docstring_corpus", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_an_entry_pairs_its_summary_with_its_signature_and_body() -> None:
    entries = dict(_script().entries(sys.modules["textwrap"]))
    text = entries["textwrap.dedent"]
    assert text.startswith("textwrap.dedent(text)\n\nRemove any common leading whitespace")
    assert "textwrap.TextWrapper.wrap" in entries  # methods of the module's classes
    assert not any(name.startswith("textwrap._") for name in entries)  # no private names
    (query, passage), *_ = queries_from(text)
    assert query == "Remove any common leading whitespace from every line in text."  # markup taken out
    assert passage.startswith("textwrap.dedent(text)\n") and "tabs and spaces" in passage


def test_the_corpus_is_the_same_on_every_run(tmp_path: Path) -> None:
    script = _script()
    assert script.main([str(tmp_path / "one"), "--modules", "json", "textwrap"]) == 0
    assert script.main([str(tmp_path / "two"), "--modules", "json", "textwrap"]) == 0
    one = sorted(p.name for p in (tmp_path / "one").iterdir())
    assert one == sorted(p.name for p in (tmp_path / "two").iterdir())
    assert "json.decoder.JSONDecoder.decode.txt" in one  # submodules of a package
    assert "json.dumps.txt" in one and "textwrap.dedent.txt" in one
    for name in one:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    # a re-export (json.JSONDecoder is json.decoder's) is written once, where it is defined
    assert "json.JSONDecoder.txt" not in one
