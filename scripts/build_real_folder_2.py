#!/usr/bin/env python3
"""Build the second real-folder evaluation set's documents: PDFs, translations and copies, as users keep them.

    python scripts/build_real_folder_2.py /work/realfolder2                 # needs apt-get (run apt-get update first)
    python scripts/build_real_folder_2.py OUT --debs /tmp/debs2              # keep the downloaded .deb files there

Documentation that Debian 12 packages ship, on other subjects and from other packages than the first
real folder (``scripts/build_real_folder.py``, whose ``Pick`` and command line this script reuses): the
Debian Edu manual (two releases, English, German and French), Auto Multiple Choice's manual (English and
Japanese), GNU gettext's manual and the GNU maintainers' guide (HTML and PDF), bash's example start-up
files, FreeFem, and many small LaTeX package guides in German, Italian, Spanish, Portuguese and Russian
(TeX Live's language collections), with their LaTeX sources where a user would keep them side by side,
and a few renamed copies (``downloads/l2tabu (1).pdf``). Most files are PDFs; about half are not in
English. None of it is Python's documentation, a Debian package description or a manual page.

``OUT/meta.json`` records every package's version and every file's source and sha256. The queries that
judge this folder are ``benchmarks/real-folder-2/queries.jsonl``; they name files by their path under
OUT, so the tree must not change without them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from build_real_folder import Pick, command

#: Package -> the version the committed queries were judged against (Debian 12 "bookworm").
VERSIONS: dict[str, str] = {
    "debian-edu-doc-en": "2.12.23~deb12u1",
    "debian-edu-doc-de": "2.12.23~deb12u1",
    "debian-edu-doc-fr": "2.12.23~deb12u1",
    "auto-multiple-choice-doc-pdf": "1.6.0-1",
    "gettext-doc": "0.21-12",
    "gnu-standards": "2022.03.23-0.1",
    "bash-doc": "5.2.15-2",
    "freefem-doc": "3.5.8-7",
    "texlive-lang-german": "2022.20230122-1",
    "texlive-lang-italian": "2022.20230122-1",
    "texlive-lang-spanish": "2022.20230122-1",
    "texlive-lang-portuguese": "2022.20230122-1",
    "texlive-lang-cyrillic": "2022.20230122-1",
    "texlive-fonts-recommended-doc": "2022.20230122-3",
}

DOC = "usr/share/doc"
TD = f"{DOC}/texlive-doc"
GETTEXT_CHAPTERS = (1, 2, 3, 5, 6, 7, 14, 16, 18, 19, 21, 23, 25, 26, 28, 30)


def renamed(name: str) -> Callable[[bytes, str], tuple[bytes, str]]:
    """A copy under another name, the way downloads and drafts pile up."""

    def convert(data: bytes, _old: str) -> tuple[bytes, str]:
        return data, name

    return convert


def tex(package: str, dest: str, *paths: str) -> Pick:
    """Files of one TeX Live package's documentation folder (``latex/l2tabu/l2tabu.pdf`` …)."""
    return Pick(package, dest, tuple(f"{TD}/{path}" for path in paths))


GERMAN = "texlive-lang-german"
ITALIAN = "texlive-lang-italian"
SPANISH = "texlive-lang-spanish"
PORTUGUESE = "texlive-lang-portuguese"
CYRILLIC = "texlive-lang-cyrillic"
KOMA = "latex/koma-script-examples/Anhang-C"

PICKS: tuple[Pick, ...] = (
    # Debian Edu / Skolelinux: one manual, two releases, three languages.
    Pick(
        "debian-edu-doc-en",
        "edu/en",
        tuple(f"{DOC}/debian-edu-doc-en/debian-edu-{r}-manual.pdf" for r in ("bookworm", "bullseye")),
    ),
    Pick("debian-edu-doc-de", "edu/de", (f"{DOC}/debian-edu-doc-de/debian-edu-bookworm-manual.pdf",)),
    Pick("debian-edu-doc-fr", "edu/fr", (f"{DOC}/debian-edu-doc-fr/debian-edu-bookworm-manual.pdf",)),
    # Auto Multiple Choice (exam sheets scanned and marked), English and Japanese.
    Pick(
        "auto-multiple-choice-doc-pdf",
        "amc",
        tuple(f"{DOC}/auto-multiple-choice/auto-multiple-choice.{lang}.pdf" for lang in ("en", "ja")),
    ),
    # GNU: gettext's manual (HTML chapters) and the maintainers' guide (HTML and PDF).
    Pick("gettext-doc", "gnu/gettext", tuple(f"{DOC}/gettext/gettext_{n}.html" for n in GETTEXT_CHAPTERS)),
    Pick(
        "gnu-standards", "gnu/maintain", (f"{DOC}/gnu-standards/maintain.html", f"{DOC}/gnu-standards/maintain.pdf.gz")
    ),
    # bash's example start-up files and a README.
    Pick("bash-doc", "bash/startup-files", (f"{DOC}/bash/examples/startup-files/*",)),
    Pick("bash-doc", "bash/shellmath", (f"{DOC}/bash/examples/shellmath/README.md",)),
    # A finite-element package's manual.
    Pick("freefem-doc", "freefem", (f"{DOC}/freefem-doc/freefem.pdf",)),
    # German LaTeX guides.
    tex(GERMAN, "tex/de/l2tabu", "latex/l2tabu/l2tabu.pdf", "latex/l2tabu/README"),
    tex(
        GERMAN, "tex/de/latexcheat", "latex/latexcheat-de/latexsheet-de.pdf", "latex/latexcheat-de/latexsheet-de.tex.gz"
    ),
    tex(GERMAN, "tex/de/booktabs", "latex/booktabs-de/booktabs-de.pdf"),
    tex(GERMAN, "tex/de/etdipa", "latex/etdipa/Help/etdipa_doc_DE.pdf", "latex/etdipa/Help/etdipa_doc_EN.pdf"),
    tex(GERMAN, "tex/de/hausarbeit-jura", "latex/hausarbeit-jura/hausarbeit-jura.pdf"),
    tex(GERMAN, "tex/de/filecontents", "latex/translation-filecontents-de/filecontents-de.pdf"),
    tex(GERMAN, "tex/de/uhrzeit", "latex/uhrzeit/uhrzeit-doc.pdf"),
    tex(GERMAN, "tex/de/mathcol", "latex/voss-mathcol/mathCol.pdf"),
    tex(GERMAN, "tex/de/chemsym", "latex/translation-chemsym-de/chemsym-de.pdf"),
    tex(GERMAN, "tex/de/moreverb", "latex/translation-moreverb-de/moreverb-de.dtx.pdf"),
    tex(GERMAN, "tex/de/milog", "latex/milog/milog.pdf"),
    tex(GERMAN, "tex/de/dehyph-exptl", "generic/dehyph-exptl/dehyph-exptl.pdf"),
    tex(GERMAN, "tex/de/german", "generic/german/gerdoc.pdf"),
    tex(GERMAN, "tex/de/schulmathematik", "latex/schulmathematik/schulmathematik.pdf"),
    tex(GERMAN, "tex/de/lualatex", "latex/lualatex-doc-de/lualatex-doc-DE.pdf"),
    tex(GERMAN, "tex/de/dhua", "latex/dhua/dhua.pdf"),
    tex(GERMAN, "tex/de/europecv", "latex/translation-europecv-de/europecv-de.pdf"),
    Pick(
        GERMAN,
        "tex/de/europecv/templates",
        tuple(
            f"{TD}/latex/translation-europecv-de/templates/cv_template_{lang}.{ext}"
            for lang in ("de", "en", "it")
            for ext in ("pdf", "tex")
        ),
    ),
    # KOMA-Script's letter examples: the PDFs and the letters' sources.
    Pick(GERMAN, "tex/letters/result", (f"{TD}/{KOMA}/result/*.pdf",)),
    Pick(GERMAN, "tex/letters/source", (f"{TD}/{KOMA}/source/*.tex",)),
    # Italian.
    tex(ITALIAN, "tex/it/l2tabu", "latex/l2tabu-italian/l2tabuit.pdf"),
    tex(ITALIAN, "tex/it/amsthdoc", "latex/amsthdoc-it/amsthdoc_it.pdf"),
    tex(ITALIAN, "tex/it/layaureo", "latex/layaureo/layaureo.pdf"),
    tex(ITALIAN, "tex/it/psfrag", "latex/psfrag-italian/itpfgguide.pdf"),
    tex(ITALIAN, "tex/it/fancyhdr", "latex/fancyhdr-it/itfancyhdr.pdf"),
    Pick(ITALIAN, "tex/it/verifica", (f"{TD}/latex/verifica/verifica.pdf", f"{TD}/latex/verifica/example*")),
    # Spanish.
    tex(SPANISH, "tex/es/l2tabu", "latex/l2tabu-spanish/l2tabues.pdf"),
    tex(SPANISH, "tex/es/latexcheat", "latex/latexcheat-esmx/latexsheet-esmx.pdf"),
    tex(SPANISH, "tex/es/hyphenation", "generic/hyph-utf8/languages/es/division.pdf"),
    tex(SPANISH, "tex/es/babel", "generic/babel-spanish/spanish.pdf", "generic/babel-galician/galician.pdf"),
    tex(SPANISH, "tex/es/faq", "generic/es-tex-faq/FAQ-CervanTeX.pdf"),
    # Portuguese.
    tex(PORTUGUESE, "tex/pt/latexcheat", "latex/latexcheat-ptbr/latexsheet-ptbr.pdf"),
    tex(PORTUGUESE, "tex/pt/beamer", "latex/beamer-tut-pt/tutorialbeamer.pdf"),
    tex(PORTUGUESE, "tex/pt/xypic", "generic/xypic-tut-pt/xypic-tutorial.pdf"),
    # Russian and Church Slavonic.
    tex(
        CYRILLIC,
        "tex/ru/churchslavonic",
        "latex/churchslavonic/churchslavonic-en.pdf",
        "latex/churchslavonic/churchslavonic-ru.pdf",
    ),
    tex(CYRILLIC, "tex/ru/russ", "latex/russ/russ_doc.pdf"),
    tex(CYRILLIC, "tex/ru/eskd", "latex/eskd/eskd.pdf"),
    tex(CYRILLIC, "tex/ru/ukrhyph", "generic/ukrhyph/rules60.pdf", "generic/ukrhyph/rules_ph.pdf"),
    tex(CYRILLIC, "tex/ru/gost/utf8", "bibtex/gost/examples/utf8/ugost2008s.pdf"),
    tex(CYRILLIC, "tex/ru/gost/cp1251", "bibtex/gost/examples/cp1251/gost2008s.pdf"),
    # English font guides (one in Letter and in A4 paper).
    tex(
        "texlive-fonts-recommended-doc",
        "tex/fonts",
        "fonts/pxfonts/pxfontsdoc.pdf",
        "fonts/pxfonts/pxfontsdocA4.pdf",
        "latex/euro/euro.pdf",
        "latex/wasysym/wasysym.pdf",
        "fonts/marvosym/marvosym-doc.pdf",
    ),
    # More small guides, and the READMEs that come with them.
    tex(
        GERMAN,
        "tex/de/more",
        "latex/translation-enumitem-de/enumitem-de.pdf",
        "latex/translation-arsclassica-de/ArsClassica-de.pdf",
        "latex/termcal-de/termcal-de-doc.pdf",
        "latex/umlaute/umlaute.pdf",
        "latex/germkorr/germkorr.pdf",
    ),
    Pick(
        GERMAN,
        "tex/de/readme",
        tuple(
            f"{TD}/{path}"
            for path in (
                "latex/hausarbeit-jura/README.md",
                "latex/etdipa/README",
                "latex/bibleref-german/README",
                "latex/termcal-de/README.md",
                "latex/milog/README.md",
                "latex/booktabs-de/README-DE",
                "latex/uhrzeit/README.txt",
                "latex/l2picfaq/README",
                "generic/dehyph-exptl/README",
                "bibtex/apalike-german/README.md",
                "latex/templates-sommer/README.de",
            )
        ),
        base=TD,
    ),
    Pick(GERMAN, "tex/letters/result", (f"{TD}/latex/koma-script-examples/Kapitel-4/result/letter-1[0-9].pdf",)),
    tex(ITALIAN, "tex/it/more", "latex/itnumpar/itnumpar.pdf", "latex/codicefiscaleitaliano/codicefiscaleitaliano.pdf"),
    Pick(ITALIAN, "tex/it/frontespizio", tuple(f"{TD}/latex/frontespizio/example{c}.pdf" for c in "abc")),
    Pick(
        ITALIAN,
        "tex/it/readme",
        tuple(
            f"{TD}/{path}"
            for path in (
                "latex/antanilipsum/README.md",
                "latex/frontespizio/README",
                "latex/fixltxhyph/README",
                "latex/verifica/README",
                "latex/codicefiscaleitaliano/README",
                "generic/babel-italian/README.txt",
            )
        ),
        base=TD,
    ),
    tex(
        PORTUGUESE,
        "tex/pt/more",
        "latex/numberpt/numberpt.pdf",
        "latex/ordinalpt/ordinalpt.pdf",
        "generic/babel-portuges/portuges.pdf",
    ),
    Pick(
        PORTUGUESE,
        "tex/pt/readme",
        tuple(
            f"{TD}/{path}"
            for path in ("latex/latex-via-exemplos/README.md", "latex/numberpt/README.md", "latex/ordinalpt/README")
        ),
        base=TD,
    ),
    tex(SPANISH, "tex/es/babel", "generic/babel-catalan/catalan.pdf"),
    tex(SPANISH, "tex/es/hyphenation", "generic/hyph-utf8/languages/es/README"),
    tex(
        CYRILLIC,
        "tex/ru/more",
        "generic/babel-serbian/serbian.pdf",
        "latex/cyrillic/lcy.pdf",
        "latex/cyrillic/ot2.pdf",
        "generic/ukrhyph/rules90.pdf",
    ),
    Pick(
        CYRILLIC,
        "tex/ru/readme",
        tuple(
            f"{TD}/{path}"
            for path in (
                "bibtex/gost/README",
                "latex/disser/README.md",
                "latex/disser/README-ru.md",
                "latex/russ/README",
                "latex/russ/readme.RU.txt",
                "latex/cyrillic/README.md",
                "latex/eskd/README",
                "latex/churchslavonic/README",
                "generic/t2/README",
                "generic/babel-serbian/README.md",
                "texlive/texlive-sr/README-SR.txt",
            )
        ),
        base=TD,
    ),
    Pick(
        CYRILLIC,
        "tex/ru/churchslavonic",
        (f"{TD}/latex/churchslavonic/churchslavonic-en.tex", f"{TD}/latex/churchslavonic/churchslavonic-ru.tex"),
    ),
    # Copies under other names.
    Pick(GERMAN, "downloads", (f"{TD}/latex/l2tabu/l2tabu.pdf",), convert=renamed("l2tabu (1).pdf")),
    Pick(
        ITALIAN,
        "downloads",
        (f"{TD}/latex/verifica/example2.tex",),
        convert=renamed("compito-v2.tex"),
    ),
    Pick(
        GERMAN, "downloads", (f"{TD}/latex/latexcheat-de/latexsheet-de.pdf",), convert=renamed("latexsheet-de (1).pdf")
    ),
)


def main(argv: list[str] | None = None) -> int:
    description = "Sleuth's second real-folder evaluation set: documentation shipped by Debian 12 packages"
    return command(argv, __doc__, PICKS, VERSIONS, description, "scripts/build_real_folder_2.py")


if __name__ == "__main__":
    sys.exit(main())
