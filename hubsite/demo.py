"""Demo data: two clinics, their people, slots and appointments.

Idempotent: every object is found by a natural key before it is created, so
loading twice (or every time the Hub starts) changes nothing the second
time on the same day. Times are relative to today in each clinic's zone.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from patients.models import Patient
from schedules.access import STAFF_GROUP, SUPPORT_GROUP
from schedules.models import Appointment, Clinic, Professional, Service, Slot

Kind = Professional.Kind
Category = Service.Category

SERVICES = [
    # name_fr, name_en, category, online cancellation delay
    ("Rendez-vous en clinique", "In-clinic visit", Category.IN_PERSON, timedelta(hours=24)),
    ("Consultation téléphonique", "Phone consultation", Category.PHONE, timedelta(hours=2)),
    ("Consultation virtuelle", "Virtual consultation", Category.VIRTUAL, timedelta(hours=4)),
    ("Visite à domicile", "Home visit", Category.HOME, timedelta(hours=48)),
    ("Suivi de grossesse", "Pregnancy follow-up", Category.IN_PERSON, None),
    ("Tâches administratives", "Administrative time", Category.NONE, None),
]

CLINICS = [
    {
        "name": "Clinique médicale du Plateau",
        "address": "4500, rue Saint-Denis\nMontréal (Québec) H2J 2L3",
        "phone": "+15145550100",
        "email": "accueil@plateau.example.org",
        "hub_connected": True,
        "login": "plateau",
        "professionals": [
            ("Marie", "Tremblay", Kind.GP),
            ("Julie", "Gagnon", Kind.NP),
            ("Sophie", "Roy", Kind.NURSE),
            ("Alexandre", "Côté", Kind.RESIDENT),
            ("Camille", "Bouchard", Kind.EXTERN),
            ("Louis", "Fortin", Kind.SPECIALIST),
            ("Nadia", "Morin", Kind.OTHER),
        ],
    },
    {
        "name": "Clinique familiale de Sherbrooke",
        "address": "1200, rue King Ouest\nSherbrooke (Québec) J1H 1S2",
        "phone": "+18195550100",
        "email": "accueil@sherbrooke.example.org",
        "hub_connected": False,
        "login": "sherbrooke",
        "professionals": [
            ("Étienne", "Lavoie", Kind.GP),
            ("Isabelle", "Pelletier", Kind.NURSE),
        ],
    },
]

FIRST_NAMES = (
    "Léa Noah Emma William Alice Thomas Florence Liam Rosalie Jacob Charlotte Nathan Zoé Félix "
    "Chloé Olivier Béatrice Samuel Juliette Gabriel Mia Raphaël Jade Émile Maëlle Arthur Clara "
    "Hugo Eva Louis"
).split()
LAST_NAMES = (
    "Gauthier Ouellet Bélanger Lévesque Bergeron Leblanc Girard Caron Poirier Cloutier Fournier "
    "Lapointe Simard Boucher Dubé Paquette Lemieux Mercier Nadeau Martel Demers Vachon Beaulieu "
    "Champagne Hébert Dufour Thibault Lacroix Savard Brunet"
).split()

# Every contact case the Hub must handle (R19, D9), in French and English.
CONTACT_CASES = [
    {"email": True},
    {"email": True, "mobile": True, "phone": True},
    {"other_email": True},
    {"mobile": True},
    {"mobile": True, "phone": True},
    {"phone": True},
    {"other_mobile": True, "other_phone": True},  # only numbers the Hub never uses
    {},  # no contact at all
    {"email": "not-an-email", "mobile": "555-12", "phone": True},  # malformed entries are skipped
]


@dataclass
class DemoLogin:
    username: str
    password: str
    role: str


def patient_contacts(index: int, case: dict, first: str, last: str) -> dict:
    slug = f"{first}.{last}".lower()
    for accented, plain in zip("éèêëàâçôîïûüÉ", "eeeeaacoiiuuE", strict=True):
        slug = slug.replace(accented, plain)
    number = 5550200 + index
    values = {
        "email": f"{slug}@example.com",
        "other_email": f"{slug}@example.net",
        "mobile": f"+1514{number}",
        "other_mobile": f"+1438{number}",
        "phone": f"+1450{number}",
        "other_phone": f"+1819{number}",
    }
    contacts = {}
    for field, wanted in case.items():
        # Malformed entries are stored as typed: the record may come from an
        # import, and the Hub must skip them (D9) rather than crash.
        contacts[field] = wanted if isinstance(wanted, str) else values[field]
    return contacts


def local_instant(clinic: Clinic, day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=clinic.zone)


@transaction.atomic
def load_demo(today: date | None = None) -> list[DemoLogin]:
    _demo_user("support", SUPPORT_GROUP, first_name="Équipe", last_name="de soutien")
    logins = [DemoLogin("support", "demo-support", "support (every clinic)")]

    for index, spec in enumerate(CLINICS):
        clinic, _ = Clinic.objects.update_or_create(
            name=spec["name"],
            defaults={
                "address": spec["address"],
                "phone": spec["phone"],
                "email": spec["email"],
                "hub_connected": spec["hub_connected"],
                # A connected clinic's booking page: /prendre-rendez-vous/<login>/
                "online_booking": spec["hub_connected"],
                "booking_address": spec["login"],
            },
        )
        today_here = today or timezone.localdate(timezone=clinic.zone)
        clinic.staff.add(_demo_user(spec["login"], STAFF_GROUP, first_name="Accueil", last_name=clinic.name))
        logins.append(DemoLogin(spec["login"], f"demo-{spec['login']}", f"staff of {clinic.name}"))

        services = [
            Service.objects.update_or_create(
                clinic=clinic,
                name_fr=name_fr,
                defaults={
                    "name_en": name_en,
                    "category": category,
                    "cancellation_delay": delay,
                    "online_booking": category in (Category.IN_PERSON, Category.PHONE, Category.VIRTUAL),
                },
            )[0]
            for name_fr, name_en, category, delay in SERVICES
        ]
        professionals = [
            Professional.objects.get_or_create(clinic=clinic, first_name=first, last_name=last, kind=kind)[0]
            for first, last, kind in spec["professionals"]
        ]
        slots = _load_slots(clinic, professionals, services, today_here)
        patients = _load_patients(clinic, offset=index * 15, count=20 if spec["hub_connected"] else 10)
        _load_appointments(clinic, slots, patients, professionals, services, today_here)
    return logins


def _demo_user(username: str, group: str, **names: str):
    """A staff login whose password is "demo-<username>"."""
    user, created = get_user_model().objects.get_or_create(username=username, defaults={"is_staff": True, **names})
    if created:
        user.set_password(f"demo-{username}")
        user.save()
    user.groups.add(Group.objects.get(name=group))
    return user


def _load_slots(clinic, professionals, services, today_here) -> list[Slot]:
    """Half-hour slots on weekday mornings, from yesterday to three weeks out.

    Each professional's slots rotate through the services, so that every
    category (including "none") appears in the schedule.
    """
    slots = []
    for day_offset in range(-1, 22):
        day = today_here + timedelta(days=day_offset)
        if day.weekday() >= 5:
            continue
        for p_index, professional in enumerate(professionals):
            for half_hour in range(6):
                start = local_instant(clinic, day, time(9, 0)) + timedelta(minutes=30 * half_hour)
                service = services[(p_index + half_hour) % len(services)]
                slot, _ = Slot.objects.get_or_create(
                    professional=professional,
                    start=start,
                    defaults={"end": start + timedelta(minutes=30), "service": service},
                )
                slots.append(slot)
    return slots


def _load_patients(clinic, offset: int, count: int) -> list[Patient]:
    patients = []
    for index in range(count):
        first = FIRST_NAMES[(offset + index) % len(FIRST_NAMES)]
        last = LAST_NAMES[(offset + index) % len(LAST_NAMES)]
        case = CONTACT_CASES[index % len(CONTACT_CASES)]
        patient, _ = Patient.objects.get_or_create(
            clinic=clinic,
            first_name=first,
            last_name=last,
            defaults={
                "language": "en" if index % 3 == 2 else "fr",
                **patient_contacts(offset + index, case, first, last),
            },
        )
        patients.append(patient)
    return patients


def _load_appointments(clinic, slots, patients, professionals, services, today_here) -> None:
    """About fifteen appointments per clinic, from yesterday to next week."""
    by_day: dict[date, list[Slot]] = {}
    for slot in slots:
        by_day.setdefault(clinic.local(slot.start).date(), []).append(slot)
    days = [day for day in sorted(by_day) if day <= today_here + timedelta(days=7)]
    sources = [Appointment.Source.STAFF] * 4 + [Appointment.Source.ONLINE_HUB, Appointment.Source.EXTERNAL]
    for index, patient in enumerate(patients[:15]):
        day_slots = by_day[days[index % len(days)]]
        slot = day_slots[(index * 7) % len(day_slots)]
        source = sources[index % len(sources)]
        if not Slot.objects.free().filter(pk=slot.pk).exists():
            continue
        Appointment.objects.get_or_create(
            patient=patient,
            slot=slot,
            defaults={
                "professional": slot.professional,
                "source": source,
                "booking_language": patient.language if source == Appointment.Source.ONLINE_HUB else None,
            },
        )
    # One appointment outside any slot (R3: the Hub does not see it).
    start = local_instant(clinic, today_here + timedelta(days=2), time(13, 0))
    Appointment.objects.get_or_create(
        patient=patients[-1],
        start=start,
        defaults={
            "professional": professionals[0],
            "service": services[0],
            "end": start + timedelta(minutes=20),
            "notes": "Rendez-vous hors plage horaire",
        },
    )
