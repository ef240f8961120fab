"""Shared fixtures: what a test leaves running is checked after it."""

import os
import time

import pytest


def os_threads() -> int:
    """Threads of this process, Rust ones included (threading sees only
    Python's)."""
    return len(os.listdir("/proc/self/task"))


@pytest.fixture
def no_leftover_threads():
    """Fails the test if it leaves more OS threads than it found."""
    before = os_threads()
    yield
    # A joined thread is gone from /proc at once; the bound only covers
    # the kernel's bookkeeping, it never waits for a thread to end.
    deadline = time.monotonic() + 2.0
    while os_threads() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert os_threads() <= before, f"{os_threads() - before} thread(s) outlived the test"
