"""``buffered_pipeline()``: chained async iterators whose stages run in
parallel, each one filling a small buffer ahead of its consumer.

This is asyncio's own structure, kept where users can see it, so it is
Python: each buffered stage is one ``asyncio`` task that pulls its
iterator while its buffer has room, and ends when the iterator does (so
``asyncio.all_tasks()`` counts one task per live stage); an exception in
any stage, or the cancellation of the consumer, cancels and awaits every
stage task of the pipeline before it propagates, so no task outlives it.

Cost: one task switch per item per stage, with no ``asyncio.Queue``
(whose put and get each take a future); a stage waits on one bare
future for room and its consumer on one for an item.
"""

import asyncio
import collections
from typing import Any, AsyncIterable, AsyncIterator, Callable, Deque, List, Optional, Tuple, TypeVar

T = TypeVar("T")

__all__ = ["buffered_pipeline"]


class _Buffer:
    """At most ``size`` items (or one final exception) between a stage task
    and its consumer. Each side has at most one waiter, so a wait is one
    bare future the other side resolves (``asyncio.Event`` would add a
    deque and a ``try``/``finally`` to every wait)."""

    def __init__(self, size: int):
        self.size = size
        self.items: Deque[Tuple[Optional[BaseException], Any]] = collections.deque()
        self.loop = asyncio.get_running_loop()
        self.getter: Optional["asyncio.Future[None]"] = None
        self.putter: Optional["asyncio.Future[None]"] = None

    async def room(self) -> None:
        """Waits until an item fits (ends: the consumer takes one, or the
        stage task is cancelled)."""
        while len(self.items) >= self.size:
            self.putter = self.loop.create_future()
            await self.putter

    def put(self, error: Optional[BaseException], value: Any) -> None:
        self.items.append((error, value))
        getter = self.getter
        if getter is not None and not getter.done():
            getter.set_result(None)

    async def get(self) -> Tuple[Optional[BaseException], Any]:
        """Waits for an item (ends: the stage task puts one, or its end)."""
        while not self.items:
            self.getter = self.loop.create_future()
            await self.getter
        item = self.items.popleft()
        putter = self.putter
        if putter is not None and not putter.done():
            putter.set_result(None)
        return item


def buffered_pipeline() -> Callable[..., AsyncIterator[Any]]:
    """Returns ``buffer_iterable(iterable, buffer_size=1)``, which runs
    ``iterable`` in its own task, up to ``buffer_size`` items ahead of
    whoever iterates the async iterator it returns.

    Stages chained through one ``buffered_pipeline()`` run concurrently and
    fail together: the first exception is raised to the consumer after
    every stage task is cancelled and awaited; cancelling the consumer does
    the same. Raises ``ValueError`` if ``buffer_size`` is not positive.
    """
    tasks: List["asyncio.Task[None]"] = []

    async def stop_all() -> None:
        running = [t for t in tasks if not t.done()]
        for t in running:
            t.cancel()
        tasks.clear()
        for t in running:
            try:
                await t
            except asyncio.CancelledError:
                pass

    async def buffer_iterable(iterable: AsyncIterable[T], buffer_size: int = 1) -> AsyncIterator[T]:
        if buffer_size < 1:
            raise ValueError(f"buffer_size must be at least 1, got {buffer_size}")
        buffer = _Buffer(buffer_size)
        iterator = iterable.__aiter__()

        async def fill() -> None:
            # Ends when the iterator ends or fails (both handed on as the
            # last item) or when the pipeline cancels it.
            try:
                while True:
                    await buffer.room()
                    value = await iterator.__anext__()
                    buffer.put(None, value)
                    del value
            except BaseException as e:  # handed on, including StopAsyncIteration
                buffer.put(e, None)

        tasks.append(asyncio.create_task(fill()))
        try:
            while True:
                error, value = await buffer.get()
                if error is not None:
                    if isinstance(error, StopAsyncIteration):
                        return
                    raise error
                yield value
                del value
        except BaseException:
            await stop_all()
            raise

    return buffer_iterable
