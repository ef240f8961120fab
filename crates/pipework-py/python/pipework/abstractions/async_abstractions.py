"""``run_bounded``: many awaitables, at most ``limit`` running at once.

This is asyncio's own work (tasks on the caller's loop), so it is Python,
shaped for low overhead per awaitable: up to ``limit`` worker tasks, each
pulling the next awaitable itself when it is free and awaiting it in
place (no task per awaitable, no queue between a producer and the
workers); a finished one's future goes on a deque the caller's loop reads,
woken by one future per wait. Workers are started as the running ones are
all busy, so a large ``limit`` over a short source costs only the workers
it needs.
"""

import asyncio
import collections
from typing import Any, AsyncIterator, Awaitable, Deque, List, Optional, TypeVar

T = TypeVar("T")

__all__ = ["run_bounded"]


async def run_bounded(
    tasks: AsyncIterator[Awaitable[T]], limit: int
) -> AsyncIterator["asyncio.Future[T]"]:
    """Runs the awaitables ``tasks`` yields, at most ``limit`` at a time.

    Yields a future per awaitable as it finishes (out of order); ``await``
    it for the result or the exception, which arrives as itself. ``tasks``
    is pulled only when a worker is free, so an endless or expensive source
    is read lazily. Stopping the iteration early (``break``, cancellation,
    an exception) cancels what still runs and waits for it: no task
    outlives the loop over ``run_bounded``.

    Raises ``ValueError`` if ``limit`` is not positive.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    loop = asyncio.get_running_loop()
    source = tasks.__aiter__()
    finished: Deque["asyncio.Future[T]"] = collections.deque()
    workers: List["asyncio.Task[None]"] = []
    pull = asyncio.Lock()
    state = {"exhausted": False, "idle": 0, "live": 0}
    crashed: List[BaseException] = []
    waiter: Optional["asyncio.Future[None]"] = None
    # Set when the caller takes a finished future: a worker waits on it
    # while running and unconsumed awaitables fill the limit.
    room = asyncio.Event()

    def wake() -> None:
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def start_worker() -> None:
        state["live"] += 1
        state["idle"] += 1
        task = loop.create_task(worker())
        task.add_done_callback(worker_done)
        workers.append(task)

    def worker_done(task: "asyncio.Task[None]") -> None:
        state["live"] -= 1
        if not task.cancelled() and task.exception() is not None:
            crashed.append(task.exception())  # type: ignore[arg-type]
        wake()

    async def worker() -> None:
        # Ends when the source is exhausted (or raises), or on cancellation.
        while True:
            # At most `limit` awaitables running or finished but not taken:
            # memory stays O(limit) whatever the caller's pace. Ends when the
            # caller takes one.
            while len(finished) + (state["live"] - state["idle"]) >= limit:
                room.clear()
                await room.wait()
            async with pull:
                if state["exhausted"]:
                    return
                try:
                    awaitable = await source.__anext__()
                except StopAsyncIteration:
                    state["exhausted"] = True
                    return
            state["idle"] -= 1
            if state["idle"] == 0 and state["live"] < limit and not state["exhausted"]:
                start_worker()
            fut: "asyncio.Future[T]" = loop.create_future()
            # Runs only if the awaitable gives the loop a turn (it waits).
            waited = [False]
            probe = loop.call_soon(waited.__setitem__, 0, True)
            try:
                fut.set_result(await awaitable)
            except Exception as e:
                fut.set_exception(e)
            del awaitable
            finished.append(fut)
            state["idle"] += 1
            wake()
            if waited[0]:
                # It was woken with others, maybe (timers due together):
                # those finish before this worker starts the next one, as
                # with a queue between a producer and the workers.
                await asyncio.sleep(0)
            else:
                probe.cancel()

    start_worker()
    try:
        while True:
            while finished:
                fut = finished.popleft()
                room.set()
                yield fut
            if crashed:
                raise crashed[0]
            if state["live"] == 0:
                return
            # Ends when a worker finishes an awaitable or ends.
            waiter = loop.create_future()
            await waiter
            waiter = None
    finally:
        running = [w for w in workers if not w.done()]
        for w in running:
            w.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
