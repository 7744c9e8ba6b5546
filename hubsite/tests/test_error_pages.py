"""Production error pages (DEBUG off): the Hub's own "page not found" and
"server error", in the visitor's language, never Django's bare English."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

NOT_FOUND = {"fr": "Page introuvable", "en": "Page not found"}
SERVER_ERROR = {"fr": "Une erreur est survenue", "en": "Something went wrong"}


@pytest.fixture(autouse=True)
def production(settings):
    settings.DEBUG = False


def visitor(language: str, by: str) -> Client:
    """A visitor whose language comes from the browser, or from the language cookie."""
    if by == "cookie":
        client = Client(HTTP_ACCEPT_LANGUAGE="fr-CA" if language == "en" else "en-CA")
        client.cookies["django_language"] = language
        return client
    return Client(HTTP_ACCEPT_LANGUAGE=f"{language}-CA")


@pytest.fixture
def broken_health(monkeypatch):
    def fail(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr("hubsite.urls.examine", fail)


@pytest.mark.parametrize("by", ["browser", "cookie"])
@pytest.mark.parametrize("language", ["fr", "en"])
def test_an_unknown_address_gets_the_hubs_page_not_found_in_the_visitors_language(language, by):
    response = visitor(language, by).get("/nulle-part/")
    page = response.content.decode()
    assert response.status_code == 404
    assert f"<title>{NOT_FOUND[language]}" in page and f"<h1>{NOT_FOUND[language]}</h1>" in page
    assert f'lang="{language}' in page
    assert "Not Found</h1>" not in page


@pytest.mark.parametrize("by", ["browser", "cookie"])
@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_server_error_gets_the_hubs_page_in_the_visitors_language(broken_health, language, by):
    client = visitor(language, by)
    client.raise_request_exception = False
    response = client.get("/health/")
    page = response.content.decode()
    assert response.status_code == 500
    assert f"<title>{SERVER_ERROR[language]}" in page and f"<h1>{SERVER_ERROR[language]}</h1>" in page
    assert "the database went away" not in page


def test_the_server_error_page_needs_nothing_that_can_fail_itself(broken_health, settings):
    """What failed may be the database or the session: the page is drawn
    from the request's language alone, with no context processor."""
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "OPTIONS": {**settings.TEMPLATES[0]["OPTIONS"],
         "context_processors": [*settings.TEMPLATES[0]["OPTIONS"]["context_processors"],
                                "hubsite.tests.test_error_pages.failing_processor"]}}
    ]  # fmt: skip
    client = visitor("en", "browser")
    client.raise_request_exception = False
    response = client.get("/health/")
    assert response.status_code == 500
    assert SERVER_ERROR["en"] in response.content.decode()


def failing_processor(request):
    raise RuntimeError("a context processor that needs the database")


BAD_REQUEST = {"fr": "Demande invalide", "en": "Bad request"}
FORBIDDEN = {"fr": "Accès refusé", "en": "Access denied"}


@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_request_for_another_host_gets_the_hubs_bad_request_page(language):
    response = visitor(language, "browser").get("/admin/login/", HTTP_HOST="evil.example")
    page = response.content.decode()
    assert response.status_code == 400
    assert f"<h1>{BAD_REQUEST[language]}</h1>" in page and f'lang="{language}' in page


@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_page_staff_may_not_see_gets_the_hubs_access_denied_page(clinic, language):
    from django.contrib.auth.models import Group, User

    from schedules.access import STAFF_GROUP

    user = User.objects.create_user("accueil", is_staff=True)
    user.groups.add(Group.objects.get(name=STAFF_GROUP))
    clinic.staff.add(user)
    client = visitor(language, "browser")
    client.force_login(user)
    response = client.get("/admin/auth/user/")
    page = response.content.decode()
    assert response.status_code == 403
    assert f"<h1>{FORBIDDEN[language]}</h1>" in page and f'lang="{language}' in page
