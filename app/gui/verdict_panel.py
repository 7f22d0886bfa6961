"""The big OK / NG / NOT JUDGED verdict with the score (or the reason), readable from across the line."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout

from app.gui.theme import IDLE_COLOR, NG_COLOR, OK_COLOR, WARN_COLOR
from app.pipeline.record import InspectionRecord
from draem_core.verdict import NOT_JUDGED

NOT_JUDGED_TEXT = "NOT JUDGED"  # a reject: the model could not judge the part
STYLES = {  # verdict text -> background colour
    "OK": OK_COLOR,
    "NG": NG_COLOR,
    NOT_JUDGED_TEXT: NG_COLOR,
    "—": IDLE_COLOR,
    "NO MODEL": IDLE_COLOR,
    "PAUSED": IDLE_COLOR,
    "NO SIGNAL": WARN_COLOR,
}


class VerdictPanel(QFrame):
    """A coloured tile: the verdict in huge letters, the scores underneath."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("Verdict")
        self.setMinimumSize(220, 150)
        self.verdict = QLabel("—")
        self.verdict.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.score = QLabel("")
        self.score.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.detail = QLabel("")
        self.detail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.setSpacing(2)
        layout.addWidget(self.verdict, 1)
        layout.addWidget(self.score)
        layout.addWidget(self.detail)
        self.text = "—"
        self._sizes = (0, 0, 0)
        self._fit_fonts()
        self._paint("—")

    def show_record(self, record: InspectionRecord | None) -> None:
        """Show a part's verdict: the normalised score under OK/NG, the reason under NOT JUDGED; None: a dash."""
        if record is None:
            self.show_message("—")
            return
        frame = f"#{record.frame_id}  ·  "
        if record.verdict == NOT_JUDGED or record.score is None:
            self._paint(NOT_JUDGED_TEXT)
            self.score.setText("rejected")
            self.detail.setText(f"{frame}{record.reason.split(':')[0]}")
        else:
            self._paint(record.verdict)
            self.score.setText(f"score {record.normalized:.2f}")
            self.detail.setText(f"{frame}raw {record.score:.4f}  ·  thr {record.threshold:.4f}")
        self._fit_fonts()

    def show_cameras(self, verdict: str, headline: str, cameras: Sequence[tuple[str, str]]) -> None:
        """Several cameras: the part's verdict (or all cameras' newest, in free run) large, ``headline`` (the part)
        under it, and each camera's ``(name, verdict)``, a line each."""
        self._paint(NOT_JUDGED_TEXT if verdict == NOT_JUDGED else verdict)
        self.score.setText(headline)
        self.detail.setText("\n".join(f"{name}  {v.replace('_', ' ')}" for name, v in cameras))
        self._fit_fonts()

    def show_message(self, text: str, detail: str = "") -> None:
        """A state instead of a verdict: "NO MODEL", "PAUSED", "NO SIGNAL" or "—"."""
        self._paint(text)
        self.score.setText(detail)
        self.detail.setText("")
        self._fit_fonts()

    def _paint(self, text: str) -> None:
        if text == self.text and self.verdict.text() == text:
            return
        self.text = text
        self.verdict.setText(text)
        color = STYLES.get(text, IDLE_COLOR)
        self.setStyleSheet(
            f"QFrame#Verdict {{ background: {color}; border-radius: 10px; border: 1px solid rgba(255,255,255,40); }}"
            " QLabel { background: transparent; color: #ffffff; }"
        )
        self._fit_fonts()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._fit_fonts()

    def _fit_fonts(self) -> None:
        """Scale the texts with the tile: as large as fits ("OK" huge, "NO MODEL" smaller).

        Sizes go through style sheets: the application style sheet's font size would override setFont.
        """
        h, w = max(self.height(), 120), max(self.width(), 200)
        size = min(int(h * 0.5), _fitting_size(self.verdict.text(), int(w * 0.88)))
        score = min(int(h * 0.09), _fitting_size(self.score.text(), int(w * 0.9)))
        longest = max(self.detail.text().splitlines() or [""], key=len)  # several cameras: a line each
        detail = min(int(h * 0.05), _fitting_size(longest, int(w * 0.9), bold=False))
        if (size, score, detail) == self._sizes:
            return  # re-styling re-polishes the labels: only when a size changes
        self._sizes = (size, score, detail)
        self.verdict.setStyleSheet(f"font-size: {max(14, size)}px; font-weight: 800;")
        self.score.setStyleSheet(f"font-size: {max(12, score)}px; font-weight: 700;")
        self.detail.setStyleSheet(f"font-size: {max(10, detail)}px; color: rgba(255, 255, 255, 200);")


def _fitting_size(text: str, width: int, bold: bool = True) -> int:
    """Pixel size at which ``text`` in the UI font is ``width`` pixels wide."""
    font = QFont()
    font.setPixelSize(100)
    font.setWeight(QFont.Weight.ExtraBold if bold else QFont.Weight.Normal)
    advance = QFontMetrics(font).horizontalAdvance(text or "—")
    return int(100 * width / max(advance, 1))
