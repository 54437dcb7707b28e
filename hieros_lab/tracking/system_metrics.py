"""MLflow's system metrics (CPU, memory, disk, network; GPU when ``nvidia-ml-py`` finds one)
for one run, as an option of :class:`~hieros_lab.tracking.mlflow_tracker.MlflowTracker`.

Modes: ``on`` samples from the start of the run, ``off`` never, and ``auto`` (the default) only
once the run has been going for ``after_s`` seconds of wall time: long runs get the charts,
while tests and quick checks do not pay for a sampling thread that writes to the store.

The samples are indexed by their own counter (MLflow's ``system/*`` keys), not by env steps; a
resumed run continues that counter, so no sample step is logged twice.
"""

from __future__ import annotations

import logging
import threading

MODES = ("auto", "on", "off")


def check_mode(mode: str, after_s: float, every_s: float) -> None:
    if mode not in MODES:
        raise ValueError(f"MlflowTracker.system_metrics must be one of {MODES}, got {mode!r}")
    if not after_s >= 0 or not every_s > 0:
        raise ValueError("MlflowTracker.system_metrics_after_s must be >= 0 and "
                         f"system_metrics_every_s > 0, got {after_s} and {every_s}")


class SystemMetrics:
    """Starts and stops MLflow's ``SystemMetricsMonitor`` around one run."""

    def __init__(self, mode: str = "auto", after_s: float = 300.0, every_s: float = 10.0) -> None:
        check_mode(mode, after_s, every_s)
        self.mode, self.after_s, self.every_s = mode, after_s, every_s
        self._timer: threading.Timer | None = None
        self._monitor = None
        self._lock = threading.Lock()

    @property
    def sampling(self) -> bool:
        return self._monitor is not None

    def start(self, run_id: str, tracking_uri: str) -> None:
        """Begin (now, later or never, by mode) sampling for ``run_id``."""
        self.stop()
        if self.mode == "off":
            return
        delay = 0.0 if self.mode == "on" else self.after_s
        self._timer = threading.Timer(delay, self._begin, args=(run_id, tracking_uri))
        self._timer.daemon = True
        self._timer.name = "hieros-system-metrics"
        self._timer.start()

    def _begin(self, run_id: str, tracking_uri: str) -> None:
        try:
            from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

            monitor = SystemMetricsMonitor(run_id, sampling_interval=self.every_s,
                                           resume_logging=True, tracking_uri=tracking_uri)
        except Exception as err:  # noqa: BLE001  (psutil missing, store away: no charts, no crash)
            logging.getLogger(__name__).warning("system metrics are off: %s", err)
            return
        with self._lock:
            if self._timer is None:  # stopped while we were building it
                return
            self._monitor = monitor
            monitor.start()

    def stop(self) -> None:
        """Stop sampling and flush what was sampled (a no-op when nothing runs)."""
        with self._lock:
            timer, monitor = self._timer, self._monitor
            self._timer = self._monitor = None
        if timer is not None:
            timer.cancel()
        if monitor is not None:
            monitor.finish()
