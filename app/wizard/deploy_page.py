"""Deploy: store the new model as a registry version, activate it, and swap it into the running inspection.

The version list offers rollback: re-activating an older version swaps it back in, again without a restart.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
)

from app.registry import VersionRecord
from app.wizard.page import PageBase, WizardContext

COLUMNS = (
    "version",
    "name",
    "created",
    "threshold",
    "false rejects",
    "escapes (synthetic)",
    "parent",
    "active",
)


class DeployPage(PageBase):
    """Always complete: deploying is a choice, Finish without it leaves the running model alone."""

    def __init__(self, ctx: WizardContext) -> None:
        super().__init__(
            ctx, "Deploy", "Store the model as a new version and use it on the line, or roll back."
        )
        self.deployed: VersionRecord | None = None
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.deploy_btn = QPushButton("Deploy this model")
        self.deploy_btn.clicked.connect(self.deploy)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.rollback_btn = QPushButton("Re-activate the selected version (roll back)")
        self.rollback_btn.clicked.connect(self._reactivate_selected)
        self.body.addWidget(self.summary)
        row = QHBoxLayout()
        row.addWidget(self.deploy_btn)
        row.addStretch(1)
        self.body.addLayout(row)
        self.body.addWidget(QLabel("Model versions"))
        self.body.addWidget(self.table, 1)
        row = QHBoxLayout()
        row.addWidget(self.rollback_btn)
        row.addStretch(1)
        self.body.addLayout(row)
        self.finish_layout()
        self.versions: list[VersionRecord] = []
        self.active_id: str | None = None

    def initializePage(self) -> None:
        p = self.plan
        metrics = self._metrics()
        threshold = "calibrated" if p.threshold is None else f"{p.threshold:.4f} (set on the Evaluate page)"
        frr = f"{metrics['false_reject']:.1%}" if metrics else "n/a"
        esc = f"{metrics['escape_synthetic']:.1%}" if metrics else "n/a"
        self.summary.setText(f"<b>{p.model_name()}</b> from {p.model_out}<br>threshold: {threshold} · expected "
                             f"false rejects {frr} · escapes of synthetic defects {esc}")  # fmt: skip
        self.deploy_btn.setEnabled(self.deployed is None)
        self.refresh()

    def isComplete(self) -> bool:
        return True

    def _metrics(self) -> dict:
        comparison = self.ctx.comparison
        return comparison.new.metrics(self.plan.threshold) if comparison is not None else {}

    # --- actions -----------------------------------------------------------------------------------

    def deploy(self) -> None:
        """Add the model as a version, activate it and swap it in (file work in the background)."""
        p, reg, metrics = self.plan, self.ctx.registry, self._metrics()
        model, threshold, dataset, activate = p.model_out, p.threshold, p.dataset or "", self.ctx.station_model

        def add_and_activate(stop) -> VersionRecord:
            record = reg.add(model, threshold=threshold, metrics=metrics, dataset=dataset)
            return reg.activate(record.id) if activate else record

        self.deploy_btn.setEnabled(False)
        self.say("Storing the new version…")
        self.ctx.jobs.start(add_and_activate, self._deployed_new, self._deploy_failed)

    def _deployed_new(self, record: VersionRecord) -> None:
        self.deployed = record
        self._activated(record)

    def _deploy_failed(self, message: str) -> None:
        self.deploy_btn.setEnabled(self.deployed is None)
        self.fail(message)

    def reactivate(self, version: str) -> None:
        """Make ``version`` active again and swap it in (rollback)."""
        reg, activate = self.ctx.registry, self.ctx.station_model
        self.ctx.jobs.start(lambda stop: reg.activate(version) if activate else reg.get(version), self._activated,
                            self.fail)  # fmt: skip

    def _reactivate_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.reactivate(self.versions[rows[0].row()].id)

    def _activated(self, record: VersionRecord) -> None:
        try:
            self.ctx.deploy(record.model_path)
        except Exception as exc:  # noqa: BLE001  (the live window's failure is shown, the registry stays right)
            self.fail(f"{record.id} is active in the registry, but the live window could not load it: {exc}")
        else:
            where = ("is active and inspecting" if self.ctx.station_model else f"is inspecting on camera "
                     f"{self.ctx.camera + 1}; the registry's active version (camera 1's model) is unchanged")  # fmt: skip
            self.say(f"{record.id} ({record.name}) {where}.", "ok")
        self.refresh()

    def refresh(self) -> None:
        """Reload the version list (in the background)."""
        reg = self.ctx.registry

        def read(stop):
            versions = reg.versions()
            try:
                active = reg.active_id()
            except Exception:  # noqa: BLE001  (a corrupt pointer: show the list, none active)
                active = None
            return versions, active, list(reg.problems)

        self.ctx.jobs.start(read, self._fill, self.fail)

    def _fill(self, item) -> None:
        self.versions, self.active_id, problems = item
        self.table.setRowCount(len(self.versions))
        for row, v in enumerate(self.versions):
            values = (v.id, v.name, v.created, _fmt(v.threshold, ".4f"), _fmt(v.metrics.get("false_reject"), ".1%"),
                      _fmt(v.metrics.get("escape_synthetic"), ".1%"), v.parent or "—",
                      "✔ active" if v.id == self.active_id else "")  # fmt: skip
            for col, text in enumerate(values):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        if problems:
            self.say(
                f"{len(problems)} unreadable version(s) skipped: {problems[0][0]}: {problems[0][1]}", "warn"
            )


def _fmt(value, spec: str) -> str:
    return format(value, spec) if isinstance(value, (int, float)) else "—"
