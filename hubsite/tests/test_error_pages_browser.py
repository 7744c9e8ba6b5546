"""The Hub's error pages in a real browser (DEBUG off), in French and English."""

import pytest

from conftest import open_tab

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WORDS = {
    "fr": ("fr-CA", "Page introuvable", "Une erreur est survenue"),
    "en": ("en-CA", "Page not found", "Something went wrong"),
}


@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_wrong_address_and_a_server_error_show_the_hubs_pages_in_the_browsers_language(
    browser, live_server, settings, monkeypatch, language
):
    settings.DEBUG = False
    locale, not_found, server_error = WORDS[language]

    def fail(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr("hubsite.urls.examine", fail)
    context, page = open_tab(browser, 390, 844, locale=locale)
    try:
        response = page.goto(f"{live_server.url}/rendez-vous-perdu/")
        assert response.status == 404
        assert page.title().startswith(not_found) and page.locator("h1").inner_text() == not_found
        response = page.goto(f"{live_server.url}/health/")
        assert response.status == 500
        assert page.title().startswith(server_error) and page.locator("h1").inner_text() == server_error
    finally:
        context.close()
