"""``PipelineRuntimeDebugger``: how many items each generator step of a
``combine_pipeline`` gave, and the wall, CPU and RSS growth spent in it."""

import collections
import os
import resource
import time
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

from .debug_reporter import LoggingReporter

import logging

logger = logging.getLogger(__name__)

__all__ = ["Debugger", "PipelineRuntimeDebugger"]

# Reports are shown at most this often while items flow, and once at the end.
_SHOW_EVERY = 5.0


def _name(thing: Any) -> str:
    return getattr(thing, "__name__", None) or type(thing).__name__


def _cpu() -> Tuple[float, float]:
    t = os.times()
    return t.user, t.system


def _rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class Debugger:
    """Base class of pipeline debuggers: ``head`` wraps the source,
    ``track`` each step, ``tail`` and ``report`` the end."""

    def head(self, iterator: Iterable[Any]) -> Iterable[Any]:
        """Wraps the source."""
        return iterator

    def tail(self, iterator: Iterable[Any]) -> Iterable[Any]:
        """Wraps the combined pipeline."""
        return iterator

    def report(self, iterator: Iterable[Any]) -> Iterable[Any]:
        """Wraps the pipeline once more."""
        return iterator

    def do_track(self, iterator: Iterable[Any]) -> Iterable[Any]:
        """Wraps one step."""
        return iterator

    def track(self, iterator: Iterable[Any]) -> Iterable[Any]:
        """Wraps one step, unless it is already tracked."""
        if _name(iterator) == "do_track":
            return iterator
        return self.do_track(iterator)


class PipelineRuntimeDebugger(Debugger):
    """Measures each step of a ``combine_pipeline`` and hands the figures to
    its ``reporters`` (a ``LoggingReporter`` on this module's logger by
    default) every 5 seconds while items flow and once at the end.

    Per step: ``count`` (items out; a list counts its length), ``runtime``
    (seconds spent pulling from it), ``throughput``, ``runtime_per_entry``,
    ``utime``/``stime`` (CPU seconds), ``rss`` (growth of peak RSS) and
    ``queries`` (from ``call_counter.pop()``, if given).
    """

    def __init__(self, reporters: Optional[List[Any]] = None, call_counter: Optional[Any] = None):
        self._reporters = reporters or [LoggingReporter(logger)]
        self._call_counter = call_counter
        self._resources: Dict[object, Dict[str, float]] = collections.defaultdict(
            lambda: collections.defaultdict(float)
        )
        self._steps: List[Tuple[str, object]] = []
        self._last_shown = time.monotonic()

    def do_track(self, iterator: Iterable[Any]) -> Iterator[Any]:
        """Yields ``iterator``'s items, timing each pull."""
        ident = object()
        self._steps.insert(0, (_name(iterator), ident))
        it = iter(iterator)
        while True:
            start, cpu, rss = time.monotonic(), _cpu(), _rss()
            try:
                item = next(it)
            except StopIteration:
                self._add(ident, 0, start, cpu, rss)
                return
            self._add(ident, len(item) if type(item) is list else 1, start, cpu, rss)
            yield item

    def _add(self, ident: object, count: int, start: float, cpu: Tuple[float, float], rss: int) -> None:
        r = self._resources[ident]
        user, system = _cpu()
        r["count"] += count
        r["runtime"] += time.monotonic() - start
        r["utime"] += user - cpu[0]
        r["stime"] += system - cpu[1]
        r["rss"] += _rss() - rss
        if self._call_counter is not None:
            r["queries"] += self._call_counter.pop()
        n, runtime = r["count"], r["runtime"]
        r["runtime_per_entry"] = runtime / n if n else 0.0
        r["queries_per_entry"] = r["queries"] / n if n else 0.0
        r["throughput"] = n / runtime if runtime else 0.0

    def show(self, force: bool = False) -> None:
        """Hands the figures to every reporter (at most every 5 s unless ``force``)."""
        if not force and time.monotonic() - self._last_shown < _SHOW_EVERY:
            return
        info = [(name, self._resources[ident]) for name, ident in self._steps]
        for reporter in self._reporters:
            reporter.show(info)
        self._last_shown = time.monotonic()

    def tail(self, iterator: Iterable[Any]) -> Iterator[Any]:
        """Yields the pipeline's outputs, reporting now and then and at the end."""
        for item in iterator:
            self.show()
            yield item
        self.show(force=True)
