"""HTTP surface: REST API, webhooks, auth. Routes only; rules live in the domain services."""
