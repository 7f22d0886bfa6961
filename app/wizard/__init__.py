"""The retrain wizard (Qt): collect, review, configure, train, evaluate, deploy. The logic is in app.retrain."""

from app.wizard.wizard import RetrainWizard

__all__ = ["RetrainWizard"]
