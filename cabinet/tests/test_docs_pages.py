"""The API docs pages: nothing from another host, a way back to the cabinet, a summary for every operation."""

import re
from urllib.parse import urlsplit

import pytest
from django.test import Client

from cabinet.tests.test_browser import browser  # noqa: F401 (the Chromium fixture)

DOCS_PAGES = ["/docs/", "/redoc/"]
# Every address an HTML page names in an attribute, and every absolute one in its inline scripts.
ATTRIBUTE_URL = re.compile(r"""(?:src|href|spec-url)\s*=\s*["']([^"']*)["']""")
ABSOLUTE_URL = re.compile(r"""(?:https?:)?//[^\s"'<>)]+""")


def _page_urls(html: str) -> list[str]:
    return ATTRIBUTE_URL.findall(html) + ABSOLUTE_URL.findall(html)


@pytest.mark.parametrize("path", DOCS_PAGES)
def test_a_docs_page_names_no_other_host(path, db):
    client = Client()
    response = client.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    urls = _page_urls(html)
    assert urls, "the page names no address at all: the pattern is wrong"
    foreign = [url for url in urls if urlsplit(url).netloc not in ("", "testserver")]
    assert foreign == []
    # What the page loads comes from this server, answers, and loads nothing from elsewhere in its turn:
    # no image or script drawn from an absolute address, no stylesheet url() to another host.
    assets = re.findall(r'<script src="([^"]+)"', html) + re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
    assert assets
    for asset in assets:
        assert urlsplit(asset).netloc == ""
        response = client.get(asset)
        assert response.status_code == 200, asset
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert not re.findall(rb"""\bsrc\s*:\s*["']https?://[^"']*""", body), asset
        assert not re.findall(rb"""url\(\s*["']?https?://[^)]*""", body), asset


def test_the_redoc_bundle_draws_no_logo_from_its_cdn(db):
    html = Client().get("/redoc/").content.decode()
    (bundle_url,) = re.findall(r'<script src="([^"]*redoc[^"]*)"', html)
    response = Client().get(bundle_url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    bundle = b"".join(response.streaming_content) if response.streaming else response.content
    assert b"Redoc" in bundle and len(bundle) > 100_000
    assert b"cdn.redoc.ly" not in bundle


@pytest.mark.parametrize("path", DOCS_PAGES)
def test_a_docs_page_links_back_to_the_cabinet(path, db):
    html = Client().get(path).content.decode()
    assert re.search(r'<a [^>]*href="/cabinet/"[^>]*>[^<]*cabinet', html, re.IGNORECASE)


def test_every_operation_in_the_schema_has_a_summary(db):
    response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    operations = [
        (method.upper(), path, operation)
        for path, methods in response.json()["paths"].items()
        for method, operation in methods.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]
    assert len(operations) >= 15
    missing = [f"{method} {path}" for method, path, operation in operations if not operation.get("summary")]
    assert missing == []
    # A summary reads as words, not as the operation id ReDoc would show instead.
    assert not [op["summary"] for _, _, op in operations if re.fullmatch(r"[a-z0-9_]+", op["summary"])]


@pytest.mark.parametrize("path", DOCS_PAGES)
def test_a_docs_page_in_chromium_asks_no_other_host(path, browser, live_server):  # noqa: F811
    host = urlsplit(live_server.url).netloc
    page = browser.new_page()
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    try:
        page.goto(live_server.url + path)
        # Rendered from the schema: an operation's summary is on the page.
        page.get_by_text("Create an account", exact=True).first.wait_for(state="attached", timeout=15_000)
        if path == "/redoc/":
            # The sidebar footer is drawn, without the logo it used to fetch.
            footer = page.get_by_text("API docs by Redocly")
            footer.wait_for(timeout=15_000)
            assert footer.locator("img").count() == 0
        # Scrolled to the end, so whatever loads lazily has loaded.
        page.mouse.wheel(0, 20_000)
        page.wait_for_load_state("networkidle")
        foreign = [
            url for url in requested if urlsplit(url).scheme in ("http", "https") and urlsplit(url).netloc != host
        ]
        assert foreign == []
        assert any(url.endswith("/api/schema/") for url in requested)
        page.get_by_role("link", name="Back to the cabinet").click()
        page.wait_for_url(f"{live_server.url}/cabinet/**")
    finally:
        page.close()
