"""paipa's threaded pipeline, run by pipework's Rust engine.

``Pipeline([(Step, n_threads), ...])`` builds one ``pipework::pipeline``
step per entry: its threads are Rust threads joined by bounded queues
(64 items, paipa's threshold), each taking the GIL only to call the step's
``process`` and releasing it for every queue wait. Items are Python
objects; meta items (``put_meta``) go to ``process_meta`` and pass through
iterator steps untouched.

Errors follow paipa: with ``max_retries=0`` the first exception of a step
stops the pipeline (every thread ends, queued items are dropped) and
``run()`` raises that exception itself, with its traceback; with
``max_retries=n`` an item is retried up to ``n`` times, then logged and
skipped (``no_log_exceptions`` names exception types not to log). An
``iterstep`` generator that raises always stops the run (a finished
generator cannot go on). ``SkipEntry`` raised by ``process`` drops the
item. Unlike paipa 0.3.3: no thread outlives ``run()``, an endless
``put_iterable`` source stops being pulled as soon as a step fails, and
``Ctrl-C`` during ``run()`` drops the queued items and raises
``KeyboardInterrupt`` once the step calls under way have returned.
"""

import logging
import threading
from collections import namedtuple
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Type, Union

from .. import _native

logger = logging.getLogger(__name__)

__all__ = [
    "AbstractIterStep",
    "AbstractStep",
    "Pipeline",
    "SiblingInfo",
    "SkipEntry",
    "funcstep",
    "iterstep",
]

SiblingInfo = namedtuple("SiblingInfo", ["index", "storage", "threads"])
"""A step thread's index, the dict its step's threads share, and the
list of its step's instances."""


class SkipEntry(Exception):
    """Raised by ``process`` to drop the item without an error."""


class AbstractStep:
    """A pipeline step: subclass it and implement ``process(entry)``,
    which returns the item to pass on.

    One instance is made per thread, on that thread. Hooks, in order:
    ``step_initialize`` (once per step, on its first instance),
    ``initialize(**step_options)`` (each instance), ``thread_initialize``
    (each thread, before its first item), ``process``/``process_meta`` per
    item, ``thread_shutdown`` (each thread, when its input is done) and
    ``step_shutdown`` (once, after the step's last thread).

    ``self.sibling`` is a ``SiblingInfo``; ``self.options`` holds the
    pipeline's extra keyword arguments.
    """

    def __init__(
        self,
        in_queue: Any = None,
        out_queue: Any = None,
        sibling: Optional[SiblingInfo] = None,
        counter: Any = None,
        max_retries: int = 10,
        threshold: int = 64,
        tracker: Any = None,
        **kw: Any,
    ):
        self.sibling = sibling if sibling is not None else SiblingInfo(0, {}, [])
        self._max_retries = max_retries
        self._threshold = threshold
        self.options = kw
        self.done = False

    def step_initialize(self) -> None:
        """Called once per step, on its first instance."""

    def initialize(self, **options: Any) -> None:
        """Called on each instance with the step's options (the third
        element of its ``(step, threads, options)`` entry)."""

    def thread_initialize(self) -> None:
        """Called on each thread before its first item."""

    def thread_shutdown(self) -> None:
        """Called on each thread once its input is done."""

    def step_shutdown(self) -> None:
        """Called once, after the step's last thread."""

    def process_meta(self, entry: Any) -> Any:
        """Processes a meta item; by default passes it on."""
        return entry

    def process(self, entry: Any) -> Any:
        """Processes one item and returns what to pass on."""
        raise NotImplementedError


class AbstractIterStep(AbstractStep):
    """A step whose ``process(iterator)`` gets an iterator over the step's
    input and returns (or is a generator of) its outputs."""

    _pipework_iterator = True


def funcstep(func: Callable[[Any], Any], base: Type[AbstractStep] = AbstractStep) -> Type[AbstractStep]:
    """A step class whose ``process`` is ``func(item)``."""
    name = getattr(func, "__name__", type(func).__name__)
    return type(name, (base,), {"process": staticmethod(func)})


def iterstep(func: Callable[[Iterator[Any]], Iterable[Any]]) -> Type[AbstractStep]:
    """A step class whose ``process`` is ``func(iterator)``, a generator
    over the step's input (``iterables.chunk(10)``, ``iterables.flatten``)."""
    return funcstep(func, base=AbstractIterStep)


def is_step(step: Any) -> bool:
    """Whether ``step`` is a step class."""
    return isinstance(step, type) and issubclass(step, AbstractStep)


StepDef = Union[Tuple[Type[AbstractStep], int], Tuple[Type[AbstractStep], int, Dict[str, Any]]]


class Pipeline:
    """A threaded pipeline of steps, each ``(StepClass, n_threads)`` or
    ``(StepClass, n_threads, options)``.

    Feed it with ``put``, ``put_meta``, ``put_all`` (eager) or
    ``put_iterable`` (lazy, endless sources too), then ``finish()`` and
    ``run()``; or ``run_forever(background=True)`` (or ``with pipeline:``),
    feed it while it runs, and ``stop()``. ``count`` is the number of items
    out of the last step.

    Raises ``ValueError`` for an unknown step or a thread count below 1.
    """

    def __init__(
        self,
        steps: Sequence[StepDef],
        in_queue: Any = None,
        daemon: bool = False,
        quiet: bool = False,
        fail_callback: Callable[[], None] = lambda: None,
        max_retries: int = 10,
        no_log_exceptions: Tuple[Type[BaseException], ...] = (),
        **kw: Any,
    ):
        if in_queue is not None:
            raise ValueError("in_queue is not supported: feed the pipeline with put() and friends")
        self.steps: List[Any] = list(steps)
        for step_def in self.steps:
            if len(step_def) not in (2, 3) or not is_step(step_def[0]):
                raise ValueError(f"Invalid step definition: {step_def!r}")
            if not isinstance(step_def[1], int) or step_def[1] < 1:
                raise ValueError(f"a step needs at least 1 thread: {step_def!r}")
        self.ok = True
        self.count = 0
        self.options = kw
        self._daemon = daemon
        self._fail_callback = fail_callback
        self._max_retries = max_retries
        self._no_log = tuple(no_log_exceptions)
        self._items: List[Tuple[bool, Any]] = []
        self._source: Optional[Iterator[Any]] = None
        self._finished = False
        self._run: Optional[Any] = None
        self._background: Optional[threading.Thread] = None
        self._error: Optional[BaseException] = None
        self._stopping = threading.Event()

    # Feeding -----------------------------------------------------------

    def put(self, element: Any) -> None:
        """Puts one item in."""
        self._put(element, False)

    def put_meta(self, element: Any) -> None:
        """Puts one meta item in (handed to ``process_meta``)."""
        self._put(element, True)

    def put_all(self, iterable: Iterable[Any]) -> None:
        """Puts every item of ``iterable`` in, now."""
        for element in iterable:
            self._put(element, False)

    def put_iterable(self, iterable: Iterable[Any], **kw: Any) -> None:
        """Feeds the pipeline from ``iterable``, pulled one item at a time
        as the first queue has room (an endless iterator is fine)."""
        if self._source is not None:
            raise ValueError("put_iterable was already called on this pipeline")
        self._source = iter(iterable)

    def finish(self) -> None:
        """Closes the input: the run ends once everything put is done."""
        self._finished = True
        if self._run is not None:
            self._run.finish()

    def _put(self, element: Any, meta: bool) -> None:
        if self._run is None:
            self._items.append((meta, element))
        else:
            self._run.put(element, meta)

    # Running -----------------------------------------------------------

    def _step_specs(self) -> List[Tuple[Any, ...]]:
        specs = []
        pipeline_options = dict(self.options)
        for i, step_def in enumerate(self.steps):
            step, threads = step_def[0], step_def[1]
            step_options = step_def[2] if len(step_def) == 3 else {}
            specs.append(self._spec(i, step, threads, step_options, pipeline_options))
        return specs

    def _spec(self, i: int, step: Type[AbstractStep], threads: int, step_options: Dict[str, Any], options: Dict[str, Any]) -> Tuple[Any, ...]:
        storage: Dict[Any, Any] = {}
        instances: List[AbstractStep] = []
        lock = threading.Lock()
        max_retries = self._max_retries
        no_log = self._no_log

        def make(index: int) -> AbstractStep:
            instance = step(
                None,
                None,
                sibling=SiblingInfo(index, storage, instances),
                counter=None,
                max_retries=max_retries,
                **options,
            )
            with lock:
                first = not instances
                instances.append(instance)
            if first:
                instance.step_initialize()
            instance.initialize(**step_options)
            return instance

        def teardown() -> None:
            for instance in instances:
                instance.done = True
            if instances:
                instances[0].step_shutdown()

        def failed(exc: BaseException, instance: AbstractStep) -> None:
            if max_retries and not isinstance(exc, no_log):
                logger.error("Error in %s.process", type(instance).__name__, exc_info=exc)

        iterator = bool(getattr(step, "_pipework_iterator", False))
        name = f"{i}:{step.__name__}"
        return (name, iterator, threads, max_retries, max_retries > 0, make, teardown, failed)

    def _start(self) -> Any:
        if self._run is not None:
            raise RuntimeError("the pipeline is already running")
        if not (self._finished or self._source is not None):
            raise ValueError("Pipeline must be filled with entries.")
        items, self._items = self._items, []
        run = _native.ThreadedRun(self._step_specs(), SkipEntry, items, self._source)
        self._run = run
        if self._finished:
            run.finish()
        return run

    def run(self) -> None:
        """Runs the pipeline until its input is done and every thread has
        ended; sets ``count``. Raises the first exception of a step (or of
        the ``put_iterable`` iterator) as itself."""
        run = self._start()
        try:
            self.count = run.wait()
        except KeyboardInterrupt:
            self.ok = False
            raise
        except BaseException:
            self.ok = False
            try:
                self._fail_callback()
            except Exception:
                logger.exception("fail_callback raised")
            raise
        finally:
            self._run = None

    def run_forever(self, background: bool = False) -> None:
        """Runs the pipeline; with ``background=True`` starts it and
        returns, to be fed while it runs and ended with ``stop()``."""
        if not background:
            self.finish()
            self.run()
            return
        if self._background is not None:
            raise RuntimeError("already running")
        self._finished = False
        items, self._items = self._items, []
        self._run = run = _native.ThreadedRun(self._step_specs(), SkipEntry, items, self._source)

        stopping = self._stopping = threading.Event()

        def wait() -> None:
            # The run is fed through `put` until stop() finishes its input.
            stopping.wait()
            try:
                self.count = run.wait()
            except BaseException as e:  # handed to stop()
                self.ok = False
                self._error = e

        # Ends when stop() finishes the input and the pipeline has drained.
        self._background = threading.Thread(target=wait, name="paipa-background", daemon=self._daemon)
        self._background.start()

    def stop(self) -> None:
        """Finishes the input of a background run and waits for it; raises
        the run's first exception."""
        if self._background is None:
            raise ValueError("No background thread running.")
        run = self._run
        if run is not None:
            run.finish()
        self._stopping.set()
        self._background.join()
        self._background = None
        self._run = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    @property
    def alive(self) -> bool:
        """Whether a run is going and no step has failed."""
        return self._run is not None and self._run.alive

    def __enter__(self) -> "Pipeline":
        self.run_forever(background=True)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
