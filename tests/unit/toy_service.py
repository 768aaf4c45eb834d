"""A toy service's one flow module, for tests/unit/test_services.py: it says hello by e-mail.

Nothing in the hub's core names it; its declaration in the test is all the hub needs.
"""

from __future__ import annotations

from prefect import flow

from hub.flowkit import work_item

SERVICE = "toy"


@flow(name="toy-hello")
async def toy_hello(key: str) -> str:
    async with work_item(SERVICE, key, title=f"hello {key}") as run:
        if run.already_done:
            return "said hello already"
        await run.ports.mail.health()
    return f"said hello to {key}"
