"""Embedded jobs, isolated: each job slot is a child process that loads the models once and runs the
server's jobs one at a time.

A model or OpenCV call that crashes natively (a segfault, an abort) kills that child, never the server:
the job fails with the reason, the slot starts a new child, every other job and stream goes on. The
child reads and writes the job database and storage itself (as a queue worker does), so events reach
the clients the same way; a job's cancellation is its row going away (DELETE), which the child sees at
its next progress event. Children are started with ``spawn`` (no copy of the server's threads), end
with the server (a closed pipe, or their parent gone) and never outlive it.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import shutil
import signal
import threading
import time
from multiprocessing.connection import wait
from pathlib import Path

from nvwa.service.db import TERMINAL

log = logging.getLogger("nvwa.service")
GRACE_S = 60.0  # past the job's time limit, a child that does not stop by itself is killed


def _child_main(settings, models_factory, conn, parent_pid: int, tmp_root: str) -> None:
    """A job slot: load the models, say ready, run each job id received until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the server decides
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the worker's handler, inherited by name
    import socket

    from nvwa.service import jobs as jobs_module
    from nvwa.service.db import JobStore
    from nvwa.service.jobs import JobRunner
    from nvwa.service.storage import make_storage

    jobs_module.WORKER_NAME = f"{socket.gethostname()}:{parent_pid}"

    if models_factory is None:
        from nvwa.service.app import models_for

        def models_factory():
            return models_for(settings)

    runner = JobRunner(settings, JobStore(settings.db_url), make_storage(settings), models_factory,
                       tmp_root=Path(tmp_root), parent_pid=parent_pid)
    try:
        runner.warm_up()
    except Exception as exc:  # told to the server, which fails the jobs with it
        conn.send(("load_error", f"the models could not be loaded: {' '.join(str(exc).split()) or type(exc).__name__}"))
        return
    conn.send(("ready",))
    try:
        while True:
            try:
                job_id = conn.recv()
            except (EOFError, OSError):  # the server closed the pipe or died
                return
            runner._run_safely(job_id)
            try:
                conn.send(("done", job_id))
            except (BrokenPipeError, OSError):  # the server or worker is gone
                return
    finally:
        runner.close()


def _why(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


class _Slot:
    """One child process and the server thread that feeds it jobs and watches it."""

    def __init__(self, runner: "IsolatedRunner", index: int):
        self.runner, self.index = runner, index
        self.proc = None
        self.conn = None
        self.job_id: str | None = None
        self.lock = threading.Lock()  # warm_up (a thread at start-up) and the slot's own thread both start it
        self.thread = threading.Thread(target=self._loop, name=f"nvwa-slot-{index}", daemon=True)

    def start_child(self) -> str | None:
        """Start the child if it is not running; -> None when ready, else the reason it is not."""
        with self.lock:
            return self._start_child()

    def _start_child(self) -> str | None:
        if self.proc is not None and self.proc.is_alive():
            return None
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        r = self.runner
        self.proc = ctx.Process(target=_child_main, name=f"nvwa-job-slot-{self.index}", daemon=True,
                                args=(r.settings, r.models_factory, child, os.getpid(), str(r.tmp_root)))
        self.proc.start()
        child.close()
        self.conn = parent
        msg = self._receive(None)
        if msg is None:
            reason = f"the job process could not start its models ({_why(self.proc.exitcode if self.proc else None)})"
        elif msg[0] == "ready":
            r.models_ready = True
            return None
        else:
            reason = msg[1]
        self._stop_child()
        return reason

    def _receive(self, timeout: float | None):
        """The child's next message, None if it died, "timeout" if nothing came in time."""
        conn, proc = self.conn, self.proc
        if conn is None or proc is None:  # stopped meanwhile (a shutdown)
            return None
        try:
            ready = wait([conn, proc.sentinel], timeout)
            if not ready:
                return "timeout"
            if conn in ready:
                return conn.recv()
        except (EOFError, OSError):
            pass
        proc.join(5)
        return None

    def _stop_child(self) -> None:
        proc, conn = self.proc, self.conn
        self.proc, self.conn = None, None
        if conn is not None:
            conn.close()  # the child's recv() ends: it returns
        if proc is not None:
            proc.join(2)
            if proc.is_alive():
                proc.kill()
                proc.join(5)

    def _loop(self) -> None:
        r = self.runner
        while True:
            job_id = r.jobs.get()
            if job_id is None:
                with self.lock:
                    self._stop_child()
                return
            self.job_id = job_id
            try:
                self._run(job_id)
            except Exception:  # a slot must keep serving: log, fail the job with what is known
                log.exception("job slot %d: job %s", self.index, job_id)
                r.fail(job_id, "internal error while running the job; see the server log")
            finally:
                self.job_id = None

    def _run(self, job_id: str) -> None:
        r = self.runner
        job = r.store.get(job_id)
        if job is None or job.status in TERMINAL or r.closing:
            return
        reason = self.start_child()
        if r.closing:
            return  # stays queued for the next start
        if reason is not None:
            r.fail(job_id, reason)
            return
        self.conn.send(job_id)
        deadline = time.monotonic() + r.settings.job_timeout_s + GRACE_S
        while True:
            msg = self._receive(5.0)
            if msg == "timeout":
                if time.monotonic() > deadline:  # stuck in a native call that never returns
                    log.error("job %s: the job process did not stop after the time limit; killing it", job_id)
                    self.proc.kill()
                    self.proc.join(5)
                    self._crashed(job_id, f"the job exceeded its time limit of {r.settings.job_timeout_s:g} s "
                                          "(NVWA_JOB_TIMEOUT_S) and its process was stopped")
                    return
                continue
            if msg is None:
                self._crashed(job_id, None)
                return
            if msg[0] == "done":
                if r.store.get(job_id) is None:  # deleted while it ran: nothing of it may stay
                    r.storage.delete_prefix(f"jobs/{job_id}")
                return

    def _crashed(self, job_id: str, message: str | None) -> None:
        """The child died with the job in hand: fail it with the reason, remove what it left."""
        r = self.runner
        why = _why(self.proc.exitcode if self.proc is not None else None)
        self._stop_child()
        if r.closing:
            message = "the server shut down while this job was running; submit it again"
        elif message is None:
            job = r.store.get(job_id)
            name = job.filename if job is not None else "the video"
            log.error("job %s: the job process crashed (%s)", job_id, why)
            message = (f"{name}: the processing crashed ({why}) in a native library; the service is unaffected. "
                       "Try another max_side or a re-encoded copy of the video")
        r.fail(job_id, message)
        shutil.rmtree(r.tmp_root / f"job-{job_id}", ignore_errors=True)
        if r.store.get(job_id) is None:
            r.storage.delete_prefix(f"jobs/{job_id}")
        else:
            r.storage.delete_prefix(f"jobs/{job_id}/artifacts")


class IsolatedRunner:
    """The server's side of embedded execution: a queue of job ids and ``max_concurrent_jobs`` slots,
    each a child process with its own models (a JobRunner inside). QueueRunner has the same interface."""

    def __init__(self, settings, store, storage, models_factory=None, tmp_root: Path | None = None):
        """``models_factory``: a picklable callable that builds the models in the child (default: the
        ones ``settings`` names)."""
        self.settings, self.store, self.storage = settings, store, storage
        self.models_factory = models_factory
        self.tmp_root = Path(tmp_root) if tmp_root is not None else Path(settings.data_dir) / "tmp"
        self.jobs: queue.Queue = queue.Queue()
        self.models_ready = False
        self.closing = False
        self._slots = [_Slot(self, i) for i in range(max(1, settings.max_concurrent_jobs))]
        self._started = False

    def warm_up(self) -> None:
        """Start every slot's process (the models load there); raises with the reason if one cannot."""
        reasons = [slot.start_child() for slot in self._slots]
        failed = [x for x in reasons if x]
        if failed and not self.closing:  # a start cut short by a shutdown is no failure
            raise RuntimeError(failed[0])

    def _start_threads(self) -> None:
        if not self._started:
            self._started = True
            for slot in self._slots:
                slot.thread.start()

    def submit(self, job_id: str) -> None:
        self._start_threads()
        self.jobs.put(job_id)

    def run_now(self, job_id: str) -> None:
        """Run one job on the first slot and return when it has ended (``nvwa worker``: Dramatiq's thread
        calls this, so the message is acknowledged only after the job's final event)."""
        self._slots[0]._run(job_id)

    def cancel(self, job_id: str) -> None:
        """The row's removal (DELETE) is the signal; the job's process stops at its next progress event."""

    def fail(self, job_id: str, message: str) -> None:
        self.store.add_event(job_id, "error", {"message": message}, status="failed", error=message)

    def recover(self) -> list[str]:
        """After a restart: a job that was running died with the old server (failed, with the reason);
        queued jobs are queued again. -> the ids re-queued."""
        again = []
        for job in self.store.unfinished():
            if job.status == "running":
                self.fail(job.id, "the server stopped while this job was running; submit it again")
            else:
                again.append(job.id)
                self.submit(job.id)
        return again

    def close(self) -> None:
        """Running jobs fail with the reason (nobody asked to cancel them), queued ones stay queued for
        the next start; every child process ends."""
        self.closing = True
        for slot in self._slots:
            if slot.job_id is not None:
                self.fail(slot.job_id, "the server shut down while this job was running; submit it again")
        while True:  # queued ids stay queued in the database; drop them here
            try:
                self.jobs.get_nowait()
            except queue.Empty:
                break
        for slot in self._slots:
            proc = slot.proc
            if slot.job_id is not None and proc is not None and proc.is_alive():
                proc.terminate()  # its job has just been failed; the slot's thread sees it end
            self.jobs.put(None)
        for slot in self._slots:
            if slot.thread.is_alive():
                slot.thread.join(30)  # it stops its child on the None
            else:
                with slot.lock:  # after a start in progress (warm_up's) has finished
                    slot._stop_child()


__all__ = ["IsolatedRunner"]
