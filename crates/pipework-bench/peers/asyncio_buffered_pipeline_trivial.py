"""buffered-trivial peer: asyncio-buffered-pipeline 0.0.8, the README's three
stages (range, x2, +3), each buffered with the default buffer of 1.

Usage: python asyncio_buffered_pipeline_trivial.py ITEMS
Prints one JSON line: {"items": ..., "check": sum of outputs, "seconds": ...}.
"""
import asyncio
import json
import sys
import time

from asyncio_buffered_pipeline import buffered_pipeline


async def gen_1(n):
    for value in range(n):
        yield value


async def gen_2(it):
    async for value in it:
        yield value * 2


async def gen_3(it):
    async for value in it:
        yield value + 3


async def main(n):
    count = total = 0
    start = time.perf_counter()
    buffer_iterable = buffered_pipeline()
    it_1 = buffer_iterable(gen_1(n))
    it_2 = buffer_iterable(gen_2(it_1))
    it_3 = buffer_iterable(gen_3(it_2))
    async for value in it_3:
        total += value
        count += 1
    return count, total, time.perf_counter() - start


if __name__ == "__main__":
    count, total, seconds = asyncio.run(main(int(sys.argv[1])))
    print(json.dumps({"items": count, "check": total, "seconds": seconds}))
