"""Small real corpora written by the tests."""

from __future__ import annotations

from pathlib import Path

TOPICS = {
    "volcano.txt": (
        "Volcanoes form where magma rises through the crust. The eruption of Mount Vesuvius buried Pompeii "
        "in ash in the year 79. Basalt lava flows are runny, while rhyolite magma is sticky and explosive."
    ),
    "bread.md": (
        "# Sourdough bread\n\nA sourdough starter is a culture of wild yeast and lactobacilli. Feed the starter "
        "with flour and water every day. Knead the dough, let it proof overnight, then bake in a hot oven."
    ),
    "chess.rst": (
        "Chess openings\n==============\n\nThe Sicilian Defence answers e4 with c5. The Queen's Gambit offers a "
        "pawn to gain control of the centre. Castling early keeps the king safe from attack."
    ),
    "garden.html": (
        "<html><head><title>Tomato garden</title><style>p {color: red}</style></head><body>"
        "<h1>Growing tomatoes</h1><p>Tomatoes need six hours of sun. Water the roots, not the leaves, "
        "to avoid blight.</p><script>var hidden = 'javascriptonly';</script></body></html>"
    ),
    "taxes/return.txt": (
        "Income tax return checklist: collect payslips, receipts for deductible expenses and the pension "
        "statement. The filing deadline is the end of July. Keep copies for ten years."
    ),
}


def write_corpus(root: Path, files: dict[str, str] | None = None, repeat: int = 1) -> Path:
    for name, text in (files or TOPICS).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n\n".join([text] * repeat), encoding="utf-8")
    return root
