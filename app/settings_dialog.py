"""The settings dialog: edits a copy of ``Settings`` and says what each change will cost.

Labels and costs come from the dataclass field metadata (``label``, ``effect``), so what the user
reads matches the code and the CLI's ``sleuth config`` keys (shown as tooltips).
"""

from __future__ import annotations

import dataclasses
import html
from dataclasses import fields
from typing import Any

from app.qt import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    Qt,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)
from app.results import muted
from core.embedding import bundled, bundled_encoder
from core.embedding.matryoshka import describe_cost, dimension_cost
from core.embedding.registry import (
    AUTO_MODEL,
    DEFAULT_MODEL,
    LLARA_ON_CPU,
    model_layers,
    names_llara_only,
    shipped_depths,
    trained_depth,
    trained_exits,
)
from core.errors import ConfigError
from core.search.rerank import BUNDLED, BUNDLED_MINILM, HUB_RERANKERS, SENTENCES, WHY_OFF, top_n_for, weight_for
from core.settings import COST_SHORT, COST_TEXT, Cost, Settings
from core.vocabulary import EmbedderIdentity, Mode

EFFECTS = COST_TEXT
SHORT_EFFECTS = COST_SHORT
PAGES = {
    "Search": [
        "search_mode",
        "results_per_page",
        "search_dim",
        "dense_weight",
        "reranker",
        "rerank_top_n",
        "rerank_weight",
    ],
    "Indexing": ["chunk_size", "chunk_overlap", "exclude", "max_file_mb", "keep_watching"],
    "Model": ["model", "adapter", "depth", "device", "precision"],
}
DIMENSIONS = (4096, 2048, 1024, 768, 512, 384, 256, 128, 64, 32)
KNOWN_MODELS = {
    DEFAULT_MODEL: f"{DEFAULT_MODEL} — all-MiniLM-L6-v2 on a CPU, SmolLM2-135M (LLaRA) on a GPU",
    bundled.ALIAS: f"{bundled.ALIAS} — bundled SmolLM2-135M, LLaRA (about 7× the CPU time of MiniLM)",
    bundled_encoder.ALIAS: f"{bundled_encoder.ALIAS} — bundled all-MiniLM-L6-v2 encoder",
    "BAAI/LLARA-passage": "BAAI/LLARA-passage — LLaRA 7B from the hub (use a GPU)",
}
CHOICES: dict[str, list[tuple[str, str]]] = {
    "search_mode": [
        (Mode.HYBRID, "Hybrid: keywords and vectors, fused"),
        (Mode.BM25, "Keywords only (BM25)"),
        (Mode.DENSE, "Vectors only (dense)"),
    ],
    "device": [("auto", "Automatic (GPU if there is one)"), ("cpu", "CPU"), ("gpu", "GPU (CUDA or Apple)")],
    "precision": [
        ("auto", "Automatic"),
        ("fp32", "fp32 (exact)"),
        ("bf16", "bf16 (faster on recent CPUs/GPUs)"),
        ("fp16", "fp16 (GPU only)"),
        ("int8", "int8 (CPU without native bf16; builds a new index)"),
    ],
}


def meta(name: str) -> dict[str, Any]:
    return dict(next(f for f in fields(Settings) if f.name == name).metadata)


def effect_of(name: str) -> Cost:
    return Settings.cost_of_field(name)


#: Hints under a widget that says more than the setting's one-line label (which the CLI shows as it is).
DIALOG_HINTS = {
    "search_dim": "fewer dimensions: a smaller index and faster search, slightly less precise",
    "dense_weight": "0 = keywords only, 1 = meaning only",
    "reranker": "bundled: the SmolLM2 language model · sentences: each passage's best sentence, by the embedder",
    "rerank_top_n": "more: the reranker can lift results from further down, and takes longer",
    "rerank_weight": "0 = the fused order stays, 1 = the reranker alone decides",
    "depth": "fewer layers: faster indexing and queries; good only where the adapter was trained to stop early",
    "keep_watching": "a background sleuth watch follows your folders after the window closes, and at login",
    "precision": "Automatic: bf16 where the CPU runs it natively, int8 on other x86 CPUs; to or from int8 re-embeds",
}
#: Where the weight box starts when "Automatic" is turned off: the weight measured for the bundled model.
DEFAULT_MANUAL_DENSE_WEIGHT = 0.4
#: Settings with an "Automatic" box: the value stored for it, and the box's text.
AUTOMATIC = {
    "dense_weight": (-1.0, "Automatic (measured on your documents)"),
    "rerank_top_n": (0, "Automatic (the reranker's own)"),
    "rerank_weight": (-1.0, "Automatic (the reranker's own)"),
}


def split_label(label: str) -> tuple[str, str]:
    """'Chunk size (tokens)' -> ('Chunk size', 'tokens'): the short part labels the row, the rest is a hint."""
    title, paren, rest = label.partition(" (")
    return (title, rest.rstrip(")")) if paren else (label, "")


def changes(old: Settings, new: Settings) -> dict[str, Cost]:
    """Changed field → what changing it costs (core.settings.Cost: "rebuild", "rescan", "rewrite", …)."""
    return old.changes(new)


#: Early exits offered for a model whose adapter names none: a quarter of the way down to the last layer and more.
DEPTH_FRACTIONS = (0.8, 2 / 3, 0.5, 0.4, 0.25)


def depth_choices(
    layers: int | None,
    trained: tuple[int, ...],
    current: int,
    own: int = 0,
    shipped: dict[int, str] | None = None,
) -> list[tuple[int, str]]:
    """(depth, text) for the depth box: 0 = every layer, then the trained exits (or usual ones), shallower last.

    Each says how much of the model's computation it runs, and whether the adapter was trained to stop there.
    An adapter trained for fewer layers (``own``, core.embedding.registry.adapter_depth) holds weights for
    those only: 0 is then its own depth, and no other depth is offered. ``shipped``: depths Sleuth ships an
    adapter of their own for, with what was measured of each (core.embedding.registry.shipped_depths).
    """
    shipped = shipped or {}
    if layers and 0 < own < layers:
        label = f"{own} of {layers} layers, the adapter's own — {layers / own:.1f}× less computation"
        if current == own:  # the same depth, named explicitly
            return [(own, label)]
        extra = [(current, f"{current} of {layers} layers · not trained for this adapter")] if current else []
        return [(0, label), *extra]
    if not layers:
        return [(0, "All layers")] + ([(current, f"{current} layers")] if current else [])
    depths = (set(trained) or {max(1, round(layers * f)) for f in DEPTH_FRACTIONS}) | set(shipped)
    if current:
        depths.add(current)
    choices = [(0, f"All {layers} layers (full quality)")]
    for depth in sorted((d for d in depths if 0 < d < layers), reverse=True):
        if depth in shipped:
            note = shipped[depth] or "an adapter of its own, distilled from the full model"
        elif depth in trained:
            note = "trained for this adapter"
        else:
            note = "not trained for this adapter: lower quality"
        choices.append((depth, f"{depth} of {layers} layers — {layers / depth:.1f}× less computation · {note}"))
    return choices


def dimension_choices(full: int, current: int) -> list[int]:
    """0 (= the model's full dimension) and the usual Matryoshka sizes below it."""
    sizes = [d for d in DIMENSIONS if d < full] if full else [d for d in DIMENSIONS if d <= 1024]
    if current and current not in sizes and (not full or current < full):
        sizes.append(current)
    return [0, *sorted(sizes, reverse=True)]


class SettingsDialog(QDialog):
    def __init__(
        self,
        settings: Settings,
        model_dimension: int = 0,
        parent: QWidget | None = None,
        measured: str = "",
        embedder: str = "",
        passages: int = 0,
    ) -> None:
        """``measured``: what Sleuth measured about dense search on the current index, shown by its weight;
        ``embedder`` (the index's embedder identity) and ``passages`` (its size): what each search dimension costs
        there, where Sleuth measured that model (``core.embedding.matryoshka.MEASURED_COSTS``)."""
        super().__init__(parent)
        self.setWindowTitle("Sleuth Settings")
        self.original = dataclasses.replace(settings)
        self.dimension = model_dimension
        self.embedder_model = EmbedderIdentity.parse(embedder).source if embedder else ""
        self.passages = passages
        self.editors: dict[str, QWidget] = {}
        self.automatic: dict[str, QCheckBox] = {}  # the "Automatic" box of each setting that has one
        self._reranker_name = settings.reranker

        tabs = QTabWidget()
        for title, names in PAGES.items():
            page = QWidget()
            form = QFormLayout(page)
            form.setContentsMargins(16, 16, 16, 12)
            form.setHorizontalSpacing(16)
            form.setVerticalSpacing(12)
            form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
            for name in names:
                editor = self._editor(name, getattr(settings, name))
                short, detail = split_label(str(meta(name).get("label", name)))
                label = QLabel(short + ":")
                tip = f"{name} — {EFFECTS[effect_of(name)]}"
                label.setToolTip(tip)
                editor.setToolTip(tip)
                detail = DIALOG_HINTS.get(name, detail)  # the CLI's wording ("-1 = measured") fits no widget here
                hint = QLabel(" · ".join(p for p in (detail, SHORT_EFFECTS[effect_of(name)]) if p))
                if name == "dense_weight" and measured:
                    hint.setText(f"{measured}\n{hint.text()}")
                    hint.setWordWrap(True)
                if name == "reranker":
                    hint.setText(f"{WHY_OFF}\n{hint.text()}")
                    hint.setWordWrap(True)
                if name == "model":
                    hint.setText(f"{LLARA_ON_CPU}\n{hint.text()}")
                    hint.setWordWrap(True)
                hint.setObjectName("settingHint")
                hint.setStyleSheet(f"color:{muted(self.palette()).name()}")
                font = hint.font()
                font.setPointSizeF(font.pointSizeF() * 0.9)
                hint.setFont(font)
                cell = QWidget()
                cell_layout = QVBoxLayout(cell)
                cell_layout.setContentsMargins(0, 0, 0, 0)
                cell_layout.setSpacing(2)
                cell_layout.addWidget(editor)
                cell_layout.addWidget(hint)
                form.addRow(label, cell)
            tabs.addTab(page, title)
        self.tabs = tabs

        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setMinimumHeight(56)
        self.summary.setFrameShape(QFrame.Shape.StyledPanel)
        self.summary.setContentsMargins(8, 6, 8, 6)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(tabs)
        layout.addWidget(self.summary)
        layout.addWidget(self.buttons)
        self.resize(680, 600)
        self._update_summary()

    # --- editors -------------------------------------------------------------------------------
    def _editor(self, name: str, value: Any) -> QWidget:
        info = meta(name)
        widget: QWidget
        if name == "search_dim":
            combo = QComboBox()
            for dim in dimension_choices(self.dimension, value):
                label = f"Full ({self.dimension})" if dim == 0 and self.dimension else "Full" if dim == 0 else str(dim)
                cost = dimension_cost(self.embedder_model, dim or self.dimension, self.passages)
                combo.addItem(f"{label} — {describe_cost(cost, self.passages)}" if cost else label, dim)
            combo.setCurrentIndex(max(0, combo.findData(value)))
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(20)
            combo.view().setMinimumWidth(combo.view().sizeHintForColumn(0) + 24)
            combo.currentIndexChanged.connect(self._update_summary)
            widget = combo
        elif name == "depth":
            combo = QComboBox()
            model, adapter = self.original.model, self.original.adapter
            shipped = shipped_depths(model, adapter)
            # A shipped depth is a choice of the family, not the adapter's only depth: the full one stays offered.
            trained, own = trained_exits(model, adapter), 0 if shipped else trained_depth(model, adapter, value)
            for depth, text in depth_choices(model_layers(model), trained, value, own, shipped):
                # The automatic model without an adapter of its own is the encoder on a CPU, not SmolLM2.
                if depth == 0 and model == AUTO_MODEL and not names_llara_only(adapter, 0):
                    text = "All layers of the automatic model (MiniLM's 6 on a CPU, SmolLM2's 30 on a GPU)"
                combo.addItem(text, depth)
            combo.setCurrentIndex(max(0, combo.findData(value)))
            # The choices say what each costs, at length: the list opens as wide as they need, the box does not
            # stretch the dialog.
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(40)
            combo.view().setMinimumWidth(combo.view().sizeHintForColumn(0) + 24)
            combo.currentIndexChanged.connect(self._update_summary)
            widget = combo
        elif name in CHOICES:
            combo = QComboBox()
            for key, text in CHOICES[name]:
                combo.addItem(text, key)
            if combo.findData(value) < 0:
                combo.addItem(str(value), value)
            combo.setCurrentIndex(combo.findData(value))
            combo.currentIndexChanged.connect(self._update_summary)
            widget = combo
        elif name == "model":
            combo = QComboBox()
            combo.setEditable(True)
            for key, text in KNOWN_MODELS.items():
                combo.addItem(key)
                combo.setItemData(combo.count() - 1, text, Qt.ItemDataRole.ToolTipRole)
            combo.setEditText(value)
            combo.editTextChanged.connect(self._update_summary)
            widget = self._with_browse(combo, "Choose a model folder", lambda path: combo.setEditText(path))
            self.editors[name] = combo
            return widget
        elif name == "adapter":
            line = QLineEdit(value)
            line.setPlaceholderText("none (a folder with a LoRA adapter)")
            line.setToolTip(
                "bundled: the adapter Sleuth ships for its bundled model (trained on Python's documentation).\n"
                "A folder: a LoRA adapter, such as one made by Adapt to my documents.\nEmpty: the model as it is."
            )
            line.setClearButtonEnabled(True)
            line.textChanged.connect(self._update_summary)
            self.editors[name] = line
            return self._with_browse(line, "Choose a LoRA adapter folder", line.setText)
        elif name == "reranker":
            return self._reranker_editor(value)
        elif name == "exclude":
            patterns = QPlainTextEdit("\n".join(value))
            patterns.setPlaceholderText("one pattern per line, .gitignore syntax")
            patterns.setMinimumHeight(140)
            patterns.textChanged.connect(self._update_summary)
            widget = patterns
        elif name == "dense_weight":
            return self._automatic_editor(name, value, self._fraction_box(0.1), DEFAULT_MANUAL_DENSE_WEIGHT)
        elif name == "rerank_weight":
            return self._automatic_editor(name, value, self._fraction_box(0.05), weight_for(self._shown_reranker()))
        elif name == "rerank_top_n":
            box = QSpinBox()
            box.setRange(1, 200)
            return self._automatic_editor(name, value, box, top_n_for(self._shown_reranker()))
        elif isinstance(value, bool):
            check = QCheckBox("On")
            check.setChecked(value)
            check.toggled.connect(self._update_summary)
            widget = check
        elif isinstance(value, float):
            spin = QDoubleSpinBox()
            spin.setDecimals(2)
            spin.setRange(0.1, 100_000.0)
            spin.setValue(value)
            spin.valueChanged.connect(self._update_summary)
            widget = spin
        elif isinstance(value, int):
            box = QSpinBox()
            box.setRange(int(info.get("min", 0)), int(info.get("max", 1_000_000)))
            box.setValue(value)
            box.valueChanged.connect(self._update_summary)
            widget = box
        else:
            line = QLineEdit(str(value))
            line.textChanged.connect(self._update_summary)
            widget = line
        self.editors[name] = widget
        return widget

    def _with_browse(self, field: QWidget, caption: str, apply: Any) -> QWidget:
        button = QPushButton("Folder…")

        def browse() -> None:
            folder = QFileDialog.getExistingDirectory(self, caption)
            if folder:
                apply(folder)

        button.clicked.connect(browse)
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(field, 1)
        layout.addWidget(button)
        return row

    @staticmethod
    def _fraction_box(step: float) -> QDoubleSpinBox:
        spin = QDoubleSpinBox()
        spin.setDecimals(2)
        spin.setRange(0.0, 1.0)
        spin.setSingleStep(step)
        return spin

    def _automatic_editor(self, name: str, value: Any, box: QSpinBox | QDoubleSpinBox, manual: float) -> QWidget:
        """A number, or "Automatic" (stored as the value :data:`AUTOMATIC` names): the box then shows ``manual``,
        greyed out, and starts from it when the user turns Automatic off."""
        stored, text = AUTOMATIC[name]
        auto = QCheckBox(text)
        auto.setChecked(value == stored)
        shown = manual if value == stored else value
        if isinstance(box, QSpinBox):
            box.setValue(int(shown))
        else:
            box.setValue(float(shown))
        box.setEnabled(value != stored)
        auto.toggled.connect(lambda on: box.setEnabled(not on))
        auto.toggled.connect(self._update_summary)
        box.valueChanged.connect(self._update_summary)
        self.automatic[name] = auto
        self.editors[name] = box
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(auto)
        layout.addWidget(box)
        layout.addStretch(1)
        return row

    def _reranker_editor(self, value: str) -> QWidget:
        self.rerank_on = QCheckBox("On")
        self.rerank_on.setChecked(bool(value))
        choice = QComboBox()
        choice.setEditable(True)
        choice.addItems([BUNDLED, SENTENCES, BUNDLED_MINILM, *HUB_RERANKERS])
        choice.setEditText(value or BUNDLED)
        choice.setToolTip(
            "bundled: Sleuth's own reranker (the bundled SmolLM2 judging how well a passage answers the query;\n"
            "no download).\n"
            "sentences: each passage's best sentence, read by the embedding model (no second model).\n"
            "bundled-minilm: the MiniLM-L6 cross-encoder Sleuth trained offline (faster, ranks less well).\n"
            "A hub id: a cross-encoder downloaded once (progress in the status bar).\n"
            "A folder: a cross-encoder on this computer, such as one made by Adapt to my documents."
        )
        choice.setEnabled(bool(value))
        self.rerank_on.toggled.connect(choice.setEnabled)
        self.rerank_on.toggled.connect(self._update_summary)
        choice.editTextChanged.connect(self._update_summary)
        choice.editTextChanged.connect(self._show_reranker_numbers)
        self.editors["reranker"] = choice
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.rerank_on)
        layout.addWidget(choice, 1)
        return row

    def _shown_reranker(self) -> Settings:
        """The settings with the reranker the reranker box shows: the bundled one while reranking is off."""
        return dataclasses.replace(self.original, reranker=self.original.reranker or BUNDLED)

    def _show_reranker_numbers(self, name: str) -> None:
        """Greyed out under "Automatic", the top N and share boxes show the numbers of the reranker named now."""
        chosen = dataclasses.replace(self.original, reranker=name.strip(), rerank_top_n=0, rerank_weight=-1.0)
        top_n, weight = self.editors.get("rerank_top_n"), self.editors.get("rerank_weight")
        if isinstance(top_n, QSpinBox) and self.automatic["rerank_top_n"].isChecked():
            top_n.setValue(top_n_for(chosen))
        if isinstance(weight, QDoubleSpinBox) and self.automatic["rerank_weight"].isChecked():
            weight.setValue(weight_for(chosen))

    # --- values --------------------------------------------------------------------------------
    def value(self, name: str) -> Any:
        editor = self.editors[name]
        current = getattr(self.original, name)
        if name == "reranker":
            assert isinstance(editor, QComboBox)
            return editor.currentText().strip() if self.rerank_on.isChecked() else ""
        if name in self.automatic:
            assert isinstance(editor, QSpinBox | QDoubleSpinBox)
            return AUTOMATIC[name][0] if self.automatic[name].isChecked() else type(current)(editor.value())
        if isinstance(editor, QComboBox):
            data = editor.currentData() if not editor.isEditable() else None
            return data if data is not None else editor.currentText().strip()
        if isinstance(editor, QCheckBox):
            return editor.isChecked()
        if isinstance(editor, QPlainTextEdit):
            return [line.strip() for line in editor.toPlainText().splitlines() if line.strip()]
        if isinstance(editor, QSpinBox | QDoubleSpinBox):
            return type(current)(editor.value())
        if isinstance(editor, QLineEdit):
            return editor.text().strip()
        raise AssertionError(name)

    def set_value(self, name: str, value: Any) -> None:
        """Set an editor as a user would (used by tests and scripts)."""
        editor = self.editors[name]
        if name == "reranker":
            self.rerank_on.setChecked(bool(value))
            if value:
                assert isinstance(editor, QComboBox)
                editor.setEditText(value)
        elif name in self.automatic:
            self.automatic[name].setChecked(value == AUTOMATIC[name][0])
            if value != AUTOMATIC[name][0]:
                assert isinstance(editor, QSpinBox | QDoubleSpinBox)
                editor.setValue(value)
        elif isinstance(editor, QComboBox):
            if editor.isEditable():
                editor.setEditText(str(value))
            else:
                editor.setCurrentIndex(editor.findData(value))
        elif isinstance(editor, QCheckBox):
            editor.setChecked(bool(value))
        elif isinstance(editor, QPlainTextEdit):
            editor.setPlainText("\n".join(value))
        elif isinstance(editor, QSpinBox | QDoubleSpinBox):
            editor.setValue(value)
        elif isinstance(editor, QLineEdit):
            editor.setText(str(value))

    def edited(self) -> Settings:
        """The edited copy; raises ConfigError when it is not valid."""
        data = self.original.to_dict()
        for name in self.editors:
            data[name] = self.value(name)
        settings = Settings(**data)
        settings.validate()
        return settings

    def _update_summary(self, *_: object) -> None:
        try:
            new = self.edited()
        except ConfigError as exc:
            self.summary.setText(f'<span style="color:#c0392b">{html.escape(str(exc))}</span>')
            self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(False)
            return
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(True)
        diff = changes(self.original, new)
        if not diff:
            self.summary.setText("No changes.")
            return
        by_effect: dict[Cost, list[str]] = {}
        for name, effect in diff.items():
            by_effect.setdefault(effect, []).append(split_label(str(meta(name).get("label", name)))[0])
        lines = [f"<b>{html.escape(', '.join(labels))}</b>: {EFFECTS[effect]}." for effect, labels in by_effect.items()]
        self.summary.setText("<br>".join(lines))

    def accept(self) -> None:
        try:
            self.edited()
        except ConfigError as exc:
            self.summary.setText(f'<span style="color:#c0392b">{html.escape(str(exc))}</span>')
            return
        super().accept()
