"""Request and response bodies of the REST API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from toonbank.channels.content import Content


class WorkspaceOut(BaseModel):
    id: str
    name: str
    created_at: datetime


class ConversationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    contact_id: str
    status: str
    assigned_agent_id: str | None
    language: str | None
    created_at: datetime
    last_message_at: datetime | None
    closed_at: datetime | None
    close_reason: str | None


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    conversation_id: str
    direction: str
    sender: str
    content: dict[str, Any]
    status: str
    provider_message_id: str | None
    error_code: str | None
    error_detail: str | None
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None
    failed_at: datetime | None


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempt: int
    worker: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    http_status: int | None
    error_code: str | None
    error_detail: str | None
    retry_after: float | None


class MessageDetail(MessageOut):
    attempts_log: list[AttemptOut]


class SendMessage(BaseModel):
    content: Content
    sender: str = Field(default="agent", pattern="^(agent|bot|system)$")


class StatusChange(BaseModel):
    status: str = Field(pattern="^(bot|queued|assigned|closed)$")
    reason: str | None = Field(default=None, max_length=255)


class ChannelIn(BaseModel):
    type: str = Field(max_length=32)
    name: str = Field(min_length=1, max_length=100)
    settings: dict[str, str] = Field(default_factory=dict)
    api_base_url: str | None = Field(default=None, max_length=2048, pattern="^https?://")
    rate_per_second: int | None = Field(default=None, ge=1, le=10_000)


class ChannelOut(BaseModel):
    id: str
    type: str
    name: str
    api_base_url: str | None
    settings: dict[str, Any]
    webhook_url: str
    rate_per_second: int | None


class AgentIn(BaseModel):
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=8, max_length=256)
    role: str = Field(pattern="^(owner|admin|supervisor|agent)$")
    display_name: str | None = Field(default=None, max_length=100)


class AgentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str
    display_name: str
    role: str


class LoginIn(BaseModel):
    workspace: str = Field(min_length=1, max_length=100)
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=256)


class TypingIn(BaseModel):
    state: str = Field(pattern="^(on|off)$")
    sender: str = Field(default="agent", pattern="^(agent|bot)$")
