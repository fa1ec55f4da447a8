"""``toonbank simulate``: every provider on one loopback port, with fixed demo accounts."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable

from toonbank.simulator.core import DEMO_SEED, ProviderSimulator


def demo_simulator(host: str, port: int, target: str | None) -> ProviderSimulator:
    """A simulator with one account per provider; the seed keeps credentials across restarts."""
    sim = ProviderSimulator(f"http://{host}:{port}", target=target, seed=DEMO_SEED)
    for name in sim.providers:
        sim.add_account(name)
    return sim


def instructions(sim: ProviderSimulator, workspace: str) -> list[str]:
    """What to configure in Toonbank, per provider, and how to play the customer."""
    lines = [f"Provider simulator on {sim.base_url} (webhooks go to {sim.target or '?'})", ""]
    for name, provider in sim.providers.items():
        account = sim.account(name)
        assert account is not None
        command = [
            "toonbank",
            "channels",
            "add",
            name,
            "--workspace",
            workspace,
            "--name",
            f"sim-{name}",
            "--api-base",
            account.api_base,
        ]
        for key, value in account.settings.items():
            command += ["--set", f"{key}={value}"]
        lines += [
            f"{name} ({provider.title})",
            f"  api_base: {account.api_base}",
            f"  {shlex.join(command)}",
            "",
        ]
    control = f"{sim.base_url}/_sim"
    register = json.dumps({"connection_id": "<id printed by channels add>"})
    lines += [
        "Then register each connection's webhook (the provider verifies it, as the real one does):",
        f"  curl -X POST {control}/<provider>/webhook -d {shlex.quote(register)}",
        "Play the customer:",
        f'  curl -X POST {control}/<provider>/customer -d \'{{"text": "hi"}}\'',
        f'  curl -X POST {control}/<provider>/customer -d \'{{"tap": "Order status"}}\'',
        f"  curl -X POST {control}/<provider>/customer -d '{{\"image\": true}}'",
        f"See what the business sent: curl {control}/<provider>/messages",
        "Make the provider fail: "
        f"curl -X POST {control}/faults -d "
        + shlex.quote(
            json.dumps({"provider": "telegram", "kind": "rate_limited", "retry_after": 2})
        ),
    ]
    return lines


def run(
    host: str, port: int, target: str | None, workspace: str, echo: Callable[[str], None]
) -> None:
    """Serve the simulator in the foreground until interrupted."""
    import uvicorn

    sim = demo_simulator(host, port, target)
    for line in instructions(sim, workspace):
        echo(line)
    uvicorn.run(sim.app(), host=host, port=port, log_level="warning")
