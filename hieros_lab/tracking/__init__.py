"""Experiment tracking (kind ``tracker``): the Tracker protocol and its MLflow implementation."""
