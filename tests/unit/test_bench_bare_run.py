"""The backlog bench's ceiling drives the services' own handlers with a :class:`bench.backlog.BareRun`
in place of a :class:`hub.flowkit.Run`. A handler that uses a name the bare run lacks fails
every item of the ceiling: with ``run.note`` new in the flow kit, the ceiling's 400 room
requests all ended in AttributeError within two seconds, and the bench, counting them as
through, printed a ceiling of 200 rooms/s. So the bare run has every public name of a Run, and
each is awaited where the Run's is (``run.remember`` became a coroutine: a bare one that stayed
a plain function would fail every ``await run.remember(...)``)."""

from __future__ import annotations

import inspect

from bench.backlog import BareRun
from hub.flowkit import Run


def test_the_bare_run_has_every_public_name_of_a_run() -> None:
    public = {name for name in dir(Run) if not name.startswith("_")}
    assert len(public) >= 10, sorted(public)  # the enrolment sees the run's methods
    assert public - set(dir(BareRun)) == set()


def test_the_bare_run_awaits_what_a_run_awaits() -> None:
    methods = {name for name in dir(Run) if not name.startswith("_") and callable(getattr(Run, name))}
    assert {"remember", "step", "slots"} <= methods
    differ = {name for name in methods
              if inspect.iscoroutinefunction(getattr(Run, name)) != inspect.iscoroutinefunction(getattr(BareRun, name))}
    assert differ == set()
