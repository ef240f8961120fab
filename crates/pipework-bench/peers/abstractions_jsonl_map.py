"""jsonl-map peer: abstractions 0.9.0 map_by_key_jsonl_file, key "id",
keep "text", f returns {"double": 2 * id}, 64 calls at once.

Usage: python abstractions_jsonl_map.py ROWS INPUT
Writes the output in a fresh temporary directory, then reads it back.
Prints one JSON line: {"items": output rows, "check": sum of "double", "seconds": ...}.
"""
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

from abstractions.storage import map_by_key_jsonl_file


async def double(row):
    return {"double": 2 * row["id"]}


async def main(src, dst):
    start = time.perf_counter()
    await map_by_key_jsonl_file(
        src,
        dst,
        f=double,
        key="id",
        num_concurrent=64,
        keep_columns=["text"],
        on_error="raise",
    )
    return time.perf_counter() - start


if __name__ == "__main__":
    src = Path(sys.argv[2])
    with tempfile.TemporaryDirectory(prefix="pipework-bench-") as tmp:
        dst = Path(tmp) / "out.jsonl"
        seconds = asyncio.run(main(src, dst))
        count = total = 0
        with dst.open() as f:
            for line in f:
                total += json.loads(line)["double"]
                count += 1
    print(json.dumps({"items": count, "check": total, "seconds": seconds}))
