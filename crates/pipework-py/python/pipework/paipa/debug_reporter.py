"""Reporters for ``PipelineRuntimeDebugger``: each gets ``show(info)``
with ``[(step_name, resources), ...]``."""

import logging
from typing import Any, Dict, List, Tuple

__all__ = ["DebugReporter", "LoggingReporter"]


class DebugReporter:
    """Base class: a reporter implements ``show(info)``."""

    def show(self, info: List[Tuple[str, Dict[str, float]]]) -> None:
        """Reports ``info``, one ``(step_name, resources)`` per step."""
        raise NotImplementedError


class LoggingReporter(DebugReporter):
    """Logs a separator line, then one aligned line per step, at INFO
    level on the logger it is given."""

    def __init__(self, logger: logging.Logger):
        self._logger = logger

    def show(self, info: List[Tuple[str, Dict[str, float]]]) -> None:
        """Logs each step's count, run time, throughput, CPU times,
        queries and RSS growth."""
        self._logger.info("-" * 20)
        rows = [(name, r) for name, r in info if r]
        width = max((len(name) for name, _ in rows), default=0)
        for name, r in rows:
            self._logger.info(
                "> %-*s: count: %d runtime: %.2f %.2f/s utime: %.2f stime: %.2f q: %d q/e: %.2f rss: %.2f",
                width,
                name,
                int(r.get("count", 0)),
                r.get("runtime", 0.0),
                r.get("throughput", 0.0),
                r.get("utime", 0.0),
                r.get("stime", 0.0),
                int(r.get("queries", 0)),
                r.get("queries_per_entry", 0.0),
                r.get("rss", 0.0),
            )
