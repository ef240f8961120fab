"""Runs a peer script unchanged against the `pipework` Python package.

Usage: python as_pipework.py SCRIPT ARGS...

The module names of the libraries the peers use (`paipa`,
`abstractions`, `asyncio_buffered_pipeline`) are pointed at
`pipework.paipa`, `pipework.abstractions` and
`pipework.asyncio_buffered_pipeline` by an import hook, so the script's own
`import` lines reach pipework: this is the one change a user makes.
"""
import importlib
import importlib.abc
import importlib.util
import runpy
import sys

ALIASES = {
    "paipa": "pipework.paipa",
    "abstractions": "pipework.abstractions",
    "asyncio_buffered_pipeline": "pipework.asyncio_buffered_pipeline",
}


class Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds `paipa.x` as `pipework.paipa.x` (and so on)."""

    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ALIASES:
            return importlib.util.spec_from_loader(name, self)
        return None

    def create_module(self, spec):
        top = spec.name.split(".")[0]
        return importlib.import_module(ALIASES[top] + spec.name[len(top):])

    def exec_module(self, module):
        pass


if __name__ == "__main__":
    sys.meta_path.insert(0, Alias())
    script = sys.argv[1]
    sys.argv = sys.argv[1:]
    runpy.run_path(script, run_name="__main__")
