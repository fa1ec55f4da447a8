"""What an article is before it is stored: validation shared by the importers, the REST API
and Python callers."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field

MAX_TITLE = 300
MAX_BODY = 100_000
MAX_TAGS = 20
MAX_SLUG = 200
MAX_URL = 1000
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,4})?$")
_SLUG_JUNK = re.compile(r"[^a-z0-9]+")


class ArticleError(ValueError):
    """An article that cannot be stored (the message says which field and why)."""


def slugify(text: str) -> str:
    """``"Returns & Refunds"`` → ``"returns-refunds"`` (ASCII, lower case, hyphens)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _SLUG_JUNK.sub("-", ascii_text.lower()).strip("-")[:MAX_SLUG]


def language_code(value: str) -> str:
    code = value.strip().lower().replace("_", "-")
    if not _LANGUAGE.match(code):
        raise ArticleError(f"language {value!r} is not a language code like 'en' or 'pt-br'")
    return code


@dataclass(frozen=True, slots=True)
class ArticleIn:
    """One article in one language. ``translation_key`` links translations (default: slug)."""

    title: str
    body: str
    language: str
    slug: str = ""
    tags: tuple[str, ...] = ()
    source_url: str | None = None
    translation_key: str = ""
    origin: str = field(default="", compare=False)
    """Where it was read from (file and row), for error messages only."""

    def checked(self) -> ArticleIn:
        """A normalised copy (slug and key filled in), or :class:`ArticleError`."""
        where = f"{self.origin}: " if self.origin else ""
        title = " ".join(self.title.split())
        if not title or len(title) > MAX_TITLE:
            raise ArticleError(f"{where}title must have 1 to {MAX_TITLE} characters")
        body = self.body.strip()
        if not body or len(body) > MAX_BODY:
            raise ArticleError(f"{where}body must have 1 to {MAX_BODY} characters")
        try:
            language = language_code(self.language)
        except ArticleError as exc:
            raise ArticleError(f"{where}{exc}") from None
        slug = slugify(self.slug or title)
        if not slug:
            raise ArticleError(f"{where}cannot make a slug of {self.slug or title!r}")
        key = slugify(self.translation_key) if self.translation_key else slug
        tags = tuple(dict.fromkeys(t.strip().lower() for t in self.tags if t.strip()))
        if len(tags) > MAX_TAGS or any(len(t) > 64 for t in tags):
            raise ArticleError(f"{where}at most {MAX_TAGS} tags of up to 64 characters")
        url = (self.source_url or "").strip() or None
        if url is not None and (len(url) > MAX_URL or any(c.isspace() for c in url)):
            raise ArticleError(f"{where}source_url is not a URL or path")
        return ArticleIn(title, body, language, slug, tags, url, key or slug, self.origin)

    def content_hash(self) -> str:
        """Digest of everything that is stored (an unchanged import writes nothing)."""
        parts = [self.title, self.body, self.language, self.translation_key, self.source_url or ""]
        parts.append("\x1f".join(self.tags))
        return hashlib.sha256("\x1e".join(parts).encode()).hexdigest()
