"""One conformance suite for every channel adapter (specs in tests/channels/*/spec.py)."""

from __future__ import annotations

import importlib
from dataclasses import replace

import pytest
from tests.channels.conformance import REPO, SAMPLES, AdapterSpec, Recorder

from toonbank.channels.base import (
    DeliveryReceipt,
    InboundMessage,
    SendError,
    SignatureError,
)
from toonbank.channels.registry import default_registry
from toonbank.channels.render import degrade


def _specs() -> list[AdapterSpec]:
    specs: list[AdapterSpec] = []
    for path in sorted((REPO / "tests" / "channels").glob("*/spec.py")):
        module = importlib.import_module(f"tests.channels.{path.parent.name}.spec")
        specs.extend(module.SPECS)
    return specs


SPECS = _specs()
ids = [s.id for s in SPECS]


def test_every_registered_external_channel_has_a_spec() -> None:
    registry = default_registry()
    external = {t for t in registry.types() if not registry.get(t).manifest.internal}
    assert external <= {s.adapter.manifest.type for s in SPECS}


@pytest.mark.parametrize("spec", SPECS, ids=ids)
def test_manifest_is_complete(spec: AdapterSpec) -> None:
    manifest = spec.adapter.manifest
    assert manifest.type and manifest.title
    assert set(manifest.secret_settings) <= set(manifest.required_settings) | set(
        manifest.secret_settings
    )
    assert default_registry().get(manifest.type).manifest == manifest


@pytest.mark.parametrize("spec", SPECS, ids=ids)
def test_real_payloads_verify_and_parse(spec: AdapterSpec) -> None:
    messages = 0
    for body in spec.payloads:
        request = spec.sign(body)
        spec.adapter.verify(request, spec.connection)
        events = spec.adapter.parse(request, spec.connection)
        assert events, "a recorded payload must yield at least one event"
        for event in events:
            assert isinstance(event, InboundMessage | DeliveryReceipt)
            assert event.provider_message_id
            if isinstance(event, InboundMessage):
                messages += 1
                assert event.sender_id
    assert messages >= 1


@pytest.mark.parametrize("spec", SPECS, ids=ids)
def test_forged_requests_are_rejected(spec: AdapterSpec) -> None:
    body = spec.payloads[0]
    good = spec.sign(body)
    if spec.body_signed:
        tampered = replace(good, body=body.replace(b"}", b" }", 1) + b" ")
        with pytest.raises(SignatureError):
            spec.adapter.verify(tampered, spec.connection)
    for header in spec.signature_headers:
        stripped = replace(good, headers={k: v for k, v in good.headers.items() if k != header})
        with pytest.raises(SignatureError):
            spec.adapter.verify(stripped, spec.connection)
    other = replace(spec.connection, secrets={k: "wrong-secret" for k in spec.connection.secrets})
    with pytest.raises(SignatureError):
        spec.adapter.verify(good, other)


@pytest.mark.parametrize("spec", SPECS, ids=ids)
async def test_every_content_type_renders_to_accepted_requests(spec: AdapterSpec) -> None:
    recorder = Recorder(spec.ok_response)
    capabilities = spec.adapter.manifest.capabilities
    async with recorder.client() as http:
        for content in SAMPLES:
            for part in degrade(content, capabilities):
                result = await spec.adapter.send(
                    http, spec.connection, spec.recipient, part, idempotency_key="toonbank-1"
                )
                assert result is not None
    assert recorder.requests
    base = spec.connection.api_base_url or ""
    for sent in recorder.requests:
        assert str(sent.url).startswith(base.rstrip("/")), "sends go to the configured API base"


@pytest.mark.parametrize("spec", SPECS, ids=ids)
@pytest.mark.parametrize(
    ("status", "retryable"), [(500, True), (503, True), (400, False), (401, False)]
)
async def test_send_errors_are_classified(spec: AdapterSpec, status: int, retryable: bool) -> None:
    import httpx

    recorder = Recorder(lambda _r: httpx.Response(status, json={"error": {"message": "x"}}))
    async with recorder.client() as http:
        with pytest.raises(SendError) as caught:
            await spec.adapter.send(
                http, spec.connection, spec.recipient, spec.send_probe, idempotency_key="k"
            )
    assert caught.value.retryable is retryable


@pytest.mark.parametrize("spec", SPECS, ids=ids)
async def test_rate_limit_answers_are_retried_after_the_hint(spec: AdapterSpec) -> None:
    recorder = Recorder(spec.rate_limited)
    async with recorder.client() as http:
        with pytest.raises(SendError) as caught:
            await spec.adapter.send(
                http, spec.connection, spec.recipient, spec.send_probe, idempotency_key="k"
            )
    assert caught.value.retryable
    assert caught.value.retry_after == pytest.approx(7)
