"""``submissions_after`` streams NDJSON: memory stays flat over thousands of submissions.

The sandbox gets 6,000 synthetic submissions; the connector walks them under
``tracemalloc``: streaming 500 of them, streaming all of them (what the poll flow does), and
collecting all into a list (what streaming avoids). Streaming all must peak about where
streaming 500 does, and far below holding them.
"""

from __future__ import annotations

import time
import tracemalloc

import httpx
import pytest

from connectors.nettskjema import NettskjemaForms
from hub.ports.forms import SubmissionMeta
from sandbox.common import control_headers
from sandbox.nettskjema.forms import LAPTOP_FORM_ID
from sandbox.procs import Proc
from tests.connectors.nettskjema.conftest import MakeForms

BULK = 6000


@pytest.fixture(scope="module")
def bulk_loaded(nettskjema: Proc) -> tuple[int, int]:
    started = time.perf_counter()
    response = httpx.post(f"{nettskjema.url}/_sandbox/forms/laptop/bulk", headers=control_headers(),
                          json={"count": BULK}, timeout=60)
    assert response.status_code == 201
    print(f"\nbulk-added {BULK} submissions in {time.perf_counter() - started:.2f} s")
    return int(response.json()["firstSubmissionId"]), int(response.json()["lastSubmissionId"])


async def _stream_peak(forms: NettskjemaForms, after: int | None) -> tuple[int, int, int, float]:
    """(lines, highest id, tracemalloc peak in bytes, seconds) for one streamed walk."""
    tracemalloc.start()
    started = time.perf_counter()
    count, highest = 0, 0
    async for meta in forms.submissions_after(LAPTOP_FORM_ID, after):
        count += 1
        highest = max(highest, meta.submission_id)
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return count, highest, peak, seconds


async def test_streaming_thousands_keeps_memory_flat(make_forms: MakeForms, bulk_loaded: tuple[int, int]) -> None:
    first, last = bulk_loaded
    async with make_forms(timeout=30.0) as forms:
        warm = [m.submission_id async for m in forms.submissions_after(LAPTOP_FORM_ID, last - 10)]
        assert warm == list(range(last - 9, last + 1))

        few, _, few_peak, _ = await _stream_peak(forms, last - 500)
        count, highest, stream_peak, seconds = await _stream_peak(forms, None)

        tracemalloc.start()
        held: list[SubmissionMeta] = [m async for m in forms.submissions_after(LAPTOP_FORM_ID, None)]
        _, held_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()

    assert few == 500
    assert count == len(held) >= BULK + 6 and highest == last
    print(f"\nstreamed {count} submission-metadata lines in {seconds:.2f} s (under tracemalloc); peak "
          f"{stream_peak / 1024:.0f} KiB (vs {few_peak / 1024:.0f} KiB for {few} lines); holding them all: "
          f"{held_peak / 1024:.0f} KiB ({held_peak / stream_peak:.1f}x)")
    assert stream_peak < few_peak + 256 * 1024  # 12x the lines, (nearly) the same peak: flat
    assert stream_peak < held_peak / 4
    assert stream_peak < 1024 * 1024


async def test_high_water_mark_over_the_bulk(make_forms: MakeForms, bulk_loaded: tuple[int, int]) -> None:
    first, last = bulk_loaded
    async with make_forms(timeout=30.0) as forms:
        tail = [m.submission_id async for m in forms.submissions_after(LAPTOP_FORM_ID, first + BULK - 101)]
    assert tail == list(range(first + BULK - 100, last + 1))
