"""hypofinder as a service: an HTTP API (FastAPI) with a job store, live progress and warm models.

    hypofinder serve [--host 127.0.0.1] [--port 8000]

``app`` holds the routes, ``store`` the job store (SQLite behind a small interface), ``jobs`` the runner
(queue, workers, cancel, resume), ``events`` the server-sent events, ``auth`` the API key check,
``limits`` the request-size limit, ``client`` the thin httpx client used by ``ask/mine --server``.
"""
