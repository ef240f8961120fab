"""dataflow-async peer: bytewax 0.21.1 with its documented workaround for
async calls: batch the items (collect, 100 at most, on one key) and run the
batch's calls with asyncio.run(asyncio.gather(...)) inside the step; each
call is a 10 ms asyncio.sleep. One worker (bytewax.testing.run_main).

Usage: python bytewax_async.py ITEMS
Prints one JSON line: {"items": ..., "check": sum of results, "seconds": ...}.
"""
import asyncio
import json
import sys
import time
from datetime import timedelta

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from bytewax.testing import TestingSource, run_main

totals = {"count": 0, "sum": 0}


class _CountPartition(StatelessSinkPartition):
    def write_batch(self, items):
        totals["count"] += len(items)
        totals["sum"] += sum(items)


class CountSink(DynamicSink):
    def build(self, step_id, worker_index, worker_count):
        return _CountPartition()


async def call(n):
    await asyncio.sleep(0.010)
    return n


async def call_all(batch):
    return await asyncio.gather(*(call(n) for n in batch))


def main(n):
    flow = Dataflow("dataflow_async")
    items = op.input("inp", flow, TestingSource(range(n), batch_size=100))
    keyed = op.key_on("one_key", items, lambda _n: "all")
    batches = op.collect("batch", keyed, timeout=timedelta(milliseconds=50), max_size=100)
    results = op.flat_map_value("call", batches, lambda batch: asyncio.run(call_all(batch)))
    values = op.map("unkey", results, lambda key_value: key_value[1])
    op.output("count", values, CountSink())
    start = time.perf_counter()
    run_main(flow)
    return time.perf_counter() - start


if __name__ == "__main__":
    seconds = main(int(sys.argv[1]))
    print(json.dumps({"items": totals["count"], "check": totals["sum"], "seconds": seconds}))
