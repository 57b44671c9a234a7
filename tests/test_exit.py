"""The exit hook that spares every run Snakemake's last rate-limiter timer (up to 1 s)."""

from __future__ import annotations

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
