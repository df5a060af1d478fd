"""The server's worker: one daemon thread that runs the checks and the warm-up, one at a time.

A :class:`concurrent.futures.ThreadPoolExecutor` would do, but its threads are joined when the
interpreter exits: after the client's ``exit`` the process would wait for the check under way (a
long compile of a large document, say) and only then end, long after the client stopped listening.
The thread of a :class:`Worker` is a daemon, and while it is :meth:`~Worker.busy` the server ends
the process without finalizing the interpreter (:func:`vibench.lsp.server.serve`), which a thread
still importing or printing could crash; a check cut short publishes nothing, which is what a client
that said ``exit`` expects.

>>> worker = Worker("example")
>>> worker.submit(sum, [1, 2, 3]).result()
6
>>> worker.shutdown()
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any


class Worker(Executor):
    """An executor of one daemon thread, started with the first task (for ``loop.run_in_executor``)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._tasks: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple, dict] | None] = \
            queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._unfinished = 0  # tasks submitted and not yet done

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError(f"worker {self._name} is shut down: no new task")
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._unfinished += 1
            self._tasks.put((future, fn, args, kwargs))
        return future

    def busy(self) -> bool:
        """Whether a task is running or waiting to run."""
        with self._lock:
            return self._unfinished > 0

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """No new tasks; ``wait``: until the queued ones are done (``cancel_futures``: those not started
        are cancelled instead)."""
        with self._lock:
            self._closed = True
            thread = self._thread
            self._tasks.put(None)
        if cancel_futures:
            self._cancel_queued()
        if wait and thread is not None:
            thread.join()

    def _cancel_queued(self) -> None:
        pending: list[None] = []
        while True:
            try:
                item = self._tasks.get_nowait()
            except queue.Empty:
                break
            if item is None:
                pending.append(item)
            else:
                item[0].cancel()
                with self._lock:
                    self._unfinished -= 1
        for item in pending:  # the end marker, for the thread
            self._tasks.put(item)

    def _run(self) -> None:
        while (item := self._tasks.get()) is not None:
            future, fn, args, kwargs = item
            try:
                if future.set_running_or_notify_cancel():
                    self._call(future, fn, args, kwargs)
            finally:
                with self._lock:
                    self._unfinished -= 1

    @staticmethod
    def _call(future: Future[Any], fn: Callable[..., Any], args: tuple, kwargs: dict) -> None:
        try:
            result = fn(*args, **kwargs)
        except BaseException as err:  # noqa: BLE001 - handed to whoever waits on the future
            future.set_exception(err)
        else:
            future.set_result(result)
