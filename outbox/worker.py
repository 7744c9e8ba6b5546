"""Stopping the worker without cutting a send short.

The worker is django-q2's `manage.py qcluster`, a tree of processes:

    main (Cluster) ── Sentinel ─┬─ pusher   (takes tasks from the broker)
                                ├─ monitor  (records their results)
                                └─ workers  (run them: send_due_messages)

django-q2 (1.11.1) stops gracefully only when the main process alone gets
SIGTERM: its handler tells the Sentinel, which stops the pusher, hands each
worker a STOP pill (taken after the task in hand) and waits. But the Sentinel
sets SIGTERM to its default action (death), and the pusher, monitor and
workers inherit that. So when the whole group gets SIGTERM at once, as systemd
does by default, every child dies on the spot: a message being sent is left
in `sending` (later "outcome unknown", D15), and the main process hangs for
good in its handler, waiting for the dead Sentinel to acknowledge the stop
(multiprocessing's Event.set() waits for every sleeper to wake), until SIGKILL.

What this module changes:

- A worker takes SIGTERM as "finish the message in flight, claim no more":
  it sets `outbox.dispatch.stopping`, which ends the current pass after
  that message. It keeps running, so that it still takes its STOP pill (the
  passes queued before it find `stopping` set and claim nothing).
- No process of the cluster dies of SIGTERM any more. Each passes it on to its
  parent (worker, pusher, monitor → Sentinel → main), so SIGTERM to any one of
  them, or to all at once, ends in django-q2's own graceful stop, run once by
  the main process, which then exits 0.
- When the stop begins, the Sentinel sends SIGTERM to every worker, so that
  they stop claiming at once even when only the main process was signalled
  (a container runtime, `kill <pid>`, Ctrl-C): otherwise each worker would go
  on with its pass, and the passes queued behind it.

So SIGTERM to a single worker (or to the Sentinel, pusher or monitor) stops
the whole cluster, cleanly, with exit 0: a worker that claimed nothing more
while the cluster ran on would silently stop sending (with HUB_WORKERS=1,
everything). A worker that overruns its task timeout is still killed and
replaced by the Sentinel, with SIGKILL instead of SIGTERM.

On PostgreSQL the main process also runs the waker (outbox/waker.py),
a thread that LISTENs for the NOTIFY a change sends when it commits and
queues a dispatcher pass at once.

django-q2 offers no hook in the main or Sentinel process: `install()` puts the
two subclasses below in place of `django_q.cluster.Cluster` and `Sentinel`,
which the qcluster command and `Cluster.start()` look up when they run (after
the apps are ready). The workers' part uses django-q2's `post_spawn` signal,
sent in each worker process as it starts. Written against django-q2 1.11.1;
outbox/tests/test_worker_shutdown.py runs a real qcluster and fails if
an upgrade changes any of this.
"""

import os
import signal

from django_q import cluster
from django_q.signals import post_spawn

from outbox import dispatch, waker

# (main process, Sentinel): the only processes SIGTERM is ever passed on to.
# Set in the Sentinel, inherited by its children (forked from it).
_cluster_pids: tuple[int, ...] = ()
# In a worker: SIGTERM was handled already (stop_claiming).
_asked_to_stop = False


def install() -> None:
    """Called from ConfirmationsConfig.ready(), in every process; only
    `manage.py qcluster` starts a Cluster or sends `post_spawn`."""
    cluster.Cluster = Cluster
    cluster.Sentinel = Sentinel
    post_spawn.connect(on_worker_start, dispatch_uid="outbox.worker.on_worker_start")


def pass_on(signum=signal.SIGTERM, frame=None) -> None:
    """SIGTERM handler of the Sentinel, pusher and monitor: passes SIGTERM
    to the parent. Only while the parent is the one this cluster started: an
    orphan (its parent killed) passes nothing to whatever process adopted it."""
    parent = os.getppid()
    if parent in _cluster_pids:
        os.kill(parent, signal.SIGTERM)


def on_worker_start(sender, proc_name: str, **kwargs) -> None:
    """post_spawn receiver, in each worker process as it starts."""
    signal.signal(signal.SIGTERM, stop_claiming)
    # The Sentinel forks workers with SIGTERM blocked (Sentinel.spawn_worker):
    # one sent meanwhile is pending, and comes to stop_claiming now.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})


def stop_claiming(signum, frame) -> None:
    """A worker's SIGTERM handler. It sets a flag and passes the signal on:
    the send in flight carries on (a system call interrupted by a handler that
    does not raise is resumed, PEP 475).

    Python runs a handler again inside itself when the signal comes again
    (systemd's SIGTERM, then the Sentinel's), even inside Event.set(), whose
    lock is not re-entrant: only the first call does anything (Python runs no
    handler between the test and the assignment of `_asked_to_stop`)."""
    global _asked_to_stop
    if _asked_to_stop:
        return
    _asked_to_stop = True
    dispatch.stopping.set()
    pass_on(signum, frame)


class Cluster(cluster.Cluster):
    """The main process: django-q2's graceful stop, run once. A second SIGTERM
    (passed on by the Sentinel after systemd's own) would run the handler again
    inside itself, and deadlock on the lock of the stop Event (see
    stop_claiming)."""

    _stop_requested = False

    waker = None

    def start(self) -> int:
        """Also starts the waker (outbox/waker.py) in this process,
        once the Sentinel is running: it forks no more, and the waker's
        thread and connection stay here."""
        pid = super().start()
        if waker.by_notify():
            self.waker = waker.Waker()
            self.waker.start()
        return pid

    def stop(self) -> bool:
        if self.waker is not None:
            self.waker.stop()  # queues no pass into a cluster that is stopping
        return super().stop()

    def sig_handler(self, signum, frame):
        if self._stop_requested:
            return
        self._stop_requested = True
        super().sig_handler(signum, frame)


class Sentinel(cluster.Sentinel):
    """django-q2's Sentinel, except that SIGTERM does not kill it or its
    children, and that it tells its workers to stop claiming when the stop
    begins."""

    def __init__(self, *args, start: bool = True, **kwargs):
        global _cluster_pids
        # django-q2's __init__ sets SIGTERM to its default action (death):
        # held back until this process passes it on instead.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        super().__init__(*args, start=False, **kwargs)
        _cluster_pids = (self.parent_pid, self.pid)
        signal.signal(signal.SIGTERM, pass_on)  # inherited by the pusher and monitor
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
        if start:
            self.start()

    def spawn_worker(self):
        # A SIGTERM reaching a new worker before it has its own handler
        # (on_worker_start) is held, not passed on and forgotten.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        try:
            super().spawn_worker()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})

    def stop(self):
        for process in list(self.pool):
            try:
                os.kill(process.pid, signal.SIGTERM)  # finish the message in flight, claim no more
            except ProcessLookupError:
                pass
        super().stop()
        # django-q2 waits `timeout` seconds for the monitor, then ends what is
        # left with SIGTERM as this process exits, which no longer ends it.
        for process in (self.monitor, self.pusher):
            if process.is_alive():
                process.kill()

    def reincarnate(self, process):
        # django-q2 ends a worker that overran its task timeout with SIGTERM,
        # which no longer ends a worker: SIGKILL, as final as SIGTERM was.
        if process in self.pool and process.timer.value == 0 and process.is_alive():
            process.kill()
        super().reincarnate(process)
