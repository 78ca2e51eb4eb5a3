"""gunicorn settings for the web process (Procfile) and the load benchmark (make bench).

Sync workers: every request is short and CPU-bound (Python), so one process per request in
flight is the cheapest model; threads would only contend for the GIL. One per core plus one
keeps the cores busy while a worker waits on PostgreSQL or Redis; more only adds context
switches (`make bench` on two cores: 3 workers gave 77-82 registrations/s, 5 gave 71-77 and
8 fewer still; threads, 2 workers × 3, 68). WEB_CONCURRENCY overrides.
"""

import multiprocessing
import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() + 1))
worker_class = "sync"
# Behind the proxy; a request that takes longer than this is a bug, not a slow client.
timeout = 30
# Recycle workers now and then so a slow leak can never grow without bound.
max_requests = 5000
max_requests_jitter = 500
