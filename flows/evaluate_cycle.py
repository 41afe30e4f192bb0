"""Entry point of the ``evaluate-cycle`` deployment (the watcher also calls it when due)."""

from flows.stages import evaluate_cycle  # noqa: F401
