"""Resumable JSONL files and ``disk_cache``.

The JSONL functions keep abstractions' signatures and file layout: every
line is what ``json.dumps`` writes for the row (``", "`` and ``": "``,
``ensure_ascii``, kept columns, then the key, then ``f``'s fields), so a
file begun by abstractions is resumed here and the other way round.

What runs where: lines are parsed, rendered, appended and synced in Rust
(``pipework._native``), each finished row handed to the OS in one ``write``
with the GIL released, so a killed run loses no finished row; the
destination is locked against a second run (``DST.lock`` and the file
itself, the locks pipework's CLI and Rust engine take, so a Python run and
a CLI run of one destination exclude each other). The user's async ``f``
runs as tasks on the caller's asyncio loop, at most ``num_concurrent`` at
a time.

Resume reads the destination first and cuts a torn last line (a row a
killed run left half-written). ``map_by_key_jsonl_file`` then works from
the keys present, not from a line count: a key with rows in the
destination is never computed again, its first rows stand for its first
source rows, and every source row ends up in the destination once.
``flatmap_by_key_jsonl_file`` keeps ``DST.done`` (one line per finished
key, the Rust engine's done log) so that a key whose rows were cut short
is recomputed; a destination without one (made by abstractions) is taken
as abstractions takes it: every key with a row is done.

Errors: with ``on_error="print"`` a failed call is printed to stderr and
its key's rows are left out (the next run retries them). With
``on_error="raise"`` the first failure stops the run: no new call starts,
calls already running finish and are written, then an ``ExceptionGroup``
holding ``f``'s exception itself (with its traceback) is raised, as
abstractions' task group raises one. Cancellation (``Ctrl-C`` under
``asyncio.run``) cancels the running calls, syncs and unlocks the file and
leaves it resumable.
"""

import asyncio
import collections
import ctypes
import inspect
import pickle
import sys
from pathlib import Path
from typing import (
    Any,
    AsyncIterator,
    Awaitable,
    Callable,
    Deque,
    Dict,
    Iterator,
    List,
    Literal,
    Optional,
    Protocol,
    Set,
    Tuple,
    Union,
)

from .. import _native
from .async_abstractions import run_bounded

__all__ = [
    "OnError",
    "RowGenerator",
    "create_or_resume_jsonl_file",
    "disk_cache",
    "flatmap_by_key_jsonl_file",
    "flatmap_jsonl_file",
    "map_by_key_jsonl_file",
    "run_bounded_create_or_resume_jsonl_file",
]

OnError = Literal["print", "raise"]
"""How a failure is handled: printed to stderr and skipped, or raised."""

PathLike = Union[str, Path]

# Rows written in one `write` at most (they are written sooner when the
# run next waits for a call).
_WRITE_BATCH = 1024

# A call still running (see map_by_key_jsonl_file).
_PENDING = object()

# Source rows read ahead of the oldest row not yet written. A row waits in
# this window for its key's result, so the window bounds memory when one
# call is slow; it is far larger than any sensible ``num_concurrent``.
_WINDOW = 4096


class RowGenerator(Protocol):
    """Makes rows for ``create_or_resume_jsonl_file``: given ``(key, count)``
    pairs, yields ``count`` awaitable rows for each key."""

    def __call__(self, new_value_counts: List[Tuple[Any, int]]) -> AsyncIterator[Awaitable[dict]]: ...


def _check_on_error(on_error: str) -> None:
    if on_error not in ("print", "raise"):
        raise ValueError(f'on_error must be "print" or "raise", got {on_error!r}')


def _reporter(progress: Optional[Callable[[bool], None]]) -> Callable[..., None]:
    """``report(ok, n=1)``: tells ``progress`` (if any) of ``n`` rows, each ok or not."""

    def report(ok: bool, n: int = 1) -> None:
        if progress is not None:
            for _ in range(n):
                progress(ok)

    return report


def _check_concurrency(num_concurrent: int) -> None:
    if not isinstance(num_concurrent, int) or num_concurrent < 1:
        raise ValueError(f"num_concurrent must be a positive int, got {num_concurrent!r}")


def _repair_notice(reader: "_native.JsonlReader") -> None:
    if reader.repaired is not None:
        print(reader.repaired, file=sys.stderr)


def _key_of(row: Any, key: str, path: Path, line: int) -> Any:
    if not isinstance(row, dict):
        raise ValueError(f"{path}:{line}: a row must be a JSON object, not {type(row).__name__}")
    try:
        return row[key]
    except KeyError:
        raise KeyError(f"{path}:{line}: row has no {key!r} column") from None


def _kept(row: dict, keep_columns: List[str], path: Path, line: int) -> dict:
    try:
        return {k: row[k] for k in keep_columns}
    except KeyError as e:
        raise KeyError(f"{path}:{line}: row has no {e.args[0]!r} column (keep_columns)") from None


class _Calls:
    """The running calls of ``f``: started up to a bound, each a task on
    the running loop, with the first failure kept for ``on_error="raise"``."""

    def __init__(self, f: Callable[[dict], Awaitable[Any]], limit: int, on_error: OnError):
        self.f = f
        self.limit = limit
        self.on_error = on_error
        self.running: Set["asyncio.Task[Any]"] = set()
        self.failures: List[Exception] = []

    def start(self, row: dict) -> "asyncio.Task[Any]":
        task = asyncio.ensure_future(self.f(row))
        self.running.add(task)
        task.add_done_callback(self._done(row))
        return task

    def _done(self, row: dict) -> Callable[["asyncio.Task[Any]"], None]:
        def done(task: "asyncio.Task[Any]") -> None:
            self.running.discard(task)
            if task.cancelled():
                return
            exc = task.exception()
            if exc is None:
                return
            if not isinstance(exc, Exception):
                # KeyboardInterrupt and friends end the run at once: the
                # task group of the loop re-raises them.
                return
            if self.on_error == "print":
                print(f"Error applying f to {row}: {exc!r}", file=sys.stderr)
            else:
                self.failures.append(exc)

        return done

    @property
    def stopping(self) -> bool:
        return bool(self.failures)

    async def wait_for_room(self) -> None:
        """Waits until fewer than ``limit`` calls run (ends: a call ends)."""
        while len(self.running) >= self.limit:
            await asyncio.wait(set(self.running), return_when=asyncio.FIRST_COMPLETED)

    async def wait_one(self, task: "asyncio.Future[Any]") -> None:
        """Waits for ``task`` (ends: it finishes or is cancelled)."""
        await asyncio.wait({task})

    async def finish(self) -> None:
        """Waits for every running call (they are paid for)."""
        while self.running:
            await asyncio.wait(set(self.running))

    async def cancel(self) -> None:
        """Cancels the running calls and waits until they have unwound."""
        running = list(self.running)
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)

    def raise_failures(self, what: str) -> None:
        if self.failures:
            raise ExceptionGroup(f"{what}: f failed", self.failures)


def _result_of(task: "asyncio.Future[Any]") -> Optional[Any]:
    """A finished call's result, or ``None`` if it failed."""
    if task.cancelled() or task.exception() is not None:
        return None
    return task.result()


async def map_by_key_jsonl_file(
    src: PathLike,
    dst: PathLike,
    f: Callable[[dict], Awaitable[dict]],
    *,
    key: str,
    num_concurrent: int,
    keep_columns: List[str],
    on_error: OnError,
    progress: Optional[Callable[[bool], None]] = None,
) -> None:
    """Calls ``f`` once per distinct value of ``key`` in ``src`` and writes one
    row per source row to ``dst``: the row's ``keep_columns``, its key, then
    the fields of ``f``'s result for that key (``f`` wins on a clash).

    Rows are written in source order, each as soon as its key's result is
    known. If ``dst`` exists the run resumes it: keys with rows in ``dst``
    are not computed again (their result is read from their first row) and
    only the source rows not yet in ``dst`` are written. ``progress(True)``
    is called for each row found in ``dst`` and each row written,
    ``progress(False)`` for each row left out because its key failed.

    Raises ``BlockingIOError`` if another run holds ``dst``, ``ValueError``
    for invalid JSON (naming file and line) or a bad argument, ``KeyError``
    for a row without the key or a kept column, and, with
    ``on_error="raise"``, an ``ExceptionGroup`` of ``f``'s exception.
    """
    _check_on_error(on_error)
    _check_concurrency(num_concurrent)
    src, dst = Path(src), Path(dst)
    keep_columns = list(keep_columns)
    kept = set(keep_columns)

    report = _reporter(progress)

    with _native.Appender(dst) as out:
        # Resume: per key, how many rows dst holds and the result its first
        # row carries.
        results: Dict[Any, "asyncio.Future[Any]"] = {}
        in_dst: Dict[Any, int] = {}
        loop = asyncio.get_running_loop()
        reader = _native.JsonlReader(dst, repair=True)
        _repair_notice(reader)
        for line, row in reader:
            k = _key_of(row, key, dst, line)
            if k not in in_dst:
                in_dst[k] = 0
                fut = loop.create_future()
                fut.set_result({c: v for c, v in row.items() if c != key and c not in kept})
                results[k] = fut
            in_dst[k] += 1
            report(True)

        calls = _Calls(f, num_concurrent, on_error)
        # Each key's result once its call has finished (None: it failed).
        resolved: Dict[Any, Optional[dict]] = {}
        # Rows read but not placed yet, in source order: (partial row, key).
        pending: Deque[Tuple[dict, Any]] = collections.deque()
        # Rows placed but not written: written together before the loop next
        # waits (so a row never waits for a call to be handed to the OS),
        # or every _WRITE_BATCH rows.
        ready: List[dict] = []
        failed = 0

        def result_of(k: Any) -> Any:
            """``k``'s result, None if it failed, _PENDING if running."""
            if k in resolved:
                return resolved[k]
            task = results[k]
            if not task.done():
                return _PENDING
            result = resolved[k] = _result_of(task)
            return result

        def write() -> None:
            nonlocal failed
            if ready:
                out.write_rows(ready)
                report(True, len(ready))
                ready.clear()
            if failed:
                report(False, failed)
                failed = 0

        def place() -> None:
            nonlocal failed
            while pending:
                partial, k = pending[0]
                result = result_of(k)
                if result is _PENDING:
                    break
                pending.popleft()
                if result is None:
                    failed += 1
                else:
                    ready.append({**partial, **result})

        try:
            for line, row in _native.JsonlReader(src):
                if calls.stopping:
                    break
                k = _key_of(row, key, src, line)
                left = in_dst.get(k, 0)
                if left:
                    in_dst[k] = left - 1
                    continue
                partial = _kept(row, keep_columns, src, line)
                partial[key] = k
                if not pending and k in resolved:
                    # The common case once keys repeat: nothing waits ahead.
                    result = resolved[k]
                    if result is None:
                        failed += 1
                    else:
                        ready.append({**partial, **result})
                    if len(ready) >= _WRITE_BATCH:
                        write()
                    continue
                if k not in results:
                    if len(calls.running) >= num_concurrent:
                        place()
                        write()
                        await calls.wait_for_room()
                    if calls.stopping:
                        break
                    results[k] = calls.start(row)
                pending.append((partial, k))
                place()
                if len(ready) >= _WRITE_BATCH:
                    write()
                while len(pending) >= _WINDOW and not calls.stopping:
                    write()
                    await calls.wait_one(results[pending[0][1]])
                    place()
            place()
            write()
            await calls.finish()
            place()
            write()
        except (asyncio.CancelledError, KeyboardInterrupt):
            await calls.cancel()
            place()
            write()
            raise
        except Exception:
            await calls.finish()
            place()
            write()
            raise
        calls.raise_failures("map_by_key_jsonl_file")


def _done_log_path(dst: Path) -> Path:
    return dst.with_name(dst.name + ".done")


class _DoneLog:
    """``DST.done``: one ``{"key": K, "rows": N, "end": BYTES}`` line per
    finished key, appended after the key's rows, as pipework's engine
    keeps it; ``end`` is the destination's length once they were written."""

    def __init__(self, path: Path):
        self.path = path
        self.file = path.open("ab", buffering=0)

    def record(self, key: Any, rows: int, end: int) -> None:
        line = _native.dumps({"key": key, "rows": rows, "end": end}) + "\n"
        # One unbuffered write per record: a kill leaves at most a torn
        # last record, which the next run cuts.
        self.file.write(line.encode("ascii"))

    def close(self) -> None:
        import os

        try:
            os.fsync(self.file.fileno())
        finally:
            self.file.close()


def _resume_flatmap(out: "_native.Appender", dst: Path, key: str, report: Callable[[bool, int], None]) -> Tuple[Set[Any], List[Tuple[Any, int]]]:
    """The keys ``dst`` holds all rows of, and the keys of an abstractions
    destination (no done log) that the log must be told about."""
    log = _done_log_path(dst)
    dst_len = out.tell()
    done: Set[Any] = set()
    if log.exists():
        reader = _native.JsonlReader(log, repair=True)
        _repair_notice(reader)
        end = 0
        kept_bytes = 0
        offset = 0
        with log.open("rb") as raw:
            lengths = [len(l) for l in raw]
        for (line, record), length in zip(reader, lengths):
            offset += length
            if not isinstance(record, dict) or "key" not in record or not isinstance(record.get("end"), int):
                raise ValueError(f"{log}:{line}: not a done-log record ({{\"key\": K, \"rows\": N, \"end\": BYTES}})")
            if record["end"] > dst_len:
                # The destination lost what this record counts (it was
                # cut or restored): the key and those after it run again.
                break
            done.add(record["key"])
            end = max(end, record["end"])
            kept_bytes = offset
        if kept_bytes < offset or kept_bytes < sum(lengths):
            with log.open("r+b") as raw:
                raw.truncate(kept_bytes)
        if dst_len > end:
            print(f"{dst}: cut {dst_len - end} bytes of rows of no finished key (from {log})", file=sys.stderr)
            out.truncate(end)
        n = 0
        for line, row in _native.JsonlReader(dst):
            n += 1
        report(True, n)
        return done, []
    counts: Dict[Any, int] = {}
    for line, row in _native.JsonlReader(dst):
        k = _key_of(row, key, dst, line)
        counts[k] = counts.get(k, 0) + 1
    report(True, sum(counts.values()))
    return set(counts), list(counts.items())


async def flatmap_by_key_jsonl_file(
    src: PathLike,
    dst: PathLike,
    f: Callable[[dict], Awaitable[List[dict]]],
    *,
    key: str,
    num_concurrent: int,
    keep_columns: List[str],
    on_error: OnError,
    progress: Optional[Callable[[bool], None]] = None,
) -> None:
    """Calls ``f`` once per row of ``src`` (keys must be unique) and writes
    each of the dicts it returns as a row of ``dst``: the source row's
    ``keep_columns``, its key, then the dict's fields (``f`` wins on a clash).

    A key's rows are written together, in source order of the keys, then
    recorded in ``DST.done``; a key whose ``f`` returned ``[]`` is recorded
    too and never called again. Resuming skips recorded keys and cuts rows
    of a key cut short. ``progress`` is called as for
    ``map_by_key_jsonl_file`` (``False`` once per failed key).

    Raises as ``map_by_key_jsonl_file``, plus ``ValueError`` for a key seen
    twice in ``src`` (printed instead with ``on_error="print"``) and
    ``TypeError`` if ``f`` returns something other than a list of dicts.
    """
    _check_on_error(on_error)
    _check_concurrency(num_concurrent)
    src, dst = Path(src), Path(dst)
    keep_columns = list(keep_columns)

    report = _reporter(progress)

    with _native.Appender(dst) as out:
        if _native.JsonlReader(dst, repair=True).repaired is not None:
            print(f"{dst}: cut a torn last line", file=sys.stderr)
        done, adopted = _resume_flatmap(out, dst, key, report)
        log = _DoneLog(_done_log_path(dst))
        try:
            end = out.tell()
            for k, n in adopted:
                log.record(k, n, end)
            calls = _Calls(f, num_concurrent, on_error)
            pending: Deque[Tuple[dict, Any, "asyncio.Task[Any]"]] = collections.deque()
            seen: Set[Any] = set()

            def flush() -> None:
                while pending and pending[0][2].done():
                    partial, k, task = pending.popleft()
                    result = _result_of(task)
                    if result is None:
                        report(False)
                        continue
                    if not isinstance(result, list) or not all(isinstance(r, dict) for r in result):
                        raise TypeError(
                            f"f must return a list of dicts, got {type(result).__name__} for key {k!r}"
                        )
                    rows = [{**partial, **r} for r in result]
                    if rows:
                        out.write_rows(rows)
                        report(True, len(rows))
                    log.record(k, len(rows), out.tell())

            try:
                for line, row in _native.JsonlReader(src):
                    if calls.stopping:
                        break
                    k = _key_of(row, key, src, line)
                    if k in seen:
                        message = f"{src}:{line}: key {k!r} appears twice (flatmap keys must be unique)"
                        if on_error == "raise":
                            raise ValueError(message)
                        print(message, file=sys.stderr)
                        continue
                    seen.add(k)
                    if k in done:
                        continue
                    partial = _kept(row, keep_columns, src, line)
                    partial[key] = k
                    await calls.wait_for_room()
                    flush()
                    if calls.stopping:
                        break
                    pending.append((partial, k, calls.start(row)))
                    flush()
                    while len(pending) >= _WINDOW and not calls.stopping:
                        await calls.wait_one(pending[0][2])
                        flush()
                await calls.finish()
                flush()
            except (asyncio.CancelledError, KeyboardInterrupt):
                await calls.cancel()
                flush()
                raise
            except Exception:
                await calls.finish()
                flush()
                raise
        finally:
            log.close()
        calls.raise_failures("flatmap_by_key_jsonl_file")


flatmap_jsonl_file = flatmap_by_key_jsonl_file
"""abstractions 0.9's name for ``flatmap_by_key_jsonl_file``."""


def _error(on_error: OnError, message: str) -> None:
    if on_error == "raise":
        raise ValueError(message)
    print(message, file=sys.stderr)


async def create_or_resume_jsonl_file(
    file_name: PathLike,
    key_name: str,
    key_count: int,
    key_generator: Iterator[Any],
    value_generator: RowGenerator,
    *,
    on_error: OnError,
) -> None:
    """Makes ``file_name`` hold exactly ``key_count`` rows per key of
    ``key_generator``, each row a dict with the key in ``key_name``.

    ``value_generator`` gets the ``(key, count)`` pairs still missing and
    yields awaitables of rows; each row is appended as soon as it is
    awaited. Resuming counts the rows per key already in the file (a torn
    last line is cut first). A row whose key ``key_generator`` does not
    give, or one more than ``key_count`` for its key, is an error
    (``ValueError``, or printed with ``on_error="print"``).

    Raises ``BlockingIOError`` if another run holds the file and
    ``ValueError`` for invalid JSON, naming file and line.
    """
    _check_on_error(on_error)
    path = Path(file_name)
    with _native.Appender(path) as out:
        needed: Dict[Any, int] = {k: key_count for k in key_generator}
        reader = _native.JsonlReader(path, repair=True)
        _repair_notice(reader)
        for line, row in reader:
            value = _key_of(row, key_name, path, line)
            if value not in needed:
                _error(on_error, f"{path}:{line}: {path} has {value}, but key_generator does not")
                continue
            if needed[value] == 0:
                _error(on_error, f"{path}:{line}: {path} has more entries for {value} than key_generator demands")
                continue
            needed[value] -= 1
        missing = [(k, n) for k, n in needed.items() if n > 0]
        async for awaitable in value_generator(missing):
            out.write_row(await awaitable)


async def run_bounded_create_or_resume_jsonl_file(
    file_name: PathLike,
    key_name: str,
    key_count: int,
    key_generator: Iterator[Any],
    value_generator: RowGenerator,
    *,
    limit: int,
    on_error: OnError,
) -> None:
    """``create_or_resume_jsonl_file`` with the awaitables of
    ``value_generator`` run ``limit`` at a time by ``run_bounded``; rows
    are appended in the order they finish."""

    async def bounded(new_value_counts: List[Tuple[Any, int]]) -> AsyncIterator[Awaitable[dict]]:
        async for fut in run_bounded(value_generator(new_value_counts), limit=limit):
            yield fut

    await create_or_resume_jsonl_file(
        file_name,
        key_name,
        key_count,
        key_generator,
        bounded,
        on_error=on_error,
    )


class _CacheHit(Exception):
    """Raised by the trace hook to skip a ``disk_cache`` block whose
    bindings were loaded from the cache."""


class disk_cache:
    """Caches the variables a ``with`` block binds, in a pickle at ``path``.

    The first run executes the block and pickles every local it bound or
    rebound (compared by identity, so objects whose ``==`` raises are fine).
    Later runs load those bindings into the caller's frame and skip the
    block. Delete the file to recompute. Python, not Rust: the work is
    Python's own (frames, tracing, pickle). The file is written to a
    temporary name and renamed, so a crash never leaves a torn cache.

    ::

        with disk_cache("cache.pkl"):
            a = expensive_computation()
    """

    def __init__(self, path: PathLike):
        self._path = Path(path)
        self._frame: Any = None
        self._before: Dict[str, Any] = {}
        self._skipping = False
        self._saved_trace: Any = None
        self._saved_frame_trace: Any = None

    def __enter__(self) -> "disk_cache":
        caller = inspect.currentframe()
        self._frame = caller.f_back if caller is not None else None
        del caller
        if self._frame is None:
            raise RuntimeError("disk_cache must be used inside a function or module")
        self._before = dict(self._frame.f_locals)
        if not self._path.exists():
            return self
        with self._path.open("rb") as fp:
            cached = pickle.load(fp)
        self._frame.f_locals.update(cached)
        # f_locals is a snapshot in a function frame; this writes it back to
        # the frame's fast locals (CPython < 3.13; on 3.13 f_locals writes
        # through and this is harmless).
        locals_to_fast = getattr(ctypes.pythonapi, "PyFrame_LocalsToFast", None)
        if locals_to_fast is not None:
            locals_to_fast(ctypes.py_object(self._frame), ctypes.c_int(0))
        self._skip_block()
        return self

    def _skip_block(self) -> None:
        self._skipping = True
        target = self._frame
        self._saved_trace = sys.gettrace()
        self._saved_frame_trace = target.f_trace
        saved = self._saved_trace

        def trace(frame: Any, event: str, arg: Any) -> Any:
            if frame is target and event == "line":
                raise _CacheHit()
            return saved(frame, event, arg) if saved is not None else trace

        sys.settrace(trace)
        target.f_trace = trace

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        frame, self._frame = self._frame, None
        try:
            if self._skipping:
                sys.settrace(self._saved_trace)
                frame.f_trace = self._saved_frame_trace
                return isinstance(exc, _CacheHit)
            if exc is not None:
                return False
            after = frame.f_locals
            bound = {
                name: value
                for name, value in after.items()
                if name not in self._before or value is not self._before[name]
            }
            if bound:
                tmp = self._path.with_name(self._path.name + ".tmp")
                with tmp.open("wb") as fp:
                    pickle.dump(bound, fp)
                tmp.replace(self._path)
            return False
        finally:
            self._skipping = False
            self._before = {}
            del frame
