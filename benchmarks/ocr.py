"""OCR quality and speed on scan-like pages: character error rate against the text each page really holds.

English: pages of real PDFs that have a text layer (the real-folder set's manuals, Debian's PDFs), rendered
at ``core.ingest.ocr.RENDER_DPI`` the way Sleuth renders a scan, then made to look scanned (a slight
rotation, blur, sensor noise, JPEG artefacts); the reference is the page's own text layer. CJK: real
Japanese and Chinese text (the Debian maintainers' guide in Japanese; CPython's CJK codec samples) typeset
onto A4 pages with an installed CJK font, degraded the same way. CER is the edit distance over the
reference length, whitespace collapsed (English) or removed (CJK, which has none between words).

Run: ``nice -n 10 python benchmarks/ocr.py [--english 20] [--cjk 3]``.
"""

from __future__ import annotations

import argparse
import io
import itertools
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rapidfuzz.distance import Levenshtein

from benchmarks.common import log, save
from core.ingest import ocr
from core.ingest.documents import extract, normalise

if TYPE_CHECKING:
    from PIL.Image import Image

ENGLISH_PDFS = (
    "/work/realfolder/science/R/R-intro.pdf",
    "/work/realfolder/science/R/R-FAQ.pdf",
    "/work/realfolder/debian/maint-guide/maint-guide.en.pdf",
    "/usr/share/doc/libtasn1-doc/libtasn1.pdf",
    "/usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf",
)
JAPANESE_HTML = Path("/work/realfolder/debian/maint-guide/ja")
CJK_SAMPLES = (
    Path(sys.base_prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "test" / "cjkencodings"
)
#: Pages with less text than this are title pages or figures: not a fair measure of reading.
MIN_PAGE_CHARS = 600


def scan_like(image: Image, rng: np.random.Generator) -> Image:
    """A clean rendering made to look like a flatbed scan: tilted, soft, noisy, JPEG-compressed."""
    from PIL import Image as PilImage
    from PIL import ImageFilter

    gray = image.convert("L").rotate(float(rng.uniform(-1.0, 1.0)), resample=PilImage.Resampling.BICUBIC, fillcolor=255)
    gray = gray.filter(ImageFilter.GaussianBlur(radius=0.7))
    pixels = np.asarray(gray, dtype=np.float32) + rng.normal(0.0, 10.0, (gray.height, gray.width))
    noisy = PilImage.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    buffer = io.BytesIO()
    noisy.save(buffer, "JPEG", quality=55)
    return PilImage.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def english_pages(count: int) -> list[tuple[str, Image, str]]:
    """``count`` text-rich pages spread evenly over the PDFs found: (label, rendering, text layer)."""
    import pypdfium2 as pdfium

    pdfs = [Path(p) for p in ENGLISH_PDFS if Path(p).exists()]
    per_pdf = math.ceil(count / max(len(pdfs), 1))
    pages: list[tuple[str, Image, str]] = []
    for path in pdfs:
        document = extract(path)
        starts = [page.char_start for page in document.pages]
        texts = [document.text[a:b] for a, b in itertools.pairwise(starts)]  # the last page is left out
        rich = [i for i, text in enumerate(texts) if len("".join(text.split())) >= MIN_PAGE_CHARS]
        step = max(1, len(rich) // per_pdf)
        pdf = pdfium.PdfDocument(path)
        for index in rich[step // 2 :: step][:per_pdf]:
            page = pdf[index]
            pages.append((f"{path.name} p{index + 1}", ocr.render_page(page), texts[index]))
            page.close()
        pdf.close()
    return pages[:count]


def cjk_texts() -> dict[str, str]:
    """Real running text per language, read the way Sleuth reads it."""
    texts: dict[str, str] = {}
    japanese = sorted(JAPANESE_HTML.glob("*.ja.html"))
    if japanese:
        texts["ja"] = "\n".join(extract(path).text for path in japanese[:3])
    elif (CJK_SAMPLES / "euc_jp-utf8.txt").exists():
        texts["ja"] = (CJK_SAMPLES / "euc_jp-utf8.txt").read_text(encoding="utf-8")
    chinese = [CJK_SAMPLES / f"{name}-utf8.txt" for name in ("gb2312", "gbk", "big5", "gb18030")]
    texts["zh"] = "\n".join(p.read_text(encoding="utf-8") for p in chinese if p.exists())
    return {lang: text for lang, text in texts.items() if text.strip()}


def cjk_font() -> str | None:
    try:
        found = subprocess.run(["fc-list", ":lang=ja", "file"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return None
    files = sorted(line.split(":")[0].strip() for line in found.splitlines() if line.strip())
    return next((f for f in files if "NotoSansCJK" in f or "NotoSerifCJK" in f), files[0] if files else None)


def typeset(text: str, font_path: str, pages: int) -> list[tuple[Image, str]]:
    """Text wrapped onto A4 pages at the render resolution, 11 pt; the reference is what each page shows."""
    from PIL import Image as PilImage
    from PIL import ImageDraw, ImageFont

    width, height = round(8.27 * ocr.RENDER_DPI), round(11.69 * ocr.RENDER_DPI)
    size = round(11 / 72 * ocr.RENDER_DPI)
    font = ImageFont.truetype(font_path, size)
    margin, leading = round(0.8 * ocr.RENDER_DPI), round(size * 1.6)
    lines: list[str] = []
    for paragraph in (" ".join(p.split()) for p in text.split("\n")):
        line = ""
        for char in paragraph:
            if font.getlength(line + char) > width - 2 * margin:
                lines.append(line)
                line = ""
            line += char
        if line:
            lines.append(line)
    per_page = (height - 2 * margin) // leading
    out: list[tuple[Image, str]] = []
    for start in range(0, min(len(lines), per_page * pages), per_page):
        image = PilImage.new("RGB", (width, height), "white")
        draw = ImageDraw.Draw(image)
        shown = lines[start : start + per_page]
        for row, line in enumerate(shown):
            draw.text((margin, margin + row * leading), line, font=font, fill="black")
        out.append((image, "\n".join(shown)))
    return out


def cer(reference: str, hypothesis: str, *, spaced: bool) -> float:
    def norm(text: str) -> str:
        text = normalise(text)
        return " ".join(text.split()) if spaced else "".join(text.split())

    ref, hyp = norm(reference), norm(hypothesis)
    return Levenshtein.distance(ref, hyp) / max(len(ref), 1)


def measure(label: str, image: Image, reference: str, rng: np.random.Generator, *, spaced: bool) -> dict[str, Any]:
    scanned = scan_like(image, rng)
    started = time.perf_counter()
    text = ocr.recognise(scanned)
    seconds = time.perf_counter() - started
    row = {"page": label, "cer": round(cer(reference, text, spaced=spaced), 4), "seconds": round(seconds, 2)}
    row["chars"] = len("".join(reference.split()))
    log(f"  {label}: CER {row['cer']:.2%}, {seconds:.1f} s")
    return row


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    if not rows:
        return {"pages": 0}
    chars = sum(r["chars"] for r in rows)
    return {
        "pages": len(rows),
        "cer_mean": round(statistics.fmean(r["cer"] for r in rows), 4),
        "cer_median": round(statistics.median(r["cer"] for r in rows), 4),
        "cer_char_weighted": round(sum(r["cer"] * r["chars"] for r in rows) / max(chars, 1), 4),
        "seconds_per_page_mean": round(statistics.fmean(r["seconds"] for r in rows), 2),
        "seconds_per_page_median": round(statistics.median(r["seconds"] for r in rows), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--english", type=int, default=20, help="English pages")
    parser.add_argument("--cjk", type=int, default=3, help="pages per CJK language")
    parser.add_argument("--det-max-side", type=int, default=0, help="detect text on pages scaled to this side")
    parser.add_argument("--out", type=Path, default=None, help="results file (default: results/ocr.json)")
    args = parser.parse_args()
    if args.det_max_side:  # a variant to compare, not what Sleuth runs
        ocr._SETTINGS.update({"Det.limit_type": "max", "Det.limit_side_len": args.det_max_side})
    load_before = os.getloadavg()
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    ocr.recognise(warm_up_image())  # the models load once, outside the timings
    log(f"Engine loaded and warmed in {time.perf_counter() - started:.1f} s")
    results: dict[str, Any] = {"render_dpi": ocr.RENDER_DPI, "engine": ocr.engine_description(), "languages": {}}
    log("English pages:")
    english = [measure(label, image, ref, rng, spaced=True) for label, image, ref in english_pages(args.english)]
    results["languages"]["en"] = {**summary(english), "source": "text layers of real PDFs", "rows": english}
    font = cjk_font()
    if font is None:
        log("No CJK font installed (fc-list :lang=ja): CJK pages skipped")
    else:
        for lang, text in cjk_texts().items():
            log(f"{lang} pages ({Path(font).name}):")
            rows = [
                measure(f"{lang} p{n}", image, ref, rng, spaced=False)
                for n, (image, ref) in enumerate(typeset(text, font, args.cjk), start=1)
            ]
            results["languages"][lang] = {**summary(rows), "font": Path(font).name, "rows": rows}
    for lang, figures in results["languages"].items():
        log(
            f"{lang}: {figures.get('pages')} pages, CER mean {figures.get('cer_mean', float('nan')):.2%}, "
            f"{figures.get('seconds_per_page_mean', float('nan'))} s/page"
        )
    results["load_average_1_5_15"] = {"before": load_before, "after": os.getloadavg()}
    save("ocr", results, args.out)


def warm_up_image() -> Image:
    from PIL import Image as PilImage
    from PIL import ImageDraw, ImageFont

    image = PilImage.new("RGB", (800, 200), "white")
    ImageDraw.Draw(image).text((20, 60), "Warm-up line of text", font=ImageFont.load_default(size=40), fill="black")
    return image


if __name__ == "__main__":
    main()
