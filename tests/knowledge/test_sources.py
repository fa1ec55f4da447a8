"""Reading articles from Markdown (front matter), YAML and CSV; Markdown chunking."""

from __future__ import annotations

from pathlib import Path

import pytest

from toonbank.knowledge import ArticleError, read_path
from toonbank.knowledge.markdown import chunks, plain_text


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_markdown_front_matter_file_names_and_folders(tmp_path: Path) -> None:
    write(
        tmp_path / "returns.en.md",
        "---\ntitle: Returns\ntags: [Returns, refund]\nsource_url: https://x.test/returns\n"
        "key: returns\n---\n# Ignored heading\n\nWithin **30 days**.\n",
    )
    write(tmp_path / "nl" / "retourneren.md", "# Retourneren\n\nBinnen 30 dagen.\n")
    write(tmp_path / "faq" / "Store Hours.md", "Open every day.\n")
    write(tmp_path / ".hidden" / "secret.md", "---\nlanguage: en\n---\nnot read\n")
    write(tmp_path / "notes.txt", "not an article")
    articles = {a.slug: a for a in read_path(tmp_path, default_language="de")}
    assert set(articles) == {"returns", "retourneren", "store-hours"}
    returns = articles["returns"]
    assert (returns.title, returns.language, returns.translation_key) == (
        "Returns",
        "en",
        "returns",
    )
    assert returns.tags == ("returns", "refund") and returns.source_url == "https://x.test/returns"
    dutch = articles["retourneren"]
    assert (dutch.title, dutch.language, dutch.translation_key) == (
        "Retourneren", "nl", "retourneren"
    )  # fmt: skip
    hours = articles["store-hours"]  # "faq" is not a language; the default applies
    assert (hours.title, hours.language) == ("Store Hours", "de")


def test_yaml_and_csv(tmp_path: Path) -> None:
    write(
        tmp_path / "faq.yaml",
        "articles:\n  - title: Gift cards\n    body: Use them online.\n    language: en\n"
        "  - title: Cadeaukaarten\n    body: Online te gebruiken.\n    lang: nl\n"
        "    key: gift-cards\n",
    )
    write(
        tmp_path / "more.csv",
        "title,body,language,tags,source_url\n"
        'Sizes,"Sizes 44 to 58, see the table.",en,sizes;fit,/help/sizes\n',
    )
    articles = read_path(tmp_path)
    assert [(a.slug, a.language, a.translation_key) for a in articles] == [
        ("gift-cards", "en", "gift-cards"),
        ("cadeaukaarten", "nl", "gift-cards"),
        ("sizes", "en", "sizes"),
    ]
    assert articles[2].tags == ("sizes", "fit") and articles[2].source_url == "/help/sizes"


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("a.md", "no language here", "no language"),
        ("a.md", "---\nlanguage: english\n---\nbody", "not a language code"),
        ("a.md", "---\ntitle: [unclosed\n---\nbody", "front matter"),
        ("a.csv", "question,answer\nq,a\n", "title,body"),
        ("a.yaml", "just a string", "list of articles"),
        ("a.yaml", "- title: T\n  body: ''\n  language: en\n", "body must have"),
    ],
)
def test_invalid_sources_are_refused(tmp_path: Path, name: str, text: str, message: str) -> None:
    with pytest.raises(ArticleError, match=message):
        read_path(write(tmp_path / name, text))


def test_chunks_follow_sections_and_carry_the_title() -> None:
    body = (
        "Intro line.\n\n## Costs\n\n- PostNL: 1 to 2 days\n- DHL: next day\n\n"
        "| Country | Days |\n|---|---|\n| NL | 1 |\n\n## Long\n\n" + "word " * 300
    )
    parts = chunks("Shipping", body, max_chars=200)
    assert parts[0] == "Shipping. Intro line."
    assert parts[1] == "Shipping. Costs PostNL: 1 to 2 days DHL: next day Country | Days NL | 1"
    assert all(p.startswith("Shipping. ") for p in parts)
    assert all(len(p) <= len("Shipping. ") + 200 for p in parts)
    assert sum(p.count("word") for p in parts) == 300
    assert plain_text("See [the page](http://x.test) <b>now</b>.") == "See the page now."
