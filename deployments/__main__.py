"""``python -m deployments``: serve every deployment (see :mod:`deployments.serve`).

``python -m deployments deploy [--pool NAME]`` registers them in a work pool instead, and
``python -m deployments worker [--pool NAME]`` runs them from it (:mod:`deployments.pool`,
:mod:`deployments.worker`).

Kept tiny on purpose: multiprocessing re-runs the main module in each flow-run process.
"""

import asyncio
import sys

if __name__ == "__main__":
    if sys.argv[1:2] == ["deploy"]:
        import argparse

        from deployments.pool import DEFAULT_POOL, deploy_to_pool

        parser = argparse.ArgumentParser(prog="python -m deployments deploy",
                                         description="Register every deployment in a process work pool.")
        parser.add_argument("--pool", default=DEFAULT_POOL, help=f"work pool name (default: {DEFAULT_POOL})")
        args = parser.parse_args(sys.argv[2:])
        ids = asyncio.run(deploy_to_pool(args.pool))
        print(f"hub: {len(ids)} deployments in the work pool {args.pool!r}; run them with "
              f"`prefect worker start --pool {args.pool}`", flush=True)
    elif sys.argv[1:2] == ["worker"]:
        import argparse

        from deployments.pool import DEFAULT_POOL
        from deployments.worker import work

        parser = argparse.ArgumentParser(prog="python -m deployments worker",
                                         description="Run flow runs from a work pool, forked from a preloaded "
                                                     "fork server.")
        parser.add_argument("--pool", default=DEFAULT_POOL, help=f"work pool name (default: {DEFAULT_POOL})")
        parser.add_argument("--name", help="worker name (default: Prefect's)")
        parser.add_argument("--limit", type=int, help="flow runs at once (default: no limit)")
        args = parser.parse_args(sys.argv[2:])
        asyncio.run(work(args.pool, name=args.name, limit=args.limit))
    else:
        from deployments.serve import serve

        asyncio.run(serve())
