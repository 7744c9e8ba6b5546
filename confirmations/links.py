"""Signed links from an email to the patient pages (D11).

A link names one appointment and its patient (by their public ids, never a
primary key or any personal data) and one action; each action signs with its own salt, so a
cancel link cannot be turned into a confirm link. The language of the
message that carried it rides along. Whether the link still works (the
appointment has not started) is decided when it is used.
"""

from dataclasses import dataclass
from uuid import UUID

from django.conf import settings
from django.core import signing
from django.urls import reverse

CANCEL, CONFIRM = "cancel", "confirm"
SALTS = {CANCEL: "hub.patient-link.cancel", CONFIRM: "hub.patient-link.confirm"}


class BadLink(Exception):
    """Tampered, foreign, or for another action: all look the same to the patient."""


@dataclass(frozen=True)
class Link:
    appointment: UUID
    patient: UUID  # the link stops working if the appointment is given to another patient (D13)
    action: str
    language: str


def token_for(appointment_public_id: UUID, patient_public_id: UUID, action: str, language: str) -> str:
    payload = {"a": str(appointment_public_id), "p": str(patient_public_id), "l": language}
    return signing.dumps(payload, salt=SALTS[action])


def read(token: str, action: str) -> Link:
    try:
        payload = signing.loads(token, salt=SALTS[action])
        language = payload["l"] if payload.get("l") in ("fr", "en") else "fr"
        return Link(UUID(payload["a"]), UUID(payload["p"]), action, language)
    except (signing.BadSignature, KeyError, ValueError, TypeError) as error:
        raise BadLink from error


def url_for(appointment_public_id: UUID, patient_public_id: UUID, action: str, language: str) -> str:
    token = token_for(appointment_public_id, patient_public_id, action, language)
    return f"{settings.HUB_PUBLIC_URL}{reverse(f'patient-{action}', args=[token])}"
