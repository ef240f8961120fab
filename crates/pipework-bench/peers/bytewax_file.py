"""dataflow-file peer: bytewax 0.21.1, FileSource -> map(len) -> a sink that
counts lines and sums lengths; one worker (bytewax.testing.run_main).

Usage: python bytewax_file.py LINES INPUT
Prints one JSON line: {"items": lines counted, "check": sum of lengths, "seconds": ...}.
"""
import json
import sys
import time

import bytewax.operators as op
from bytewax.connectors.files import FileSource
from bytewax.dataflow import Dataflow
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from bytewax.testing import run_main

totals = {"count": 0, "sum": 0}


class _CountPartition(StatelessSinkPartition):
    def write_batch(self, items):
        totals["count"] += len(items)
        totals["sum"] += sum(items)


class CountSink(DynamicSink):
    def build(self, step_id, worker_index, worker_count):
        return _CountPartition()


def main(path):
    flow = Dataflow("dataflow_file")
    lines = op.input("lines", flow, FileSource(path))
    lengths = op.map("len", lines, len)
    op.output("count", lengths, CountSink())
    start = time.perf_counter()
    run_main(flow)
    return time.perf_counter() - start


if __name__ == "__main__":
    seconds = main(sys.argv[2])
    print(json.dumps({"items": totals["count"], "check": totals["sum"], "seconds": seconds}))
