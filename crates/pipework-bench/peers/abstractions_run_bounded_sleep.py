"""run-bounded-sleep peer: abstractions 0.9.0 run_bounded, 10 ms sleeping tasks, limit 1000.

Usage: python abstractions_run_bounded_sleep.py ITEMS
Prints one JSON line: {"items": ..., "check": sum of results, "seconds": ...}.
"""
import asyncio
import json
import sys
import time

from abstractions.async_abstractions import run_bounded


async def task(i):
    await asyncio.sleep(0.010)
    return i


async def tasks(n):
    for i in range(n):
        yield task(i)


async def main(n):
    count = total = 0
    start = time.perf_counter()
    async for result in run_bounded(tasks(n), limit=1000):
        total += await result
        count += 1
    return count, total, time.perf_counter() - start


if __name__ == "__main__":
    count, total, seconds = asyncio.run(main(int(sys.argv[1])))
    print(json.dumps({"items": count, "check": total, "seconds": seconds}))
