"""``combine_pipeline``: generator steps chained in the caller's thread,
optionally watched by a debugger."""

import functools
from typing import Any, Callable, Iterable, Optional

from .iterables import recursive_flatten

__all__ = ["PipelineStep", "combine_pipeline", "identity_step"]


class PipelineStep:
    """A class-based generator step: override ``process(iterator)``."""

    def process(self, iterator: Iterable[Any]) -> Iterable[Any]:
        """Returns the step's outputs for ``iterator``; by default, itself."""
        return iterator

    def __call__(self, iterator: Iterable[Any]) -> Iterable[Any]:
        return self.process(iterator)


def identity_step(iterator: Iterable[Any]) -> Iterable[Any]:
    """A step that passes every item on."""
    return iterator


def _deferred(wrap: Callable[[Any], Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Lifts ``wrap`` from iterators to iterator factories."""

    def lift(factory: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(factory)
        def made(*args: Any, **kwargs: Any) -> Any:
            return wrap(factory(*args, **kwargs))

        return made

    return lift


def combine_pipeline(source: Any, pipeline: Iterable[Any], debugger: Optional[Any] = None) -> Any:
    """Chains the generator steps of ``pipeline`` (nested lists are
    flattened) onto ``source``.

    ``source`` is an iterable, and the result an iterator; or a callable,
    and the result a callable that passes its arguments to ``source``. A
    ``debugger`` (``PipelineRuntimeDebugger``) wraps the source, every step
    and the end to measure each step.
    """
    def same(x: Any) -> Any:
        return x

    head = tail = track = report = same
    if debugger is not None:
        head, tail, track, report = debugger.head, debugger.tail, debugger.track, debugger.report
    if callable(source):
        gen: Any = _deferred(head)(source)
        for step in recursive_flatten(pipeline):
            gen = _deferred(step)(_deferred(track)(gen))
        return _deferred(report)(_deferred(tail)(_deferred(track)(gen)))
    gen = head(source)
    for step in recursive_flatten(pipeline):
        gen = step(track(gen))
    return report(tail(track(gen)))
