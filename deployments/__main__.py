"""``python -m deployments``: serve every deployment (see :mod:`deployments.serve`).

Kept tiny on purpose: multiprocessing re-runs the main module in each flow-run process.
"""

import asyncio

from deployments.serve import serve

if __name__ == "__main__":
    asyncio.run(serve())
