"""paipa's API on pipework: ``threaded.Pipeline`` runs on
``pipework::pipeline`` (queues and threads in Rust, the GIL released around
every wait); the generator combinators (``combine_pipeline``, ``iterables``,
``debugger``) are Python, as they run the caller's generators in its thread.
"""

from . import debug_reporter, debugger, iterables, threaded
from .coroutines import combine_pipeline, identity_step
from .debugger import PipelineRuntimeDebugger
from .iterables import chunk, consume, flatten
from .threaded import AbstractStep, Pipeline, SkipEntry, funcstep, iterstep

__all__ = [
    "AbstractStep",
    "Pipeline",
    "PipelineRuntimeDebugger",
    "SkipEntry",
    "chunk",
    "combine_pipeline",
    "consume",
    "debug_reporter",
    "debugger",
    "flatten",
    "funcstep",
    "identity_step",
    "iterables",
    "iterstep",
    "threaded",
]
