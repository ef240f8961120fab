"""``run_bounded``: many awaitables, at most ``limit`` running at once.

This is asyncio's own work (tasks on the caller's loop), so it is Python:
one task per running awaitable and ``asyncio.wait``, without the queues,
semaphore and worker tasks of the original, which is where its time went.
"""

import asyncio
from typing import AsyncIterator, Awaitable, Set, TypeVar

T = TypeVar("T")

__all__ = ["run_bounded"]


async def run_bounded(
    tasks: AsyncIterator[Awaitable[T]], limit: int
) -> AsyncIterator["asyncio.Future[T]"]:
    """Runs the awaitables ``tasks`` yields, at most ``limit`` at a time.

    Yields each one's future as it finishes (out of order); ``await`` it for
    its result or its exception, which arrives as itself. ``tasks`` is pulled
    only when fewer than ``limit`` run, so an endless or expensive source is
    read lazily. Stopping the iteration early (``break``, cancellation,
    an exception) cancels the awaitables still running and waits for them:
    none outlives the loop over ``run_bounded``.

    Raises ``ValueError`` if ``limit`` is not positive.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    source = tasks.__aiter__()
    running: Set["asyncio.Future[T]"] = set()
    exhausted = False
    try:
        while True:
            while not exhausted and len(running) < limit:
                try:
                    awaitable = await source.__anext__()
                except StopAsyncIteration:
                    exhausted = True
                    break
                running.add(asyncio.ensure_future(awaitable))
            if not running:
                return
            done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for fut in done:
                yield fut
    finally:
        for fut in running:
            fut.cancel()
        if running:
            # Ends when every cancelled awaitable has finished unwinding.
            await asyncio.gather(*running, return_exceptions=True)
