"""Imported last by the fork server that starts flow runs, and nowhere else: builds once what
every run's process would otherwise build for itself (:func:`deployments.run_process.warm`)."""

from deployments.run_process import warm

warm()
