"""The job worker (inpaint_gui/workers.py): garbage is collected on the GUI
thread while jobs run. A collection on a job thread that frees a Qt object
caught in a reference cycle crashed the process (seen as a segfault in the
fine-tune dialog's test: "Garbage-collecting" on the worker thread)."""
from __future__ import annotations

import gc
import threading

from inpaint_gui.workers import GuiThreadCollector, Worker


class Cycle:
    """Garbage only the cyclic collector frees; notes the thread that freed it."""

    freed_on: list[str] = []

    def __init__(self):
        self.me = self

    def __del__(self):
        Cycle.freed_on.append(threading.current_thread().name)


def test_cycles_are_freed_on_the_gui_thread_while_a_job_allocates(qtbot):
    Cycle.freed_on.clear()
    allocated = threading.Event()

    def job(report, should_stop):
        garbage = [[i] for i in range(20000)]  # far past the collector's threshold
        allocated.set()
        while not should_stop():
            threading.Event().wait(0.01)
        return len(garbage)

    worker = Worker(job)
    done = []
    worker.done.connect(lambda: done.append(True))
    gc.collect()
    Cycle()  # unreachable at once: only a collection frees it, on whichever thread runs it
    worker.start()
    assert allocated.wait(10)
    assert not gc.isenabled()  # a job runs: no automatic collection on its thread
    qtbot.waitUntil(lambda: bool(Cycle.freed_on), timeout=5000)  # the GUI thread's timer collects
    assert Cycle.freed_on == [threading.main_thread().name]
    worker.cancel()
    qtbot.waitUntil(lambda: bool(done), timeout=5000)
    assert gc.isenabled() and GuiThreadCollector.running == 0  # back to normal once no job runs


def test_collection_stays_off_until_the_last_job_ends(qtbot):
    release = threading.Event()
    ended = []

    def job(report, should_stop):
        release.wait(10)

    first, second = Worker(job), Worker(job)
    for w in (first, second):
        w.done.connect(lambda: ended.append(True))
        w.start()
    assert not gc.isenabled() and GuiThreadCollector.running == 2
    release.set()
    qtbot.waitUntil(lambda: len(ended) == 2, timeout=5000)
    assert gc.isenabled() and GuiThreadCollector.running == 0
