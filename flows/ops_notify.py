"""E-mail the operators. Started by a Prefect automation (the deployment's trigger) when the
health check emits ``hub.connector.unhealthy``."""

from __future__ import annotations

from datetime import datetime

from prefect import flow, get_run_logger

from hub.ports.mail import OutgoingMail
from hub.settings import OSLO, get_settings
from hub.wiring import build_mail, get_ledger

__all__ = ["notify_operators"]


@flow(name="notify-operators", log_prints=False)
async def notify_operators(connector: str, event_id: str = "") -> str:
    settings = get_settings()
    detail = get_ledger(settings).get_cursor(f"health-detail:{connector}") or ""
    now = datetime.now(OSLO)
    body = "\n".join([
        f"The hub's health check found {connector!r} unhealthy at {now:%Y-%m-%d %H:%M} (Europe/Oslo).", "",
        f"Detail: {detail or '(none)'}", "",
        "What to do: run `hub doctor` on the hub host, or open the latest 'connector-health' artifact in the "
        "Prefect UI. Work that needs this connector waits and is retried; nothing is lost.", "",
        "— tjenesteplattform hub (automatic message)"])
    mail = OutgoingMail(to=tuple(settings.ops.operators), subject=f"[hub] {connector} is unhealthy",
                        body=body, message_id=f"<health-{connector}-{event_id or now.strftime('%Y%m%d%H%M%S')}"
                                              f"@hub.oslomet.no>")
    port = build_mail(settings)
    try:
        message_id = await port.send(mail)
    finally:
        await port.aclose()
    get_run_logger().info("told %d operator(s) that %s is unhealthy", len(mail.to), connector)
    return message_id
