"""pipework for Python: paipa, abstractions and asyncio-buffered-pipeline on
pipework's Rust engine.

Change the import, keep the code::

    from pipework.abstractions.storage import map_by_key_jsonl_file
    from pipework.asyncio_buffered_pipeline import buffered_pipeline
    from pipework.paipa import threaded

The package README says which parts run in Rust (``pipework._native``) and
which are Python, and why.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
