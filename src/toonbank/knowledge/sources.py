"""Read articles from files: Markdown with YAML front matter, YAML lists and CSV.

A directory is read recursively (``*.md``, ``*.markdown``, ``*.yaml``, ``*.yml``, ``*.csv``,
sorted by path). For Markdown the language comes from the front matter (``language`` or
``lang``), else the file name (``returns.nl.md``), else a parent folder named like a
language (``nl/returns.md``), else ``default_language``; the slug from the front matter or the
file name; the title from the front matter or the first heading.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import frontmatter
import yaml

from toonbank.knowledge.articles import ArticleError, ArticleIn, language_code
from toonbank.knowledge.markdown import blocks

MAX_FILE_BYTES = 2_000_000
MAX_FILES = 5_000
MARKDOWN = (".md", ".markdown")
YAML = (".yaml", ".yml")


def read_path(path: Path, default_language: str | None = None) -> list[ArticleIn]:
    """Every article under ``path`` (a file or a directory), validated."""
    files = [path] if path.is_file() else sorted(_files(path))
    if len(files) > MAX_FILES:
        raise ArticleError(f"{path}: more than {MAX_FILES} files")
    articles: list[ArticleIn] = []
    for file in files:
        if file.stat().st_size > MAX_FILE_BYTES:
            raise ArticleError(f"{file}: larger than {MAX_FILE_BYTES} bytes")
        try:
            text = file.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            raise ArticleError(f"{file}: not UTF-8 text") from None
        suffix = file.suffix.lower()
        if suffix in MARKDOWN:
            articles.append(read_markdown(text, file, default_language))
        elif suffix in YAML:
            articles.extend(read_yaml(text, str(file), default_language))
        elif suffix == ".csv":
            articles.extend(read_csv(text, str(file), default_language))
        else:
            raise ArticleError(f"{file}: not a .md, .yaml or .csv file")
    return [a.checked() for a in articles]


def _files(directory: Path) -> Iterable[Path]:
    for file in directory.rglob("*"):
        hidden = any(part.startswith(".") for part in file.relative_to(directory).parts)
        if file.is_file() and file.suffix.lower() in (*MARKDOWN, *YAML, ".csv") and not hidden:
            yield file


def read_markdown(text: str, file: Path, default_language: str | None = None) -> ArticleIn:
    try:
        post = frontmatter.loads(text)
    except yaml.YAMLError as exc:
        raise ArticleError(f"{file}: front matter is not valid YAML ({exc})") from None
    meta: dict[str, Any] = dict(post.metadata)
    stem, _, suffix_language = file.stem.rpartition(".")
    if not stem or not _is_language(suffix_language):
        stem, suffix_language = file.stem, ""
    folder_language = file.parent.name if _is_language(file.parent.name) else ""
    language = meta.get("language") or meta.get("lang") or suffix_language or folder_language
    body = post.content
    title = meta.get("title")
    if not title:
        first = next((b for b in blocks(body) if b.heading), None)
        title = first.text if first else stem.replace("-", " ").replace("_", " ")
    return _article(meta, title, body, language or default_language, str(file), slug=stem)


def read_yaml(text: str, origin: str, default_language: str | None = None) -> list[ArticleIn]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ArticleError(f"{origin}: not valid YAML ({exc})") from None
    if isinstance(data, dict):
        data = data.get("articles")
    if not isinstance(data, list):
        raise ArticleError(f"{origin}: expected a list of articles (or 'articles:' with one)")
    articles: list[ArticleIn] = []
    for n, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            raise ArticleError(f"{origin} #{n}: an article is a mapping")
        articles.append(
            _article(
                item,
                item.get("title") or "",
                str(item.get("body") or ""),
                item.get("language") or item.get("lang") or default_language,
                f"{origin} #{n}",
            )
        )
    return articles


def read_csv(text: str, origin: str, default_language: str | None = None) -> list[ArticleIn]:
    """Columns ``title,body`` and optionally ``language,tags,slug,source_url,key`` (tags
    separated by ``;`` or ``|``)."""
    reader = csv.DictReader(io.StringIO(text))
    columns = {c.strip().lower() for c in reader.fieldnames or []}
    if not {"title", "body"} <= columns:
        raise ArticleError(f"{origin}: the CSV needs the columns title,body[,language,tags,…]")
    articles: list[ArticleIn] = []
    for n, raw in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "") for k, v in raw.items()}
        meta: dict[str, Any] = {**row, "tags": row.get("tags", "").replace("|", ";").split(";")}
        articles.append(
            _article(
                meta,
                row["title"],
                row["body"],
                row.get("language") or default_language,
                f"{origin} line {n}",
            )
        )
    return articles


def _article(
    meta: dict[str, Any],
    title: Any,
    body: str,
    language: Any,
    origin: str,
    slug: str = "",
) -> ArticleIn:
    if not language:
        raise ArticleError(f"{origin}: no language (front matter, file name or --language)")
    tags = meta.get("tags") or []
    if isinstance(tags, str):
        tags = [t for t in tags.replace(";", ",").split(",")]
    if not isinstance(tags, list):
        raise ArticleError(f"{origin}: tags must be a list")
    source = meta.get("source_url") or meta.get("source") or meta.get("url")
    return ArticleIn(
        title=str(title),
        body=body,
        language=str(language),
        slug=str(meta.get("slug") or slug),
        tags=tuple(str(t) for t in tags),
        source_url=str(source) if source else None,
        translation_key=str(meta.get("key") or meta.get("translation_key") or ""),
        origin=origin,
    )


def _is_language(value: str) -> bool:
    try:
        language_code(value)
    except ArticleError:
        return False
    # Two letters, or two plus a region ("pt-br"): "faq/" or "v1.2.md" are not languages.
    return value.islower() and (len(value) == 2 or (len(value) == 5 and value[2] == "-"))
