"""``run_bounded`` and ``buffered_pipeline``: bounded, lazy, out of order
where promised, and nothing left running after the loop over them."""

import asyncio

import pytest

from pipework.abstractions.async_abstractions import run_bounded
from pipework.asyncio_buffered_pipeline import buffered_pipeline


async def test_run_bounded_runs_at_most_limit_and_yields_in_finishing_order():
    running, peak, order = 0, 0, []

    async def task(i):
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.05 if i == 0 else 0.001)
        running -= 1
        return i

    async def tasks():
        for i in range(10):
            yield task(i)

    async for fut in run_bounded(tasks(), limit=3):
        order.append(await fut)
    assert peak == 3
    assert sorted(order) == list(range(10))
    # Task 0 is slow: the quick ones started with it come out first.
    assert order.index(0) > 0


async def test_run_bounded_pulls_its_source_lazily():
    pulled = 0

    async def endless():
        nonlocal pulled
        while True:
            pulled += 1
            yield asyncio.sleep(0, pulled)

    got = []
    async for fut in run_bounded(endless(), limit=2):
        got.append(await fut)
        if len(got) == 5:
            break
    assert pulled <= 5 + 2


async def test_run_bounded_hands_back_exceptions_as_themselves():
    boom = ValueError("boom")

    async def bad():
        raise boom

    async def tasks():
        yield bad()

    async for fut in run_bounded(tasks(), limit=1):
        with pytest.raises(ValueError) as info:
            await fut
        assert info.value is boom


async def test_leaving_run_bounded_early_cancels_what_still_runs():
    async def forever():
        await asyncio.Event().wait()

    async def quick():
        return 1

    async def tasks():
        yield quick()
        for _ in range(3):
            yield forever()

    gen = run_bounded(tasks(), limit=4)
    async for fut in gen:
        assert await fut == 1
        break
    await gen.aclose()
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_run_bounded_refuses_a_limit_below_one():
    async def tasks():
        yield asyncio.sleep(0)

    with pytest.raises(ValueError):
        async for _ in run_bounded(tasks(), limit=0):
            pass


async def numbers(n, log=None):
    for i in range(n):
        if log is not None:
            log.append(i)
        yield i


async def test_buffered_stages_keep_order_and_run_ahead_by_the_buffer():
    buffer = buffered_pipeline()
    log = []
    out = []
    async for value in buffer(numbers(6, log), buffer_size=2):
        await asyncio.sleep(0.01)
        out.append((value, len(log)))
    assert [v for v, _ in out] == list(range(6))
    # While the consumer holds item i, the stage has pulled up to i + 1 + 2.
    assert [pulled for _, pulled in out] == [min(i + 3, 6) for i in range(6)]


async def test_one_task_per_buffered_stage_and_none_after():
    buffer = buffered_pipeline()

    async def double(it):
        async for v in it:
            yield v * 2

    counts = []
    async for _ in buffer(double(buffer(numbers(5)))):
        await asyncio.sleep(0.01)
        counts.append(len(asyncio.all_tasks()))
    assert counts[0] == 3
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_an_exception_in_a_stage_reaches_the_consumer_and_stops_every_stage():
    buffer = buffered_pipeline()
    boom = KeyError("boom")

    async def fails(it):
        async for v in it:
            if v == 2:
                raise boom
            yield v

    with pytest.raises(KeyError) as info:
        async for _ in buffer(fails(buffer(numbers(100)))):
            pass
    assert info.value is boom
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_cancelling_the_consumer_cancels_every_stage():
    buffer = buffered_pipeline()
    started = asyncio.Event()

    async def stuck(it):
        async for v in it:
            started.set()
            await asyncio.Event().wait()
            yield v

    async def consume():
        async for _ in buffer(stuck(buffer(numbers(100)))):
            pass

    task = asyncio.create_task(consume())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert asyncio.all_tasks() == {asyncio.current_task()}
