"""``pipework.paipa``: the threaded pipeline's counts, meta items, retries
and failures, exceptions raised as themselves, no thread outliving a run,
Ctrl-C, and the generator combinators."""

import itertools
import logging
import signal
import subprocess
import sys
import textwrap
import threading
import time
from unittest import mock

import pytest

from pipework.paipa import combine_pipeline, consume, debug_reporter, debugger, iterables, threaded


class Echo(threaded.AbstractStep):
    def process(self, entry):
        return entry


def test_every_item_passes_every_step(no_leftover_threads):
    out = []
    lock = threading.Lock()

    def collect(x):
        with lock:
            out.append(x)
        return x

    pipeline = threaded.Pipeline(
        [
            (Echo, 8),
            (threaded.iterstep(iterables.chunk(7)), 2),
            (threaded.iterstep(iterables.flatten), 1),
            (threaded.funcstep(collect), 3),
        ]
    )
    pipeline.put_iterable(range(1000))
    pipeline.run()
    assert pipeline.count == 1000
    assert sorted(out) == list(range(1000))


def test_put_put_all_and_finish(no_leftover_threads):
    pipeline = threaded.Pipeline([(threaded.funcstep(lambda x: x * 2), 2)])
    pipeline.put(1)
    pipeline.put_all([2, 3])
    pipeline.finish()
    pipeline.run()
    assert pipeline.count == 3


def test_run_without_input_is_refused():
    with pytest.raises(ValueError, match="filled"):
        threaded.Pipeline([(Echo, 1)]).run()


def test_meta_items_go_to_process_meta_and_count():
    seen = []

    class Step(threaded.AbstractStep):
        def process(self, entry):
            assert isinstance(entry, str)
            return entry

        def process_meta(self, entry):
            seen.append(entry)
            return entry

    pipeline = threaded.Pipeline([(Step, 3), (threaded.iterstep(iterables.flatten), 1)], max_retries=0)
    pipeline.put("ab")
    pipeline.put_meta(1)
    pipeline.put("c")
    pipeline.finish()
    pipeline.run()
    assert seen == [1]
    assert pipeline.count == 4  # a, b, c and the meta item


def test_a_step_exception_is_raised_as_itself_with_its_traceback(no_leftover_threads):
    boom = ValueError("what are you looking at")

    def crash(entry):
        raise boom

    pipeline = threaded.Pipeline([(threaded.funcstep(crash), 2)], max_retries=0)
    pipeline.put_all(range(100))
    pipeline.finish()
    with pytest.raises(ValueError) as info:
        pipeline.run()
    assert info.value is boom
    assert "crash" in "".join(__import__("traceback").format_tb(info.value.__traceback__))
    assert pipeline.ok is False


def test_retries_then_skip_and_log_unless_told_not_to(caplog):
    attempts = {}

    class Flaky(Exception):
        pass

    def flaky(x):
        attempts[x] = attempts.get(x, 0) + 1
        if x == 17:
            raise Flaky(x)
        return x

    pipeline = threaded.Pipeline([(threaded.funcstep(flaky), 1)], max_retries=2)
    pipeline.put_iterable(range(50))
    with caplog.at_level(logging.ERROR, logger="pipework.paipa.threaded"):
        pipeline.run()
    assert pipeline.count == 49
    assert attempts[17] == 3
    assert any(r.exc_info and r.exc_info[0] is Flaky for r in caplog.records)

    caplog.clear()
    quiet = threaded.Pipeline([(threaded.funcstep(flaky), 1)], max_retries=1, no_log_exceptions=(Flaky,))
    quiet.put_iterable(range(50))
    with caplog.at_level(logging.ERROR, logger="pipework.paipa.threaded"):
        quiet.run()
    assert quiet.count == 49
    assert not caplog.records


def test_skip_entry_drops_the_item_without_an_error():
    def odd_only(x):
        if x % 2 == 0:
            raise threaded.SkipEntry()
        return x

    pipeline = threaded.Pipeline([(threaded.funcstep(odd_only), 2)], max_retries=0)
    pipeline.put_iterable(range(10))
    pipeline.run()
    assert pipeline.count == 5


def test_a_failing_iterstep_stops_an_endless_source(no_leftover_threads):
    class Foo(Exception):
        pass

    def fails(items):
        for n, item in enumerate(items):
            if n > 100:
                raise Foo
            yield item

    pipeline = threaded.Pipeline([(threaded.iterstep(fails), 1)], max_retries=1)
    pipeline.put_iterable(itertools.count())
    with pytest.raises(Foo):
        pipeline.run()


def test_a_failing_source_is_raised_as_itself():
    def source():
        yield 1
        raise KeyError("source")

    pipeline = threaded.Pipeline([(Echo, 1)])
    pipeline.put_iterable(source())
    with pytest.raises(KeyError, match="source"):
        pipeline.run()


def test_hooks_run_once_per_step_and_per_thread():
    calls = []
    lock = threading.Lock()

    class Hooked(threaded.AbstractStep):
        def _log(self, what):
            with lock:
                calls.append(what)

        def step_initialize(self):
            self._log("step_initialize")

        def initialize(self, **options):
            self._log(("initialize", options.get("tag")))

        def thread_initialize(self):
            self._log("thread_initialize")

        def thread_shutdown(self):
            self._log("thread_shutdown")

        def step_shutdown(self):
            self._log("step_shutdown")

        def process(self, entry):
            return entry

    pipeline = threaded.Pipeline([(Hooked, 3, {"tag": "t"})])
    pipeline.put_iterable(range(10))
    pipeline.run()
    assert sorted(map(str, calls)) == sorted(
        map(str, ["step_initialize", "step_shutdown"] + [("initialize", "t"), "thread_initialize", "thread_shutdown"] * 3)
    )
    assert calls[-1] == "step_shutdown"


def test_the_gil_is_released_while_steps_wait():
    """A Python thread keeps running while the pipeline's threads block on
    each other (a slow last step, a full queue)."""
    ticks = 0
    stop = threading.Event()

    def ticker():
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0.001)

    t = threading.Thread(target=ticker)
    t.start()
    try:
        pipeline = threaded.Pipeline([(Echo, 1), (threaded.funcstep(lambda x: time.sleep(0.002) or x), 1)])
        pipeline.put_iterable(range(100))
        pipeline.run()
    finally:
        stop.set()
        t.join()
    assert ticks > 50


def test_background_run_is_fed_while_it_runs_and_stopped():
    pipeline = threaded.Pipeline([(Echo, 2)])
    with pipeline:
        for i in range(20):
            pipeline.put(i)
        assert pipeline.alive
    assert pipeline.count == 20


def test_ctrl_c_during_run_stops_within_a_second():
    script = textwrap.dedent(
        """
        import itertools, time
        from pipework.paipa import threaded
        def slow(x):
            if x == 0:
                print("ready", flush=True)
            time.sleep(0.05)
            return x
        p = threaded.Pipeline([(threaded.funcstep(slow), 4)])
        p.put_iterable(itertools.count())
        p.run()
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "ready\n"
        time.sleep(0.2)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
        # Generous: the issue asks for under a second on an idle machine.
        assert time.monotonic() - sent < 3
    finally:
        proc.kill()
        proc.wait()
    assert "KeyboardInterrupt" in err
    assert proc.returncode != 0


def test_chunk_ends_cleanly_and_refuses_a_size_below_one():
    assert list(iterables.chunk(3)(range(8))) == [[0, 1, 2], [3, 4, 5], [6, 7]]
    assert list(iterables.chunk(3)([])) == []
    with pytest.raises(ValueError):
        iterables.chunk(0)


def test_combine_pipeline_chains_steps_and_callable_sources():
    def evens(it):
        return (x for x in it if x % 2 == 0)

    def plus(it):
        return (x + 1 for x in it)

    assert list(combine_pipeline(range(10), [evens, [plus]])) == [1, 3, 5, 7, 9]
    made = combine_pipeline(range, [evens, plus])
    assert list(made(6)) == [1, 3, 5]


def test_debugger_reports_each_step_once_at_the_end():
    logger = mock.Mock()
    reporter = mock.Mock()
    dbg = debugger.PipelineRuntimeDebugger(reporters=[debug_reporter.LoggingReporter(logger), reporter])
    consume(combine_pipeline(range(10), [lambda x: x], debugger=dbg))
    assert reporter.show.call_count == 1
    ((info,), _) = reporter.show.call_args
    assert [(name, r["count"]) for name, r in info] == [("range", 10)]
    assert logger.info.call_count == 2
