"""Toonbank benchmarks: ``python -m bench`` (``make bench``).

Every measurement runs side by side with a bare baseline in the same run, on this machine:

* durable ingest of signed webhooks (requests/s, latency) against ``bench.baseline``, a
  FastAPI + uvicorn + SQLAlchemy server that only inserts one row per request;
* end-to-end turn latency (webhook in → reply handed to the provider) at a fixed rate,
  against the same baseline inserting a row and immediately POSTing to the receiver.

Results are printed as a Rich table and written to ``docs/benchmarks.md``.
"""
