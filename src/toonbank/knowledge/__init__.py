"""The knowledge base: a workspace's FAQ and policy articles, retrieved to answer questions.

Public API (stable; the dialogue and inbox suggestions call it)::

    from toonbank.knowledge import search_knowledge, KnowledgeHit

    hits = await search_knowledge(session, workspace_id, "hoe lang kan ik retourneren?", "nl")
    for hit in hits:  # best first; empty when nothing is relevant enough
        hit.article_id, hit.title, hit.snippet, hit.source, hit.score

Articles are written with :func:`upsert_articles` (imports), :func:`create_article`,
:func:`update_article`, :func:`delete_article` (pass ``embedded=`` from :func:`embed_articles`,
computed before the transaction, to keep the encoder out of it); files are read with
:func:`read_path`; :func:`toonbank.knowledge.importing.import_articles` does both at a
boundary.
See docs/knowledge.md.
"""

from toonbank.knowledge.articles import ArticleError, ArticleIn
from toonbank.knowledge.retrieval import MIN_SCORE, KnowledgeHit, search_knowledge
from toonbank.knowledge.service import (
    DuplicateArticle,
    ImportResult,
    Passages,
    changed_articles,
    create_article,
    delete_article,
    embed_articles,
    get_article,
    list_articles,
    update_article,
    upsert_articles,
)
from toonbank.knowledge.sources import read_path

__all__ = [
    "MIN_SCORE",
    "ArticleError",
    "ArticleIn",
    "DuplicateArticle",
    "ImportResult",
    "KnowledgeHit",
    "Passages",
    "changed_articles",
    "create_article",
    "delete_article",
    "embed_articles",
    "get_article",
    "list_articles",
    "read_path",
    "search_knowledge",
    "update_article",
    "upsert_articles",
]
