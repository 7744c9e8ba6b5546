"""One security test case for every Twilio webhook (as anymail does for its
providers): a subclass names the endpoint and a valid payload, and inherits
every check of the signature."""

import pytest
from twilio.request_validator import RequestValidator

TOKEN = "twilio-auth-token"
PUBLIC = "https://hub.example.org"


def signature(url: str, params: dict, token: str = TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params)


def post_signed(client, path: str, params: dict, *, sign_url: str | None = None, sign_params=None, token=TOKEN):
    url = sign_url or f"{PUBLIC}{path}"
    return client.post(
        path,
        params,
        HTTP_X_TWILIO_SIGNATURE=signature(url, sign_params if sign_params is not None else params, token),
    )


class TwilioWebhookSecurityCases:
    """Subclasses provide the `endpoint` fixture: (path, params, success status)."""

    @pytest.fixture(autouse=True)
    def _twilio(self, settings):
        settings.TWILIO_AUTH_TOKEN = TOKEN
        settings.HUB_PUBLIC_URL = PUBLIC

    def test_a_valid_signature_is_accepted(self, client, endpoint):
        path, params, ok = endpoint
        assert post_signed(client, path, params).status_code == ok

    def test_a_missing_signature_is_refused(self, client, endpoint):
        path, params, _ok = endpoint
        assert client.post(path, params).status_code == 403

    def test_a_wrong_signature_is_refused(self, client, endpoint):
        path, params, _ok = endpoint
        assert post_signed(client, path, params, token="another-token").status_code == 403

    def test_a_tampered_parameter_is_refused(self, client, endpoint):
        path, params, _ok = endpoint
        tampered = {key: f"{value}0" for key, value in params.items()}
        assert post_signed(client, path, tampered, sign_params=params).status_code == 403

    def test_an_extra_parameter_is_refused(self, client, endpoint):
        path, params, _ok = endpoint
        assert post_signed(client, path, {**params, "Extra": "1"}, sign_params=params).status_code == 403

    def test_a_signature_for_plain_http_is_refused_behind_https(self, client, endpoint):
        path, params, _ok = endpoint
        http_url = f"{PUBLIC.replace('https://', 'http://')}{path}"
        assert post_signed(client, path, params, sign_url=http_url).status_code == 403

    def test_a_signature_for_another_path_is_refused(self, client, endpoint):
        path, params, _ok = endpoint
        assert post_signed(client, path, params, sign_url=f"{PUBLIC}/elsewhere/").status_code == 403

    def test_everything_is_refused_without_an_auth_token(self, client, settings, endpoint):
        path, params, _ok = endpoint
        settings.TWILIO_AUTH_TOKEN = ""
        assert post_signed(client, path, params, token="").status_code == 403

    def test_get_is_refused(self, client, endpoint):
        path, _params, _ok = endpoint
        assert client.get(path).status_code == 405

    def test_a_repeated_parameter_is_refused_not_a_crash(self, client, endpoint):
        path, params, _ok = endpoint
        key = next(iter(params))
        repeated = {**params, key: [params[key], "again"]}
        assert post_signed(client, path, repeated, sign_params=params).status_code == 403
