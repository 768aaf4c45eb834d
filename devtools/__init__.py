"""Developer tooling, not part of the product: the local stack (embedded and production-shaped),
the demo, the process supervisor, a throw-away PostgreSQL cluster and the connector scaffold.

It starts the sandboxes (``sandbox/``, whose :mod:`sandbox.procs` is the process tooling
both use) and lives in the repository beside them, outside the
product wheel (``pyproject.toml`` packages only ``hub``, ``connectors``, ``mappings``,
``flows`` and ``deployments``). The product never imports it; an import-linter contract
holds that.
"""
