"""The backlog bench's ceiling drives the services' own handlers with a :class:`bench.backlog.BareRun`
in place of a :class:`hub.flowkit.Run`. A handler that uses a name the bare run lacks fails
every item of the ceiling: with ``run.note`` new in the flow kit, the ceiling's 400 room
requests all ended in AttributeError within two seconds, and the bench, counting them as
through, printed a ceiling of 200 rooms/s. So the bare run has every public name of a Run."""

from __future__ import annotations

from bench.backlog import BareRun
from hub.flowkit import Run


def test_the_bare_run_has_every_public_name_of_a_run() -> None:
    public = {name for name in dir(Run) if not name.startswith("_")}
    assert len(public) >= 10, sorted(public)  # the enrolment sees the run's methods
    assert public - set(dir(BareRun)) == set()
