"""API keys, agent accounts, roles and sessions. Never commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from toonbank.kit.clock import now
from toonbank.kit.crypto import constant_time_equal, new_secret, sha256_hex
from toonbank.models import Agent, AgentSession, ApiKey

SCOPES: Final = (
    "conversations:read",
    "conversations:write",
    "channels:read",
    "channels:write",
    "agents:write",
    "catalog:read",
    "catalog:write",
    "orders:read",
    "orders:write",
    "assistant:read",
    "assistant:write",
    "knowledge:read",
    "knowledge:write",
)
ALL_SCOPES: Final = "*"

ROLES: Final = ("owner", "admin", "supervisor", "agent")
PERMISSIONS: Final[dict[str, frozenset[str]]] = {
    "owner": frozenset(
        {
            "workspace:manage",
            "agents:manage",
            "channels:manage",
            "conversations:all",
            "conversations:reassign",
            "orders:refund",
            "learning:review",
            "canned:manage",
        }
    ),
    "admin": frozenset(
        {
            "agents:manage",
            "channels:manage",
            "conversations:all",
            "conversations:reassign",
            "orders:refund",
            "learning:review",
            "canned:manage",
        }
    ),
    "supervisor": frozenset(
        {"conversations:all", "conversations:reassign", "learning:review", "canned:manage"}
    ),
    "agent": frozenset({"conversations:own"}),
}
SESSION_DAYS: Final = 14

_hasher = PasswordHasher()


@dataclass(frozen=True, slots=True)
class KeyPrincipal:
    workspace_id: str
    key_id: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        return ALL_SCOPES in self.scopes or scope in self.scopes


async def create_api_key(
    session: AsyncSession, workspace_id: str, scopes: list[str] | None = None, name: str = "default"
) -> str:
    """Create a key and return it in full (the only time it is visible)."""
    scopes = scopes or [ALL_SCOPES]
    unknown = [s for s in scopes if s != ALL_SCOPES and s not in SCOPES]
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(unknown)}")
    prefix = new_secret(9).replace("-", "x").replace("_", "x")[:12]
    secret = new_secret(24)
    session.add(
        ApiKey(
            workspace_id=workspace_id,
            name=name,
            prefix=prefix,
            secret_hash=sha256_hex(secret),
            scopes=scopes,
        )
    )
    await session.flush()
    return f"tbk_{prefix}_{secret}"


async def authenticate_key(session: AsyncSession, presented: str) -> KeyPrincipal | None:
    parts = presented.split("_", 2)
    if len(parts) != 3 or parts[0] != "tbk":
        return None
    key = (
        await session.execute(select(ApiKey).where(ApiKey.prefix == parts[1]))
    ).scalar_one_or_none()
    if key is None or key.revoked_at is not None:
        return None
    if not constant_time_equal(key.secret_hash, sha256_hex(parts[2])):
        return None
    return KeyPrincipal(workspace_id=key.workspace_id, key_id=key.id, scopes=frozenset(key.scopes))


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise ValueError("password must have at least 8 characters")
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def create_agent(
    session: AsyncSession,
    *,
    workspace_id: str,
    email: str,
    password: str,
    role: str,
    display_name: str | None = None,
) -> Agent:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    email = email.strip().lower()
    if "@" not in email:
        raise ValueError("email address is not valid")
    agent = Agent(
        workspace_id=workspace_id,
        email=email,
        display_name=display_name or email.split("@")[0],
        role=role,
        password_hash=hash_password(password),
    )
    session.add(agent)
    await session.flush()
    return agent


async def login(
    session: AsyncSession, workspace_id: str, email: str, password: str
) -> tuple[Agent, str] | None:
    """Check credentials; on success create a session and return (agent, cookie token)."""
    agent = (
        await session.execute(
            select(Agent).where(
                Agent.workspace_id == workspace_id, Agent.email == email.strip().lower()
            )
        )
    ).scalar_one_or_none()
    if agent is None:
        _hasher.hash("timing-equaliser")  # same cost whether or not the account exists
        return None
    if agent.disabled_at is not None or not verify_password(agent.password_hash, password):
        return None
    token = new_secret(32)
    session.add(
        AgentSession(
            token_hash=sha256_hex(token),
            agent_id=agent.id,
            workspace_id=workspace_id,
            expires_at=now() + timedelta(days=SESSION_DAYS),
        )
    )
    return agent, token


async def agent_for_session(session: AsyncSession, token: str) -> Agent | None:
    row = await session.get(AgentSession, sha256_hex(token))
    if row is None or row.expires_at < now():
        return None
    agent = await session.get(Agent, row.agent_id)
    if agent is None or agent.disabled_at is not None:
        return None
    return agent


def can(role: str, permission: str) -> bool:
    return permission in PERMISSIONS.get(role, frozenset())
