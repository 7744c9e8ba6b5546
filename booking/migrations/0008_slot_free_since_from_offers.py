from django.db import migrations
from django.db.models import Min, OuterRef, Subquery


def free_since_from_offers(apps, schema_editor):
    """D21: slots kept before the Hub knew since when they were free have
    none, and so never get another round of offers. Those the waiting list
    had offered were free by then: they count as freed at their first offer
    (the entries made before it may be offered them again, none made after)."""
    Slot = apps.get_model("schedules", "Slot")
    Offer = apps.get_model("booking", "Offer")
    first = Offer.objects.filter(slot=OuterRef("pk")).values("slot").annotate(first=Min("created_at")).values("first")
    Slot.objects.filter(free_since__isnull=True, pk__in=Offer.objects.values("slot")).update(
        free_since=Subquery(first)
    )


class Migration(migrations.Migration):
    dependencies = [
        ("booking", "0007_waitlist_dates_asked_before"),
        ("schedules", "0014_slot_free_since_waitlist_source"),
    ]

    operations = [migrations.RunPython(free_since_from_offers, migrations.RunPython.noop)]
