"""abstractions' API (``async_abstractions``, ``iterables``, ``storage``) on
pipework: JSONL rows are parsed, rendered, locked and appended in Rust, and
the user's async ``f`` runs on the caller's asyncio loop.

Import ``pipework.abstractions.storage`` where the code imported
``abstractions.storage``; nothing else changes.
"""

from . import async_abstractions, iterables, storage

__all__ = ["async_abstractions", "iterables", "storage"]
