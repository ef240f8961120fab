"""The resumable JSONL functions of ``pipework.abstractions.storage``: the
behaviours abstractions' users rely on, files made by either library
resumed by the other, locking, torn lines and interruption."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest

from pipework.abstractions.storage import (
    create_or_resume_jsonl_file,
    disk_cache,
    flatmap_by_key_jsonl_file,
    flatmap_jsonl_file,
    map_by_key_jsonl_file,
    run_bounded_create_or_resume_jsonl_file,
)

SRC_ROWS = [
    {"key": 10, "other": "A", "discarded": "X"},
    {"key": 20, "other": "B", "discarded": "Y"},
    {"key": 10, "other": "C", "discarded": "Z"},
]


def write_jsonl(path: Path, rows, dumps=json.dumps) -> Path:
    path.write_text("".join(dumps(row) + "\n" for row in rows))
    return path


def abstractions_line(row, key, keep, result) -> str:
    """The line abstractions writes for a source row and a result."""
    partial = {k: row[k] for k in keep}
    partial[key] = row[key]
    return json.dumps({**partial, **result})


async def plus_one(row):
    return {"result": row["key"] + 1, "key": row["key"]}


@pytest.fixture
def src(tmp_path):
    return write_jsonl(tmp_path / "in.jsonl", SRC_ROWS)


async def test_map_writes_abstractions_lines_byte_for_byte(src, tmp_path):
    dst = tmp_path / "out.jsonl"
    rows = [
        {"key": "é", "other": [1.5, None, "€"], "x": 1},
        {"key": 2, "other": {"b": 1, "a": 1e16}, "x": 2},
    ]
    write_jsonl(src, rows)

    async def f(row):
        return {"z": 1, "a": "😀", "other": row["other"]}

    await map_by_key_jsonl_file(src, dst, f, key="key", num_concurrent=2, keep_columns=["other"], on_error="raise")
    expected = [abstractions_line(r, "key", ["other"], await f(r)) for r in rows]
    assert dst.read_text().splitlines() == expected


async def test_map_calls_f_once_per_key_and_writes_every_row_in_source_order(src, tmp_path):
    dst = tmp_path / "out.jsonl"
    calls = Counter()

    async def f(row):
        calls[row["key"]] += 1
        return await plus_one(row)

    await map_by_key_jsonl_file(src, dst, f, key="key", num_concurrent=1, keep_columns=["other"], on_error="raise")
    assert calls == {10: 1, 20: 1}
    assert [json.loads(l)["other"] for l in dst.read_text().splitlines()] == ["A", "B", "C"]


async def test_map_calls_run_concurrently_up_to_the_bound(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [{"key": i} for i in range(20)])
    running, peak = 0, 0

    async def f(row):
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1
        return {}

    await map_by_key_jsonl_file(src, tmp_path / "out.jsonl", f, key="key", num_concurrent=4, keep_columns=[], on_error="raise")
    assert peak == 4


async def test_map_resumes_an_abstractions_destination_without_calling_done_keys(src, tmp_path):
    dst = tmp_path / "out.jsonl"
    dst.write_text(json.dumps({"other": "A", "key": 10, "result": 11}) + "\n")
    calls = Counter()

    async def f(row):
        calls[row["key"]] += 1
        return await plus_one(row)

    await map_by_key_jsonl_file(src, dst, f, key="key", num_concurrent=1, keep_columns=["other"], on_error="raise")
    assert calls == {20: 1}
    expected = [abstractions_line(r, "key", ["other"], {"result": r["key"] + 1, "key": r["key"]}) for r in SRC_ROWS]
    assert Counter(dst.read_text().splitlines()) == Counter(expected)


async def test_map_resume_of_a_reordered_destination_works_from_keys(src, tmp_path):
    """A destination whose fields were rewritten (sorted keys) still says
    which keys are done and what their result is."""
    dst = tmp_path / "out.jsonl"
    dst.write_text(json.dumps({"other": "A", "key": 10, "result": 11}, sort_keys=True) + "\n")
    await map_by_key_jsonl_file(src, dst, plus_one, key="key", num_concurrent=1, keep_columns=["other"], on_error="raise")
    rows = [json.loads(l) for l in dst.read_text().splitlines()]
    assert sorted((r["key"], r["other"], r["result"]) for r in rows) == [(10, "A", 11), (10, "C", 11), (20, "B", 21)]


async def test_a_complete_destination_is_left_alone(src, tmp_path):
    dst = tmp_path / "out.jsonl"
    await map_by_key_jsonl_file(src, dst, plus_one, key="key", num_concurrent=1, keep_columns=["other"], on_error="raise")
    before = dst.read_bytes()

    async def never(row):
        raise AssertionError("called again")

    await map_by_key_jsonl_file(src, dst, never, key="key", num_concurrent=1, keep_columns=["other"], on_error="raise")
    assert dst.read_bytes() == before


async def test_map_cuts_a_torn_last_line_and_recomputes_it(src, tmp_path, capsys):
    dst = tmp_path / "out.jsonl"
    dst.write_text(json.dumps({"other": "A", "key": 10, "result": 11}) + '\n{"other": "B", "ke')
    await map_by_key_jsonl_file(src, dst, plus_one, key="key", num_concurrent=1, keep_columns=["other"], on_error="raise")
    assert len(dst.read_text().splitlines()) == 3
    assert "torn" in capsys.readouterr().err


async def test_f_error_raise_is_an_exception_group_of_f_s_own_exception(src, tmp_path):
    dst = tmp_path / "out.jsonl"
    boom = RuntimeError("boom")

    async def f(row):
        if row["key"] == 20:
            raise boom
        return await plus_one(row)

    with pytest.raises(ExceptionGroup) as info:
        await map_by_key_jsonl_file(src, dst, f, key="key", num_concurrent=1, keep_columns=["other"], on_error="raise")
    assert info.value.exceptions == (boom,)
    assert info.value.exceptions[0].__traceback__ is not None
    # The rows of the key that did finish are written; the failed one's are not.
    assert [json.loads(l)["key"] for l in dst.read_text().splitlines()] == [10, 10]
    # And the next run computes only the failed key.
    calls = Counter()

    async def g(row):
        calls[row["key"]] += 1
        return await plus_one(row)

    await map_by_key_jsonl_file(src, dst, g, key="key", num_concurrent=1, keep_columns=["other"], on_error="raise")
    assert calls == {20: 1}
    assert len(dst.read_text().splitlines()) == 3


async def test_f_error_print_skips_the_key_and_reports_progress(src, tmp_path, capsys):
    dst = tmp_path / "out.jsonl"
    seen = []

    async def f(row):
        if row["key"] == 10:
            raise RuntimeError("boom")
        return await plus_one(row)

    await map_by_key_jsonl_file(
        src, dst, f, key="key", num_concurrent=2, keep_columns=["other"], on_error="print", progress=seen.append
    )
    assert [json.loads(l)["key"] for l in dst.read_text().splitlines()] == [20]
    assert sorted(seen) == [False, False, True]
    assert "boom" in capsys.readouterr().err


async def test_bad_input_names_file_and_line(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"key": 1}\n{"nokey": 2}\n')
    with pytest.raises(KeyError, match=r"in\.jsonl:2"):
        await map_by_key_jsonl_file(src, tmp_path / "out.jsonl", plus_one, key="key", num_concurrent=1, keep_columns=[], on_error="raise")


async def test_a_second_run_on_one_destination_is_refused(src, tmp_path):
    dst = tmp_path / "out.jsonl"
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow(row):
        started.set()
        await release.wait()
        return {}

    first = asyncio.create_task(
        map_by_key_jsonl_file(src, dst, slow, key="key", num_concurrent=1, keep_columns=[], on_error="raise")
    )
    await started.wait()
    with pytest.raises(BlockingIOError, match="in use"):
        await map_by_key_jsonl_file(src, dst, plus_one, key="key", num_concurrent=1, keep_columns=[], on_error="raise")
    release.set()
    await first
    assert not (tmp_path / "out.jsonl.lock").exists()


async def test_cancelling_a_map_cancels_its_calls_and_leaves_dst_resumable(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [{"key": i} for i in range(10)])
    dst = tmp_path / "out.jsonl"
    gate = asyncio.Event()

    async def f(row):
        if row["key"] >= 5:
            await gate.wait()
        return {"v": row["key"]}

    run = asyncio.create_task(map_by_key_jsonl_file(src, dst, f, key="key", num_concurrent=3, keep_columns=[], on_error="raise"))
    while not dst.exists() or len(dst.read_text().splitlines()) < 5:
        await asyncio.sleep(0.005)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert asyncio.all_tasks() == {asyncio.current_task()}
    gate.set()
    await map_by_key_jsonl_file(src, dst, f, key="key", num_concurrent=3, keep_columns=[], on_error="raise")
    assert [json.loads(l)["v"] for l in dst.read_text().splitlines()] == list(range(10))


def test_ctrl_c_stops_a_map_within_a_second_and_leaves_dst_resumable(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [{"key": i} for i in range(1000)])
    dst = tmp_path / "out.jsonl"
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        from pipework.abstractions.storage import map_by_key_jsonl_file
        async def f(row):
            if row["key"] < 3:
                return {{"v": row["key"]}}
            if row["key"] == 3:
                # Rows 0 to 2 are written by the time this sleep ends.
                await asyncio.sleep(0.2)
                print("ready", flush=True)
            await asyncio.sleep(60)
        asyncio.run(map_by_key_jsonl_file({str(src)!r}, {str(dst)!r}, f, key="key", num_concurrent=4, keep_columns=[], on_error="raise"))
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "ready\n"
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
        # Generous: the issue asks for under a second on an idle machine.
        assert time.monotonic() - sent < 3
    finally:
        proc.kill()
        proc.wait()
    assert "KeyboardInterrupt" in err
    assert [json.loads(l)["v"] for l in dst.read_text().splitlines()] == [0, 1, 2]
    assert not (tmp_path / "out.jsonl.lock").exists()


# flatmap ----------------------------------------------------------------


async def two_rows(row):
    return [{"result": row["key"] + 1, "key": row["key"]}, {"result": row["key"] + 2, "key": row["key"]}]


async def test_flatmap_writes_abstractions_lines_and_a_done_log(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", SRC_ROWS[:2])
    dst = tmp_path / "out.jsonl"
    await flatmap_by_key_jsonl_file(src, dst, two_rows, key="key", num_concurrent=2, keep_columns=["other"], on_error="raise")
    expected = [abstractions_line(r, "key", ["other"], res) for r in SRC_ROWS[:2] for res in await two_rows(r)]
    assert dst.read_text().splitlines() == expected
    log = [json.loads(l) for l in (tmp_path / "out.jsonl.done").read_text().splitlines()]
    assert [(r["key"], r["rows"]) for r in log] == [(10, 2), (20, 2)]
    assert log[-1]["end"] == dst.stat().st_size


async def test_flatmap_cuts_rows_of_a_key_cut_short_and_recomputes_it(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", SRC_ROWS[:2])
    dst = tmp_path / "out.jsonl"
    await flatmap_by_key_jsonl_file(src, dst, two_rows, key="key", num_concurrent=1, keep_columns=["other"], on_error="raise")
    complete = dst.read_text()
    # A run killed after key 20's first row: the row is there, its record is not.
    log = tmp_path / "out.jsonl.done"
    log.write_text(log.read_text().splitlines(keepends=True)[0])
    dst.write_text("".join(complete.splitlines(keepends=True)[:3]))
    calls = Counter()

    async def f(row):
        calls[row["key"]] += 1
        return await two_rows(row)

    await flatmap_jsonl_file(src, dst, f, key="key", num_concurrent=1, keep_columns=["other"], on_error="raise")
    assert calls == {20: 1}
    assert dst.read_text() == complete


async def test_flatmap_resumes_an_abstractions_destination_and_records_its_keys(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", SRC_ROWS[:2])
    dst = tmp_path / "out.jsonl"
    write_jsonl(dst, [{"other": "A", "key": 10, "result": 11}, {"other": "A", "key": 10, "result": 12}])
    calls = Counter()

    async def f(row):
        calls[row["key"]] += 1
        return await two_rows(row)

    await flatmap_by_key_jsonl_file(src, dst, f, key="key", num_concurrent=1, keep_columns=["other"], on_error="raise")
    await flatmap_by_key_jsonl_file(src, dst, f, key="key", num_concurrent=1, keep_columns=["other"], on_error="raise")
    assert calls == {20: 1}
    assert len(dst.read_text().splitlines()) == 4


async def test_flatmap_records_a_key_with_no_rows_and_never_calls_it_again(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", SRC_ROWS[:2])
    dst = tmp_path / "out.jsonl"
    calls = Counter()

    async def f(row):
        calls[row["key"]] += 1
        return [] if row["key"] == 10 else await two_rows(row)

    for _ in range(2):
        await flatmap_by_key_jsonl_file(src, dst, f, key="key", num_concurrent=1, keep_columns=[], on_error="raise")
    assert calls == {10: 1, 20: 1}


async def test_flatmap_refuses_a_repeated_key(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", SRC_ROWS)
    with pytest.raises(ValueError, match=r"in\.jsonl:3.*twice"):
        await flatmap_by_key_jsonl_file(src, tmp_path / "o.jsonl", two_rows, key="key", num_concurrent=1, keep_columns=[], on_error="raise")


# create_or_resume -------------------------------------------------------


def generator_of(key_name, calls):
    async def generate(counts):
        for value, count in counts:
            for _ in range(count):
                calls[value] += 1

                async def make(v=value):
                    return {key_name: v, "text": f"row of {v}"}

                yield make()

    return generate


async def test_create_then_resume_makes_exactly_key_count_rows_per_key(tmp_path):
    path = tmp_path / "data.jsonl"
    write_jsonl(path, [{"letter": "a", "text": "row of a"}])
    calls = Counter()
    await create_or_resume_jsonl_file(path, "letter", 2, iter("abc"), generator_of("letter", calls), on_error="raise")
    assert calls == {"a": 1, "b": 2, "c": 2}
    assert Counter(json.loads(l)["letter"] for l in path.read_text().splitlines()) == {"a": 2, "b": 2, "c": 2}
    assert path.read_text().splitlines()[1] == json.dumps({"letter": "a", "text": "row of a"})


async def test_create_or_resume_rejects_unknown_and_surplus_keys(tmp_path):
    path = write_jsonl(tmp_path / "data.jsonl", [{"letter": "z"}])
    with pytest.raises(ValueError, match="key_generator does not"):
        await create_or_resume_jsonl_file(path, "letter", 1, iter("ab"), generator_of("letter", Counter()), on_error="raise")
    path = write_jsonl(tmp_path / "data.jsonl", [{"letter": "a"}, {"letter": "a"}])
    with pytest.raises(ValueError, match="more entries"):
        await create_or_resume_jsonl_file(path, "letter", 1, iter("ab"), generator_of("letter", Counter()), on_error="raise")


async def test_run_bounded_create_or_resume_runs_the_rows_concurrently(tmp_path):
    path = tmp_path / "data.jsonl"
    running, peak = 0, 0

    async def generate(counts):
        for value, count in counts:
            for i in range(count):

                async def make(v=value, i=i):
                    nonlocal running, peak
                    running += 1
                    peak = max(peak, running)
                    await asyncio.sleep(0.01)
                    running -= 1
                    return {"k": v, "i": i}

                yield make()

    await run_bounded_create_or_resume_jsonl_file(path, "k", 3, iter(range(4)), generate, limit=5, on_error="raise")
    assert peak == 5
    assert Counter(json.loads(l)["k"] for l in path.read_text().splitlines()) == {0: 3, 1: 3, 2: 3, 3: 3}


# disk_cache -------------------------------------------------------------


def test_disk_cache_computes_once_then_loads(tmp_path):
    cache = tmp_path / "cache.pkl"
    calls = []

    def run():
        with disk_cache(cache):
            a = calls.append("a") or 6
            b = [a, 7]
        return a, b

    assert run() == (6, [6, 7])
    assert run() == (6, [6, 7])
    assert calls == ["a"]


class NoEq:
    def __eq__(self, other):
        raise RuntimeError("compared")

    __ne__ = __eq__


def test_disk_cache_never_compares_values(tmp_path):
    before = NoEq()
    with disk_cache(tmp_path / "c.pkl"):
        before = NoEq()
    assert isinstance(before, NoEq)


def test_disk_cache_keeps_nothing_when_the_block_raises(tmp_path):
    cache = tmp_path / "c.pkl"
    with pytest.raises(ZeroDivisionError):
        with disk_cache(cache):
            x = 1 / 0
    assert not cache.exists()
