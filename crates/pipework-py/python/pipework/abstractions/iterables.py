"""Iterables: ``batches`` over epochs, and ``recv_dict_vec`` for the batched
``map`` of Hugging Face datasets.

Both are plain Python: they run the caller's code once per item, so a
boundary into Rust per item would only add cost.
"""

from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, TypeVar

T = TypeVar("T")

__all__ = ["batches", "recv_dict_vec"]


def batches(iterable: Iterable[T], *, batch_size: int, epochs: int) -> Iterator[List[T]]:
    """Yields lists of ``batch_size`` items from ``epochs`` passes over ``iterable``.

    A batch may hold the end of one epoch and the start of the next; only the
    last batch may be shorter. An iterable that is read once (a generator)
    gives one epoch. Raises ``ValueError`` if ``batch_size`` or ``epochs`` is
    not positive, or if a later pass yields fewer items than the first.
    """
    if batch_size <= 0:
        raise ValueError(f"batch_size must be greater than 0, got {batch_size}")
    if epochs <= 0:
        raise ValueError(f"epochs must be greater than 0, got {epochs}")
    batch: List[T] = []
    first_len: Optional[int] = None
    for epoch in range(epochs):
        n = 0
        for item in iterable:
            n += 1
            batch.append(item)
            if len(batch) == batch_size:
                yield batch
                batch = []
        if first_len is None:
            first_len = n
        elif 0 < n < first_len:
            raise ValueError(
                f"epoch 1 had {first_len} items, but epoch {epoch + 1} had {n} items"
            )
    if batch:
        yield batch


def recv_dict_vec(
    out_keys: List[str], f: Callable[[Dict[str, Any]], Optional[Dict[str, Any]]]
) -> Callable[[Dict[str, List[Any]]], Dict[str, List[Any]]]:
    """Wraps a per-item ``f`` as a function of a dict of columns.

    The wrapper takes ``{"a": [a1, a2], "b": [b1, b2]}``, calls
    ``f({"a": a1, "b": b1})`` and ``f({"a": a2, "b": b2})``, and gathers
    the ``out_keys`` of each result into a dict of lists; an item for which
    ``f`` returns ``None`` is left out. Raises ``KeyError`` if a result lacks
    one of ``out_keys``.
    """

    def wrapper(batch: Dict[str, List[Any]]) -> Dict[str, List[Any]]:
        result: Dict[str, List[Any]] = {k: [] for k in out_keys}
        columns = list(batch)
        if not columns:
            return result
        for i in range(len(batch[columns[0]])):
            out = f({c: batch[c][i] for c in columns})
            if out is None:
                continue
            for k in out_keys:
                result[k].append(out[k])
        return result

    return wrapper
