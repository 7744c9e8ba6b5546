"""Who changed an appointment: a staff member, the patient, or the Hub
itself. The status history (R29) records it.

Passed explicitly by whoever makes the change (`Appointment.save(actor=…)`,
`StatusChange.write_down(…, actor=…)`): the back office names the staff
member signed in, the patient pages and SMS replies the patient, the
dispatcher the Hub. A change made elsewhere (a shell, an import) is recorded
as staff with no named user.
"""

from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser


@dataclass(frozen=True)
class Actor:
    kind: str  # StatusChange.Actor value
    user: AbstractBaseUser | None = None


STAFF = Actor("staff")
PATIENT = Actor("patient")
HUB = Actor("hub")
