"""Retraining without Qt: the plan, dataset collection, the training process, ETA and evaluation."""
