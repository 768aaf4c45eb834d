"""The pause before asking a busy Prefect again (hub.prefect_api.busy_pause)."""

from __future__ import annotations

import pytest

from hub.prefect_api import busy_pause


def test_it_starts_short_and_doubles_with_jitter() -> None:
    for attempt, middle in ((0, 0.05), (1, 0.1), (3, 0.4)):
        pauses = [busy_pause(attempt, longest=10.0) for _ in range(200)]
        assert all(middle * 0.5 <= p <= middle * 1.5 for p in pauses)
        assert len(set(pauses)) > 1  # jitter: waiters do not ask again in step


@pytest.mark.parametrize("attempt", [10, 1_100, 10**9])
def test_it_never_passes_the_longest_however_long_prefect_was_busy(attempt: int) -> None:
    # A slot lease is asked for again about once a second while Prefect is down: after ~17
    # minutes the attempt count would make 2.0 ** attempt overflow a float.
    assert all(0.5 <= busy_pause(attempt, longest=1.0) <= 1.5 for _ in range(50))
