"""Type stubs for ``pipework._native``, the Rust half of the package."""

from os import PathLike
from types import TracebackType
from typing import Any, Iterable, Iterator, Optional, Tuple, Type

def dumps(obj: Any) -> str:
    """``json.dumps(obj)`` with its default arguments, rendered in Rust."""

def loads(text: str) -> Any:
    """``json.loads(text)`` for one JSON value, parsed in Rust."""

class JsonlReader(Iterator[Tuple[int, Any]]):
    """A JSONL file read row by row: yields ``(line_number, value)``."""

    def __init__(self, path: str | PathLike[str], repair: bool = False) -> None: ...
    @property
    def repaired(self) -> Optional[str]:
        """What ``repair=True`` cut off the file, or ``None``."""
    def __iter__(self) -> "JsonlReader": ...
    def __next__(self) -> Tuple[int, Any]: ...

class Appender:
    """A locked JSONL destination, appended to one whole line per row."""

    def __init__(self, path: str | PathLike[str]) -> None: ...
    def write_rows(self, rows: Iterable[Any]) -> None:
        """Appends each row as a line, in one write."""
    def write_row(self, row: Any) -> None:
        """Appends one row as a line."""
    def tell(self) -> int:
        """The destination's length in bytes."""
    def truncate(self, length: int) -> None:
        """Cuts the destination to ``length`` bytes."""
    def close(self) -> None:
        """Syncs the file and releases the lock."""
    def __enter__(self) -> "Appender": ...
    def __exit__(
        self,
        exc_type: Optional[Type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool: ...

class ThreadedRun:
    """A running paipa pipeline on ``pipework::pipeline`` (driven by
    ``pipework.paipa.threaded.Pipeline``)."""

    def __init__(
        self,
        steps: list[tuple[str, bool, int, int, bool, Any, Any, Any]],
        skip: type,
        items: list[tuple[bool, Any]],
        source: Optional[Iterable[Any]] = None,
        queue: int = 64,
    ) -> None: ...
    def put(self, value: Any, meta: bool = False) -> None:
        """Puts one item into the running pipeline."""
    def finish(self) -> None:
        """Closes the input."""
    @property
    def alive(self) -> bool:
        """Whether no step has failed and some thread still runs."""
    def wait(self) -> int:
        """Waits for the end; returns the count out of the last step."""
