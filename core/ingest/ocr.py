"""Text from pictures of text: scanned PDF pages and image files, read by RapidOCR.

RapidOCR runs PaddleOCR's PP-OCRv6 small models (text detection, then recognition of Chinese, English
and Japanese script) on onnxruntime's CPU build. The models ship inside the ``rapidocr`` wheel and are
loaded from there by path, so nothing is downloaded, ever; their licence is Apache-2.0 like the code.

This module runs inside the PDF worker process (``core.ingest.pdf_extract``), which time-boxes every
page, can be killed, and runs at low priority. Pictures are bounded before they are decoded: one whose
header promises more than ``MAX_PIXELS`` is refused (a decompression bomb or a poster), and anything
larger than ``MAX_SIDE`` is scaled down as it is decoded (JPEG's draft mode) or right after.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import CorruptFile, UnsupportedFile
from core.ingest.files import open_regular

if TYPE_CHECKING:
    from PIL.Image import Image
    from pypdfium2 import PdfPage

#: Image files read by OCR (their first frame: one page).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp")
#: A picture whose header promises more pixels than this is refused before decoding (an RGB copy is 3 bytes
#: a pixel: 240 MB here). A 48-megapixel phone photo passes; a decompression bomb does not.
MAX_PIXELS = 80_000_000
#: Longest side handed to the recogniser; bigger pictures are scaled down first (text stays readable: a
#: page at 200 dpi is about 2,300 pixels tall).
MAX_SIDE = 4000
#: Resolution scanned PDF pages are rendered at.
RENDER_DPI = 200
#: Recognised lines scored below this are dropped (RapidOCR's own default).
MIN_SCORE = 0.5

#: The models inside the rapidocr wheel, and how they are run.
MODELS = {
    "Det": "PP-OCRv6_det_small.onnx",
    "Rec": "PP-OCRv6_rec_small.onnx",
    "Cls": "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
}
_SETTINGS: dict[str, object] = {"Global.log_level": "error"}

_ENGINE: Any = None


def is_image(path: Path) -> bool:
    """Whether the file is read by OCR whole (PDFs are read by OCR only where a page needs it)."""
    return path.suffix.lower() in IMAGE_SUFFIXES


def load_image(path: Path) -> Image:
    """The file's first frame as RGB, bounded in memory; ``CorruptFile``/``UnsupportedFile`` when it cannot be."""
    from PIL import Image, UnidentifiedImageError

    with open_regular(path) as handle:
        try:
            image = Image.open(handle)
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise UnsupportedFile(path, _too_large(width, height))
            image.draft("RGB", (MAX_SIDE, MAX_SIDE))  # JPEG decodes at 1/2, 1/4 or 1/8 scale: less memory
            image.load()
        except Image.DecompressionBombError as exc:
            limit = f"{MAX_PIXELS / 1e6:g} megapixels"
            raise UnsupportedFile(path, f"image too large to read (far over {limit}: a decompression bomb?)") from exc
        except (UnidentifiedImageError, SyntaxError, ValueError, EOFError) as exc:
            raise CorruptFile(path, "damaged or not an image") from exc
        except OSError as exc:  # "image file is truncated", an unknown compression
            raise CorruptFile(path, f"damaged image ({exc})") from exc
    return _bounded(_upright_on_white(image))


def render_page(page: PdfPage) -> Image:
    """A PDF page as an RGB picture at ``RENDER_DPI``, or smaller when the page is huge (a poster, a map)."""
    width, height = page.get_size()  # in points, 72 a inch
    scale = min(RENDER_DPI / 72, MAX_SIDE / max(width, height, 1.0))
    return page.render(scale=scale).to_pil().convert("RGB")


def recognise(image: Image) -> str:
    """The text in a picture, a line per line of text, a blank line where a gap is taller than a line."""
    import numpy as np

    result = _engine()(np.asarray(image))
    if result.boxes is None or result.txts is None:
        return ""
    boxes: list[tuple[float, float, float, str]] = []  # top, bottom, left, text
    for box, text, score in zip(result.boxes, result.txts, result.scores, strict=True):
        if score >= MIN_SCORE and text.strip():
            ys, xs = box[:, 1], box[:, 0]
            boxes.append((float(ys.min()), float(ys.max()), float(xs.min()), text.strip()))
    return _layout(boxes)


def _layout(boxes: list[tuple[float, float, float, str]]) -> str:
    """Boxes into lines: a box whose middle lies within the current line's height joins it, left to right."""
    lines: list[list[tuple[float, float, float, str]]] = []
    for box in sorted(boxes):
        middle = (box[0] + box[1]) / 2
        if lines and lines[-1][0][0] <= middle <= lines[-1][0][1]:
            lines[-1].append(box)
        else:
            lines.append([box])
    if not lines:
        return ""
    height = statistics.median(line[0][1] - line[0][0] for line in lines)
    out: list[str] = []
    for previous, line in zip([None, *lines], lines, strict=False):
        if previous is not None and line[0][0] - previous[0][1] > height:
            out.append("")
        out.append(" ".join(text for _top, _bottom, _left, text in sorted(line, key=lambda b: b[2])))
    return "\n".join(out)


def _upright_on_white(image: Image) -> Image:
    """RGB the way a viewer shows it: turned as the camera's EXIF says, transparency over white, not black."""
    from PIL import Image as PilImage
    from PIL import ImageOps

    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = PilImage.new("RGB", rgba.size, "white")
        white.paste(rgba, mask=rgba.getchannel("A"))
        return white
    if image.mode.startswith("I;16") or image.mode in ("I", "F"):  # 16-bit and float scans: scale to 8 bits
        return ImageOps.autocontrast(image.convert("F").point(lambda v: v / 256).convert("L")).convert("RGB")
    return image.convert("RGB")


def _bounded(image: Image) -> Image:
    if max(image.size) > MAX_SIDE:
        image.thumbnail((MAX_SIDE, MAX_SIDE))
    return image


def _too_large(width: int, height: int) -> str:
    return f"image too large to read ({width:,} x {height:,} pixels; the limit is {MAX_PIXELS / 1e6:g} megapixels)"


def engine_description() -> dict[str, object]:
    """What reads the pictures, for benchmarks and bug reports."""
    from importlib.metadata import version

    return {"rapidocr": version("rapidocr"), "onnxruntime": version("onnxruntime"), **MODELS, **_SETTINGS}


def _engine() -> Any:
    """The recogniser, loaded once per worker from the models inside the wheel (never downloaded)."""
    global _ENGINE
    if _ENGINE is None:
        import rapidocr
        from rapidocr import RapidOCR

        folder = Path(rapidocr.__file__).parent / "models"
        paths = {f"{stage}.model_path": str(folder / name) for stage, name in MODELS.items()}
        _ENGINE = RapidOCR(params={**_SETTINGS, **paths})
    return _ENGINE
