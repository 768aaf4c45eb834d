"""Imported last by the fork server that starts flow runs, and nowhere else: builds once what
every run's process would otherwise build for itself (:func:`deployments.run_process.warm`).

The warm-up only saves time: if it fails (a Prefect upgrade that moved what it calls), the
fork server still starts and each run builds its settings itself, as Prefect does."""

import logging

from deployments.run_process import warm

try:
    warm()
except Exception as exc:  # noqa: BLE001 - see above; the runner's or worker's log says so
    logging.getLogger("hub.serve").warning(
        "the fork server's warm-up failed (%s: %s); each flow run builds Prefect's settings itself",
        type(exc).__name__, exc)
