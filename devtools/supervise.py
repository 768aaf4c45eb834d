"""Keeps the local stack's processes running: restart with back-off, clear what a dead one left.

::

    Supervisor.check(), every 0.5 s, for each part it watches
      up        ─ leader alive? remember its descendants (pid + start time)
                └ leader dead ─▶ stop its group and remembered descendants (SIGTERM, 3 s, SIGKILL)
                                 ─▶ back-off 1, 2, 4 … 60 s ─▶ start the same command, env, log
      starting  ─ ready (health URL, log line)? ─▶ up          dies or not ready in time ─▶ back-off
      held      ─ not restarted when it stops (Stack.kill(..., hold=True)) until release()
      given-up  ─ N quick failures in a row: says what died, where its log is, what to do

A failure is *quick* when the part had been up less than ``Policy.stable_after``; a part
that stays up that long starts its back-off afresh. :meth:`Supervisor.stop` (Ctrl-C,
``Stack.stop_all``) ends supervision first, so a deliberate stop never restarts anything.

On real hosts systemd does this job (``docs/production.md``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field

import httpx

from sandbox.procs import Proc, ProcInfo, descendants, describe_exit, kill_processes, process_table, respawn

__all__ = ["Policy", "Event", "Supervisor", "http_ready"]

log = logging.getLogger("devtools.supervise")

Ready = Callable[[str, Proc], bool]
Say = Callable[[str], None]


@dataclass(frozen=True)
class Policy:
    first_delay: float = 1.0        # back-off after the first failure, doubled after each quick one
    max_delay: float = 60.0
    stable_after: float = 60.0      # up this long: the next failure is not "quick"
    give_up_after: int = 8          # quick failures in a row (about 2 minutes of trying)
    ready_timeout: float = 120.0    # a restarted part not ready by then counts as failed
    orphan_grace: float = 3.0       # SIGTERM → SIGKILL for what a dead part left behind
    poll: float = 0.5

    def delay(self, failures: int) -> float:
        return min(self.max_delay, self.first_delay * 2.0 ** max(failures - 1, 0))


@dataclass(frozen=True)
class Event:
    """What the supervisor did, for the log, the tests and the chaos benchmark."""

    at: float                       # time.time()
    name: str
    kind: str                       # died | restarting | restarted | held | gave-up
    detail: str
    pid: int | None = None
    delay: float | None = None      # back-off before the restart (died)
    downtime: float | None = None   # death noticed → ready again (restarted)
    restarts: int = 0               # restarts of this part so far


@dataclass
class _Part:
    name: str
    proc: Proc
    state: str = "up"               # up | backing-off | starting | held | stopped (held, down) | given-up
    restarts: int = 0
    quick_failures: int = 0
    up_since: float = field(default_factory=time.monotonic)
    due: float = 0.0
    died_at: float = 0.0
    last_exit: str = ""
    family: list[ProcInfo] = field(default_factory=list)
    injected: bool = False          # the next death is a deliberate kill (chaos), not a crash loop


def http_ready(url: str, ok: Callable[[httpx.Response], bool] | None = None) -> bool:
    """One health probe: does ``url`` answer (status < 500, or ``ok``)?"""
    try:
        response = httpx.get(url, timeout=2.0)
    except httpx.HTTPError:
        return False
    return ok(response) if ok else response.status_code < 500


def _default_ready(name: str, proc: Proc) -> bool:
    return proc.url is None or http_ready(proc.url)


class Supervisor:
    """Watches ``procs`` (name → Proc; the new Proc is written back after a restart)."""

    def __init__(self, procs: MutableMapping[str, Proc], *, ready: Ready = _default_ready,
                 policy: Policy | None = None, say: Say | None = None,
                 advice: str = "fix the cause, then start the stack again") -> None:
        self.procs = procs
        self.policy = policy or Policy()
        self.events: list[Event] = []
        self._ready = ready
        self._say = say or (lambda line: print(line, flush=True))
        self._advice = advice
        self._parts: dict[str, _Part] = {}
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- what is watched ---------------------------------------------------------------

    def watch(self, name: str, proc: Proc | None = None) -> None:
        with self._lock:
            proc = proc or self.procs[name]
            self.procs[name] = proc
            self._parts[name] = _Part(name=name, proc=proc, up_since=proc.started_at)

    def watch_all(self) -> None:
        with self._lock:
            for name, proc in list(self.procs.items()):
                if name not in self._parts or self._parts[name].proc is not proc:
                    self.watch(name, proc)

    def state(self, name: str) -> str:
        return self._parts[name].state

    def restarts(self, name: str) -> int:
        return self._parts[name].restarts

    # ---- deliberate changes ------------------------------------------------------------

    def hold(self, name: str) -> None:
        """Keep ``name`` down when it stops (chaos: a server down for five minutes)."""
        with self._lock:
            self._parts[name].state = "held"

    def injected(self, name: str) -> None:
        """The next death of ``name`` is injected (``Stack.kill``): restart it after the first
        delay and do not count it towards giving up; a chaos run kills parts often."""
        with self._lock:
            self._parts[name].injected = True

    def release(self, name: str) -> None:
        """End a hold or a give-up: start ``name`` now if it is down, with a fresh back-off."""
        with self._lock:
            part = self._parts[name]
            part.quick_failures = 0
            if part.proc.alive():
                part.state = "up"
            else:
                part.state, part.due = "backing-off", time.monotonic()

    def stop(self, timeout: float = 30.0) -> None:
        """End supervision (before a deliberate stop of the processes): nothing is restarted."""
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    # ---- the loop ----------------------------------------------------------------------

    def start(self) -> Supervisor:
        """Supervise in a background thread until :meth:`stop`."""
        if self._thread is None or not self._thread.is_alive():
            self.watch_all()
            self._thread = threading.Thread(target=self.run, name="hub-supervisor", daemon=True)
            self._thread.start()
        return self

    def run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.check()
            except Exception:  # a supervisor that dies supervises nothing
                log.exception("supervisor check failed; continuing")
            self._stopping.wait(self.policy.poll)

    def check(self) -> None:
        """One round over every part (the thread calls this every ``poll`` seconds)."""
        if self._stopping.is_set():
            return
        table = process_table()
        with self._lock:
            parts = list(self._parts.values())
        for part in parts:
            if self._stopping.is_set():
                return
            with self._lock:
                self._step(part, table)

    def _step(self, part: _Part, table: dict[int, ProcInfo]) -> None:
        now = time.monotonic()
        if part.state in ("up", "held", "starting"):
            if part.proc.alive():
                part.family = descendants(part.proc.pid, table) or part.family
                if part.state == "starting":
                    self._check_started(part, now)
            else:
                self._died(part, now)
        elif part.state == "backing-off" and now >= part.due:
            self._restart(part, now)

    def _died(self, part: _Part, now: float, how: str | None = None) -> None:
        proc = part.proc
        was = part.state
        part.last_exit = how or describe_exit(proc.popen.returncode)
        left = kill_processes(proc.pid, part.family, grace=self.policy.orphan_grace)
        part.family = []
        part.died_at = now
        leftovers = (f"; stopped {len(left)} process(es) it left behind ({', '.join(map(str, left[:6]))}"
                     f"{' …' if len(left) > 6 else ''})") if left else ""
        if was == "held":
            part.state = "stopped"
            self._record(part, "held", f"{part.name} (pid {proc.pid}) is down on purpose ({part.last_exit})"
                                        f"{leftovers}; it stays down until released")
            return
        if (was == "up" and now - part.up_since >= self.policy.stable_after) or part.injected:
            part.quick_failures = 0
        part.injected = False
        part.quick_failures += 1
        how = part.last_exit
        if part.quick_failures >= self.policy.give_up_after:
            part.state = "given-up"
            self._record(part, "gave-up", self._give_up_text(part, how, leftovers))
            return
        delay = self.policy.delay(part.quick_failures)
        part.state, part.due = "backing-off", now + delay
        self._record(part, "died",
                     f"{part.name} (pid {proc.pid}) died: {how}; log: {proc.log_path}{leftovers}. "
                     f"Restarting in {delay:g} s (restart {part.restarts + 1}, quick failure "
                     f"{part.quick_failures} of {self.policy.give_up_after}).", delay=delay)

    def _give_up_text(self, part: _Part, how: str, leftovers: str) -> str:
        return (f"{part.name} (pid {part.proc.pid}) died again: {how}{leftovers}. GIVING UP on {part.name} after "
                f"{part.quick_failures} failures in a row, each within {self.policy.stable_after:g} s of "
                f"starting; it stays down while the rest keeps running. What to do: read "
                f"{part.proc.log_path} (last lines below), {self._advice}.\n{part.proc.tail(15)}")

    def _restart(self, part: _Part, now: float) -> None:
        part.restarts += 1
        try:
            part.proc = respawn(part.proc)
        except Exception as exc:  # cannot even start it (a missing program): count as a failure
            part.state = "starting"
            self._died(part, now, f"could not start: {exc}")
            return
        self.procs[part.name] = part.proc
        part.state, part.up_since = "starting", now
        self._record(part, "restarting", f"{part.name} restarting as pid {part.proc.pid} (same command, "
                                         f"environment and ports); waiting until it is ready")

    def _check_started(self, part: _Part, now: float) -> None:
        if self._ready(part.name, part.proc):
            part.state, part.up_since = "up", time.monotonic()
            down = part.up_since - part.died_at
            self._record(part, "restarted", f"{part.name} is back (pid {part.proc.pid}), ready "
                                            f"{down:.1f} s after it was found dead", downtime=down)
        elif now - part.up_since > self.policy.ready_timeout:
            part.proc.stop(grace=self.policy.orphan_grace)
            self._died(part, now, f"not ready {self.policy.ready_timeout:g} s after it started")

    def _record(self, part: _Part, kind: str, detail: str, *, delay: float | None = None,
                downtime: float | None = None) -> None:
        event = Event(at=time.time(), name=part.name, kind=kind, detail=detail, pid=part.proc.pid,
                      delay=delay, downtime=downtime, restarts=part.restarts)
        self.events.append(event)
        self._say(f"supervisor: {detail}")
        log.debug("%s", detail)  # ``say`` is what people read; this is for debugging sessions
        self._changed.notify_all()

    # ---- waiting for it ----------------------------------------------------------------

    def wait_for(self, name: str, kind: str, *, after: int = 0, timeout: float = 180.0) -> Event:
        """The first ``kind`` event of ``name`` with more than ``after`` restarts (or gave-up)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for event in self.events:
                    if event.name == name and event.kind == kind and event.restarts > after:
                        return event
                for event in self.events:
                    if event.name == name and event.kind == "gave-up" and kind != "gave-up" \
                            and event.restarts >= after:
                        raise RuntimeError(event.detail)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{name}: no {kind!r} within {timeout:.0f} s "
                                       f"(state {self._parts[name].state})")
                self._changed.wait(min(remaining, 1.0))
