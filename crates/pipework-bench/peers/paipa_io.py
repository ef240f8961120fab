"""pipeline-io peer: paipa 0.3.3, one step of 256 threads, 10 ms sleep per item.

Usage: python paipa_io.py ITEMS
Prints one JSON line: {"items": ..., "check": sum of outputs, "seconds": ...}.
"""
import json
import sys
import threading
import time

# paipa 0.3.3 calls Thread.isAlive, which Python 3.9 removed; restore it as an
# alias of is_alive so the library runs unchanged on this interpreter.
threading.Thread.isAlive = threading.Thread.is_alive

import paipa  # noqa: E402  (must come after the patch above)


def main():
    n = int(sys.argv[1])
    done = []

    def slow(x):
        time.sleep(0.010)
        done.append(x)  # list.append is atomic under the GIL
        return x

    pipeline = paipa.Pipeline([(paipa.funcstep(slow), 256)], quiet=True)
    pipeline.put_iterable(range(n))
    start = time.perf_counter()
    pipeline.run()
    seconds = time.perf_counter() - start
    print(json.dumps({"items": pipeline.count, "check": sum(done), "seconds": seconds}))


if __name__ == "__main__":
    main()
