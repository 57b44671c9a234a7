"""Exit hooks: no wait for Snakemake's last rate-limiter timer (up to 1 s), no collections
at interpreter shutdown (0.1-0.3 s per process)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

from netregions.workflow import release_scheduler_timers


class JobScheduler:  # stands in for Snakemake's scheduler: the same method name
    def _schedule_reevalutation(self, delay: float) -> threading.Timer:
        timer = threading.Timer(delay, lambda: None)
        timer.start()
        return timer


def test_only_the_schedulers_pending_timers_are_cancelled():
    scheduler_timer = JobScheduler()._schedule_reevalutation(30)
    other = threading.Timer(30, print)
    other.start()
    try:
        start = time.perf_counter()
        assert release_scheduler_timers() == 1
        scheduler_timer.join(timeout=5)
        assert not scheduler_timer.is_alive() and time.perf_counter() - start < 5
        assert other.is_alive()
    finally:
        other.cancel()
        scheduler_timer.cancel()


def test_the_heap_is_frozen_after_the_other_exit_handlers_once():
    code = """
import atexit, gc
from netregions.workflow import skip_exit_collections
atexit.register(lambda: print("frozen at exit:", gc.get_freeze_count() > 0))
before = atexit._ncallbacks()
skip_exit_collections()
skip_exit_collections()
print("handlers added:", atexit._ncallbacks() - before, "frozen now:", gc.get_freeze_count() > 0)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == [
        "handlers added: 1 frozen now: False",
        "frozen at exit: True",
    ]
