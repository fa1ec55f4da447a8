"""The optional generative layer: rephrase, answer from knowledge snippets, translate — through
any OpenAI-compatible chat-completions endpoint (OpenAI, Azure OpenAI, vLLM, Ollama,
llama.cpp server). Off by default (``TOONBANK_LLM_ENABLED``).

Every operation is given the deterministic text to fall back to, and falls back when the
layer is off, the endpoint fails or is slower than ``llm_timeout``, the output is empty, or
the **fact guard** rejects it: a generated text may not contain a number (price, amount,
stock quantity, order number, date) that the supplied context does not contain. Grounded
answers must also cite at least one supplied snippet. The result says which path was taken
(``generated``, ``fallback_reason``) so the dialogue can log and measure it.

Uses the official ``openai`` SDK's ``AsyncOpenAI`` client with ``base_url`` (it speaks the wire
format of all those servers, handles errors and timeouts); retries are off because a customer
is waiting and the fallback is always there. Message bodies are never logged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio
import openai
import structlog
from openai import AsyncOpenAI

from toonbank.assistant.guard import citations, strip_citations, unsupported_numbers

if TYPE_CHECKING:
    from toonbank.config import Settings
    from toonbank.knowledge.retrieval import KnowledgeHit

log = structlog.get_logger(__name__)

MAX_INPUT = 4_000
MAX_OUTPUT_TOKENS = 400
NO_ANSWER = "NO_ANSWER"

LANGUAGE_NAMES = {
    "en": "English",
    "nl": "Dutch",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "it": "Italian",
    "pt": "Portuguese",
    "pl": "Polish",
    "ro": "Romanian",
}

_NO_FACTS = (
    "Never add a price, amount, discount, stock level, order number, delivery date or any "
    "other number or fact that is not in the text you were given."
)
REPHRASE_PROMPT = (
    "You rewrite a shop assistant's reply to a customer so it reads naturally and warmly in "
    "{language}. Keep every fact and number exactly as given and keep it short. "
    + _NO_FACTS
    + " Reply with the rewritten text only."
)
ANSWER_PROMPT = (
    "You are a shop's customer-service assistant. Answer the customer's question in {language}, "
    "briefly, using ONLY the numbered sources below. Cite every source you use as [1], [2]. "
    "If the sources do not answer the question, reply exactly "
    + NO_ANSWER
    + ". "
    + _NO_FACTS
    + "\n\nSources:\n{sources}"
)
TRANSLATE_PROMPT = (
    "Translate the customer-service message into {language}. Keep numbers, names, codes and "
    "links exactly as they are. Reply with the translation only."
)


@dataclass(frozen=True, slots=True)
class Generated:
    """What to send: the model's text when ``generated``, else the deterministic fallback.

    ``fallback_reason``: ``disabled``, ``timeout``, ``error``, ``empty``, ``no_answer``,
    ``uncited`` or ``unsupported_numbers``. ``citations``: the ``source`` of every cited
    knowledge hit (answers only)."""

    text: str
    generated: bool
    fallback_reason: str | None = None
    citations: tuple[str, ...] = ()


def _language(code: str | None) -> str:
    return LANGUAGE_NAMES.get((code or "en").split("-")[0], code or "English")


class GenerativeLayer:
    """Rephrase, answer and translate with a chat model, guarded; see the module docstring."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = 8.0,
        max_tokens: int = MAX_OUTPUT_TOKENS,
    ) -> None:
        self.model = model
        self.timeout = timeout
        self.max_tokens = max_tokens
        # Local servers (Ollama, llama.cpp) need no key, but the SDK insists on one.
        self._client = AsyncOpenAI(
            base_url=base_url, api_key=api_key or "unused", timeout=timeout, max_retries=0
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> GenerativeLayer | None:
        """The configured layer, or None when it is off (the default) or has no endpoint."""
        if not settings.llm_enabled or not settings.llm_base_url:
            return None
        return cls(
            base_url=settings.llm_base_url,
            model=settings.llm_model,
            api_key=settings.llm_api_key,
            timeout=settings.llm_timeout,
        )

    async def aclose(self) -> None:
        await self._client.close()

    async def _complete(self, operation: str, system: str, user: str) -> tuple[str | None, str]:
        """The model's text, or None and why not. Never raises for endpoint trouble."""
        try:
            with anyio.fail_after(self.timeout + 0.5):  # a hard cap over the SDK's own timeout
                response = await self._client.chat.completions.create(
                    model=self.model,
                    messages=[
                        {"role": "system", "content": system},
                        {"role": "user", "content": user[:MAX_INPUT]},
                    ],
                    temperature=0.2,
                    max_tokens=self.max_tokens,
                )
        except (TimeoutError, openai.APITimeoutError):
            log.warning("llm_fallback", operation=operation, reason="timeout")
            return None, "timeout"
        except openai.OpenAIError as exc:
            log.warning(
                "llm_fallback", operation=operation, reason="error", error=type(exc).__name__
            )
            return None, "error"
        choices = response.choices or []
        text = (choices[0].message.content or "").strip() if choices else ""
        if not text:
            return None, "empty"
        return text, ""

    def _guarded(
        self, operation: str, text: str, context: Sequence[str], fallback: str
    ) -> Generated | None:
        if unsupported_numbers(text, context):
            log.warning("llm_fallback", operation=operation, reason="unsupported_numbers")
            return Generated(fallback, False, "unsupported_numbers")
        return None

    async def rephrase(
        self, text: str, language: str | None, *, context: Sequence[str] = ()
    ) -> Generated:
        """``text`` (a deterministic reply) said more naturally in ``language``; ``context``
        holds further facts the reply may repeat (e.g. the customer's message)."""
        output, reason = await self._complete(
            "rephrase", REPHRASE_PROMPT.format(language=_language(language)), text
        )
        if output is None:
            return Generated(text, False, reason)
        rejected = self._guarded("rephrase", output, [text, *context], text)
        return rejected or Generated(output, True)

    async def answer(
        self,
        question: str,
        language: str | None,
        hits: Sequence[KnowledgeHit],
        *,
        fallback: str,
    ) -> Generated:
        """An answer to an open ``question`` grounded only in ``hits`` (knowledge snippets),
        citing them; ``fallback`` (e.g. the best snippet, or a handover offer) otherwise."""
        if not hits:
            return Generated(fallback, False, "no_answer")
        sources = "\n".join(f"[{n}] {h.title}: {h.snippet}" for n, h in enumerate(hits, start=1))
        system = ANSWER_PROMPT.format(language=_language(language), sources=sources)
        output, reason = await self._complete("answer", system, question)
        if output is None:
            return Generated(fallback, False, reason)
        if NO_ANSWER in output:
            return Generated(fallback, False, "no_answer")
        cited = [n for n in citations(output) if 1 <= n <= len(hits)]
        if not cited:
            log.warning("llm_fallback", operation="answer", reason="uncited")
            return Generated(fallback, False, "uncited")
        context = [question, *(f"{h.title} {h.snippet}" for h in hits)]
        rejected = self._guarded("answer", output, context, fallback)
        if rejected is not None:
            return rejected
        sources_cited = tuple(dict.fromkeys(hits[n - 1].source for n in cited))
        return Generated(strip_citations(output), True, None, sources_cited)

    async def translate(
        self, text: str, language: str, *, fallback: str | None = None
    ) -> Generated:
        """``text`` in ``language``; ``fallback`` (default: ``text`` itself) on failure."""
        fallback = text if fallback is None else fallback
        output, reason = await self._complete(
            "translate", TRANSLATE_PROMPT.format(language=_language(language)), text
        )
        if output is None:
            return Generated(fallback, False, reason)
        rejected = self._guarded("translate", output, [text], fallback)
        return rejected or Generated(output, True)
