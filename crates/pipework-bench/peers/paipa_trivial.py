"""pipeline-trivial peer: paipa 0.3.3, three steps of one thread each adding 1.

Usage: python paipa_trivial.py ITEMS
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
    total = [0]

    def step1(x):
        return x + 1

    def step2(x):
        return x + 1

    def step3(x):
        y = x + 1
        total[0] += y  # one thread: no race
        return y

    pipeline = paipa.Pipeline(
        [(paipa.funcstep(step1), 1), (paipa.funcstep(step2), 1), (paipa.funcstep(step3), 1)],
        quiet=True,
    )
    pipeline.put_iterable(range(n))
    start = time.perf_counter()
    pipeline.run()
    seconds = time.perf_counter() - start
    print(json.dumps({"items": pipeline.count, "check": total[0], "seconds": seconds}))


if __name__ == "__main__":
    main()
