"""Iterator helpers: ``chunk``, ``flatten``, ``consume``.

Unlike paipa 0.3.3, ``chunk`` ends cleanly on Python 3.7 and later (its
generator returns instead of leaking ``StopIteration``, PEP 479).
"""

import collections
import itertools
from typing import Any, Callable, Iterable, Iterator, List, Optional, TypeVar

T = TypeVar("T")

__all__ = ["chunk", "consume", "flatten", "is_iterable", "recursive_flatten"]


def flatten(iterables: Iterable[Iterable[T]]) -> Iterator[T]:
    """The items of each iterable in turn: ``[[1, 2], [3]]`` gives 1, 2, 3."""
    return itertools.chain.from_iterable(iterables)


def is_iterable(value: Any) -> bool:
    """Whether ``iter(value)`` works (strings are iterable)."""
    try:
        iter(value)
    except TypeError:
        return False
    return True


def recursive_flatten(items: Iterable[Any]) -> Iterator[Any]:
    """Flattens nested iterables at any depth, leaving strings whole."""
    for item in items:
        if is_iterable(item) and not isinstance(item, (str, bytes)):
            yield from recursive_flatten(item)
        else:
            yield item


def chunk(chunk_size: int = 32) -> Callable[[Iterable[T]], Iterator[List[T]]]:
    """A function that cuts an iterable into lists of ``chunk_size`` items
    (the last may be shorter). Raises ``ValueError`` if ``chunk_size < 1``."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size can not be less than 1, got {chunk_size}")

    def chunker(items: Iterable[T]) -> Iterator[List[T]]:
        it = iter(items)
        while True:
            batch = list(itertools.islice(it, chunk_size))
            if not batch:
                return
            yield batch

    return chunker


def consume(iterator: Iterable[Any], n: Optional[int] = None) -> None:
    """Advances ``iterator`` by ``n`` items, or to its end if ``n`` is None."""
    if n is None:
        collections.deque(iterator, maxlen=0)
    else:
        next(itertools.islice(iterator, n, n), None)
