"""Let Snakemake exit as soon as its workflow is done (the Snakefile's onsuccess/onerror).

Snakemake's job scheduler ends every scheduling round by starting a ``threading.Timer`` that
wakes the scheduler again after the job-rate limiter's timespan (``--max-jobs-per-timespan``,
by default 1 s; JobScheduler._schedule_reevalutation). The timer thread is not a daemon, so
when the run is over the interpreter waits for the last one to fire before it exits: every
``snakemake`` run, successful or not, took about 1 s longer than its last job.

:func:`cancel_rescheduling_timers` cancels those timers and only those (recognised by the
scheduler's method in the timer's callback). Called from the workflow's ``onsuccess`` and
``onerror`` handlers, after the scheduler has returned, it changes nothing but the wait: a
cancelled timer would only have woken a scheduler that is no longer running.
"""

from __future__ import annotations

import threading

#: the scheduler method whose timers are cancelled (Snakemake spells it this way; the
#: correct spelling is accepted too, should it be fixed)
_METHODS = ("_schedule_reevalutation", "_schedule_reevaluation")


def _is_rescheduling_timer(thread: threading.Thread) -> bool:
    function = getattr(thread, "function", None)
    qualname = getattr(function, "__qualname__", "")
    return isinstance(thread, threading.Timer) and any(f".{m}." in qualname for m in _METHODS)


def cancel_rescheduling_timers() -> int:
    """Cancel Snakemake's pending scheduler re-evaluation timers; returns how many."""
    timers = [t for t in threading.enumerate() if _is_rescheduling_timer(t)]
    for timer in timers:
        timer.cancel()
    return len(timers)


__all__ = ["cancel_rescheduling_timers"]
