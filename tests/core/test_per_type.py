"""Per defect type figures for eval: AUROC against the good images and escapes at the threshold."""

import cv2
import pytest

from draem_core.per_type import per_type, plot_per_type, table


def test_per_type_counts_escapes_and_auroc_per_kind(tmp_path):
    types = ["good"] * 4 + ["scratch"] * 3 + ["dent"] * 2
    labels = [0] * 4 + [1] * 5
    scores = [0.1, 0.2, 0.3, 0.6, 0.9, 0.8, 0.25, 0.15, 0.05]
    rows = per_type(types, labels, scores, threshold=0.5)
    assert list(rows) == ["good", "dent", "scratch"]
    assert rows["good"] == {"n": 4, "false_rejects": 1, "false_reject_rate": 0.25,
                            "false_reject_upper_95": pytest.approx(0.7514, abs=1e-3)}  # fmt: skip
    assert rows["scratch"]["escapes"] == 1 and rows["scratch"]["escape_rate"] == pytest.approx(1 / 3)
    assert rows["scratch"]["image_auroc"] == pytest.approx((4 + 4 + 2) / 12)
    assert rows["dent"] == {"n": 2, "image_auroc": pytest.approx(1 / 8), "escapes": 2, "escape_rate": 1.0}
    text = table(rows)
    assert "dent" in text and "100.0%" in text and "75.1%" in text
    path = plot_per_type(types, scores, 0.5, tmp_path / "per_type.png")
    assert cv2.imread(str(path)).shape[2] == 3
