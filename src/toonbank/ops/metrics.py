"""Prometheus metrics (served at ``/metrics``). Labels never carry message bodies or ids."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

MESSAGES_IN = Counter("toonbank_messages_in_total", "Inbound customer messages stored", ["channel"])
DUPLICATES = Counter(
    "toonbank_inbound_duplicates_total", "Inbound events dropped as duplicates", ["channel"]
)
WEBHOOKS_REJECTED = Counter(
    "toonbank_webhooks_rejected_total", "Webhook requests refused", ["channel", "reason"]
)
MESSAGES_OUT = Counter(
    "toonbank_messages_out_total", "Outbound messages by final outcome", ["channel", "outcome"]
)
RETRIES = Counter("toonbank_delivery_retries_total", "Send attempts to be retried", ["channel"])
FAILURES = Counter(
    "toonbank_delivery_failures_total", "Outbound messages that failed for good", ["channel"]
)
PROCESSING_LATENCY = Histogram(
    "toonbank_processing_seconds",
    "Inbound message stored → answered (bot turn committed)",
    ["channel"],
    buckets=LATENCY_BUCKETS,
)
DELIVERY_LATENCY = Histogram(
    "toonbank_delivery_seconds",
    "Outbound message created → accepted by the provider",
    ["channel"],
    buckets=LATENCY_BUCKETS,
)
QUEUE_DEPTH = Gauge("toonbank_queue_depth", "Pending work items by pipeline stage", ["stage"])
PROCESSING_BATCHES = Counter("toonbank_processing_batches_total", "Committed batches of bot turns")

ASSISTANT_TURNS = Counter(
    "toonbank_assistant_turns_total",
    "Customer messages answered by the assistant (built-in intents; business intents as "
    "'business'; languages outside the nine as 'other')",
    ["intent", "language", "fallback"],
)
ASSISTANT_RESOLUTIONS = Counter(
    "toonbank_assistant_resolutions_total",
    "Customer answers to 'did this solve it?'",
    ["confirmed"],
)
ASSISTANT_CSAT = Counter("toonbank_assistant_csat_total", "CSAT scores received", ["score"])
ASSISTANT_RATE = Gauge(
    "toonbank_assistant_rate",
    "Assistant rates over the last 24 hours, all workspaces (computed at scrape time)",
    ["kind"],
)
ASSISTANT_CONVERSATIONS = Gauge(
    "toonbank_assistant_conversations",
    "Conversations the assistant served in the last 24 hours, by outcome",
    ["outcome"],
)
