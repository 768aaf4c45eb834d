"""``hub.runs.Coalesced``: what is asked for while a request is on its way goes in the
next one, in chunks of at most ``most``; the first goes at once, and nothing asked for is
left unsent."""

from __future__ import annotations

import asyncio

from hub.runs import Coalesced


class _SlowPeer:
    """Takes a request at a time, each answered when the test says so."""

    def __init__(self) -> None:
        self.requests: list[list[int]] = []
        self.answer = asyncio.Event()

    async def send(self, chunk: list[int]) -> None:
        self.requests.append(chunk)
        await self.answer.wait()
        self.answer.clear()


async def _until(condition: object) -> None:
    for _ in range(200):
        if callable(condition) and condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("the condition never held")


def test_the_first_goes_at_once_and_those_asked_meanwhile_go_together_in_chunks() -> None:
    async def scenario() -> list[list[int]]:
        peer = _SlowPeer()
        sender: Coalesced[int] = Coalesced(peer.send, name="test", most=3)
        sender.add(0)
        await _until(lambda: len(peer.requests) == 1)  # alone: sent without waiting for company
        for n in range(1, 8):  # asked for while the first request is on its way
            sender.add(n)
        drained = asyncio.create_task(sender.drain())
        for expected in (2, 3, 4):
            peer.answer.set()
            await _until(lambda expected=expected: len(peer.requests) == expected)
        assert not drained.done()  # the last chunk is still on its way
        peer.answer.set()
        await asyncio.wait_for(drained, 5)
        sender.add(8)  # after a drain, a new one starts a new sender
        await _until(lambda: len(peer.requests) == 5)
        peer.answer.set()
        await asyncio.wait_for(sender.drain(), 5)
        return peer.requests

    assert asyncio.run(scenario()) == [[0], [1, 2, 3], [4, 5, 6], [7], [8]]


def test_a_failing_send_is_raised_by_drain_and_what_is_asked_later_is_still_sent() -> None:
    async def scenario() -> list[list[int]]:
        sent: list[list[int]] = []

        async def send(chunk: list[int]) -> None:
            sent.append(chunk)
            if chunk == [1]:
                raise RuntimeError("the peer said no")

        sender: Coalesced[int] = Coalesced(send, name="test")
        sender.add(1)
        try:
            await sender.drain()
        except RuntimeError as exc:
            assert str(exc) == "the peer said no"
        else:
            raise AssertionError("drain hid the failure")
        sender.add(2)
        await sender.drain()
        return sent

    assert asyncio.run(scenario()) == [[1], [2]]
