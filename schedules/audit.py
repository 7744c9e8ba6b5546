"""The audit history's recorder (django-simple-history), safe from both
sides of a many-to-many link.

simple-history records a change of a many-to-many field (a clinic's staff,
an account's groups) on the instance the change was made from. Made from
the other side (`user.clinics.add(clinic)`, `group.user_set.add(user)`), it
would try to record the user as a clinic, and fail. Here a change from the
other side is recorded on each record it changed.
"""

from simple_history.models import HistoricalRecords


class AuditRecords(HistoricalRecords):
    def m2m_changed(self, instance, action, attr, pk_set, reverse, **kwargs):
        if not reverse:
            return super().m2m_changed(instance, action, attr, pk_set, reverse, **kwargs)
        model = self.cls
        if action == "pre_clear":
            # Which records are about to lose `instance`: known only before.
            linked = model.objects.none()
            for name in self.m2m_fields:
                linked = linked | model.objects.filter(**{name: instance})
            instance._audit_cleared = set(linked.values_list("pk", flat=True))
            return None
        if action in ("post_add", "post_remove"):
            changed = pk_set or set()
        elif action == "post_clear":
            changed = getattr(instance, "_audit_cleared", set())
        else:
            return None
        for record in model.objects.filter(pk__in=changed):
            self.create_historical_record(record, "~")
        return None
