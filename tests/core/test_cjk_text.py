"""Real text in the legacy CJK encodings is read as its UTF-8 original and found by a keyword search;
real binaries named .txt are still refused; gzipped text is read through decompression."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import matplotlib
import pytest

from core.embedding import Embedder
from core.errors import CorruptFile
from core.index.indexer import Indexer
from core.index.store import Store
from core.ingest.documents import MAX_GZIP_RATIO, extract, is_supported, normalise
from core.ingest.textdecode import BINARY, COMPRESSED, decode
from core.search.searcher import Searcher
from core.settings import Settings

DATA = Path(__file__).parent.parent / "data" / "cjk"

# File name -> (CPython samples concatenated, the codec it must be read as, a word of its body).
# Samples repeat to pass 1 KB, so that reading past the first kilobyte is checked too.
# Keyword search splits on whitespace and punctuation only (CJK words are a separate issue), so the
# words are Latin ones from the samples, or Korean ones, which spaces delimit.
CASES = {
    "readme-sjis.txt": (("shift_jis", "shift_jis"), "shift_jis", "Rossum"),
    "readme-eucjp.txt": (("euc_jp", "euc_jp"), "euc_jp", "Guido"),
    "readme-jis.txt": (("iso2022_jp", "iso2022_jp"), "iso2022_jp", "1990"),
    "python-gbk.txt": (("gb2312", "gbk"), "gbk", "prototyping"),
    "python-gb18030.txt": (("gb2312", "gbk", "gb18030"), "gb18030", "prototyping"),
    "python-big5.txt": (("big5", "big5", "big5"), "big5", "prototyping"),
    "python-euckr.txt": (("euc_kr", "euc_kr", "euc_kr"), "euc_kr", "프로그래밍"),
    "slang-cp949.txt": (("cp949",) * 4, "cp949", "똠방각하"),
}


def sample(names: tuple[str, ...]) -> tuple[bytes, str]:
    data = b"".join((DATA / f"{name}.txt").read_bytes() for name in names)
    text = "".join((DATA / f"{name}-utf8.txt").read_text(encoding="utf-8") for name in names)
    return data, text


@pytest.mark.parametrize("name", list(CASES))
def test_real_cjk_text_decodes_to_its_utf8_original(name: str) -> None:
    names, codec, _word = CASES[name]
    data, text = sample(names)
    assert len(data) > 1024
    decoded = decode(data, Path(name))
    assert decoded.encoding == codec
    assert decoded.text == text
    # Beyond the first kilobyte too: the last characters, held in bytes past 1024.
    tail = text.rstrip()[-12:]
    assert len(data) - 1024 > len(tail.encode(codec)) + 8
    assert decoded.text.rstrip().endswith(tail)


def test_japanese_readme_with_bullets_is_text() -> None:
    # The reported file: charset-normalizer finds Japanese with bullets and boxes "too messy".
    readme = "・項目一\n・項目二\n■ 見出し\n◆ 注意：設定ファイルは ~/.config にあります。\n┌──┐\n│表│\n└──┘\n"
    for codec in ("shift_jis", "euc_jp"):
        assert decode(readme.encode(codec), Path("README.txt")) == (readme, codec)


def real_binaries(folder: Path) -> dict[str, Path]:
    png = Path(matplotlib.get_data_path()) / "images" / "matplotlib.png"
    executable = Path(shutil.which("true") or "/bin/true")
    copies = {"true.txt": executable, "logo.txt": png}
    for name, source in copies.items():
        shutil.copyfile(source, folder / name)
    return {name: folder / name for name in copies}


def test_real_binaries_named_txt_are_refused(tmp_path: Path) -> None:
    for path in real_binaries(tmp_path).values():
        with pytest.raises(CorruptFile, match=r"not a text file \(binary content\)"):
            extract(path)


# --- gzip ----------------------------------------------------------------------------------------


def test_gzipped_text_is_read_by_its_inner_name(tmp_path: Path) -> None:
    data, text = sample(("big5",))
    (tmp_path / "notes.txt.gz").write_bytes(gzip.compress(data))
    doc = extract(tmp_path / "notes.txt.gz")
    assert doc.text == normalise(text) and doc.encoding == "big5"
    html = tmp_path / "page.html.gz"
    html.write_bytes(gzip.compress(b"<html><title>Quokkas</title><p>They live on Rottnest.</p></html>"))
    assert extract(html).text == "Quokkas\n\nThey live on Rottnest."
    assert is_supported(Path("ls.1.gz")) and is_supported(Path("printf.3p.gz"))
    assert not is_supported(Path("photo.jpg.gz")) and not is_supported(Path("archive.tar.gz"))


def test_gzip_under_a_text_name_is_compressed_not_text(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_bytes(gzip.compress(b"plain words"))
    with pytest.raises(CorruptFile, match="compressed"):
        extract(tmp_path / "x.txt")


def test_gzip_bomb_and_damage_are_refused(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.txt.gz"
    bomb.write_bytes(gzip.compress(b"a" * (4 * 1024 * 1024)))
    with pytest.raises(CorruptFile, match=f"more than {MAX_GZIP_RATIO} times"):
        extract(bomb)
    broken = tmp_path / "broken.txt.gz"
    broken.write_bytes(gzip.compress(b"some words " * 1000)[:60])
    with pytest.raises(CorruptFile, match="damaged"):
        extract(broken)


def test_gzip_beyond_the_text_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("core.ingest.documents.MAX_TEXT_BYTES", 1000)
    data, _text = sample(("shift_jis", "shift_jis"))
    (tmp_path / "big.txt.gz").write_bytes(gzip.compress(data))
    with pytest.raises(Exception, match="too large to index"):
        extract(tmp_path / "big.txt.gz")


# --- through the indexer ------------------------------------------------------------------------


def test_indexer_reads_legacy_cjk_and_gzip_and_refuses_binaries(
    tmp_path: Path, settings: Settings, tiny_embedder: Embedder
) -> None:
    folder = tmp_path / "old files"
    folder.mkdir()
    for name, (names, _codec, _word) in CASES.items():
        (folder / name).write_bytes(sample(names)[0])
    (folder / "notes.txt.gz").write_bytes(gzip.compress(sample(("big5",))[0]))
    (folder / "packed.txt").write_bytes(gzip.compress(b"a gzip stream under a plain text name"))
    binaries = real_binaries(folder)
    store = Store(tmp_path / "db")
    store.add_folder(folder)
    indexer = Indexer(store, settings, tiny_embedder)
    for _ in indexer.run([folder]):
        pass

    problems = {Path(p.path).name: p.reason for p in indexer.report.problems}
    assert problems == {**dict.fromkeys(binaries, BINARY), "packed.txt": COMPRESSED}
    records = {Path(p).name: r for p, r in indexer.index.file_records().items()}
    searcher = Searcher(indexer.index)
    for name, (names, codec, word) in CASES.items():
        assert records[name].status == "indexed" and records[name].encoding == codec, name
        rows = indexer.index.chunks.search().where(f"path = '{folder / name}'").limit(None).to_list()
        assert normalise(sample(names)[1]).startswith(min(rows, key=lambda r: r["ordinal"])["text"])
        found = [Path(h.path).name for h in searcher.search(word, mode="bm25", rerank=False, k=50).hits]
        assert name in found, (name, word, found)
    assert records["notes.txt.gz"].status == "indexed" and records["notes.txt.gz"].encoding == "big5"
    found = [Path(h.path).name for h in searcher.search("prototyping", mode="bm25", rerank=False, k=50).hits]
    assert "notes.txt.gz" in found


def test_an_index_from_before_the_encoding_column_opens_and_records_it(tmp_path: Path) -> None:
    import pyarrow as pa

    from core.index.store import FILES_SCHEMA, FileRecord, IndexProfile

    profile = IndexProfile("m", "", "e", 8, 64, 8)
    store = Store(tmp_path / "db")
    old_schema = pa.schema([f for f in FILES_SCHEMA if f.name != "encoding"])
    old = store.db.create_table(f"files_{profile.key}", schema=old_schema)
    old.add(
        [
            {
                "path": "/a.txt",
                "root": "/",
                "size": 1,
                "mtime": 0.0,
                "hash": "h",
                "status": "indexed",
                "error": "",
                "chunks": 1,
                "indexed_at": 0.0,
            }
        ]
    )
    index = store.profile_index(profile)
    assert index.file_records()["/a.txt"].encoding == ""
    index.upsert_files([FileRecord("/b.txt", "/", 1, 0.0, "g", "indexed", encoding="euc_jp")])
    assert {p: r.encoding for p, r in index.file_records().items()} == {"/a.txt": "", "/b.txt": "euc_jp"}
