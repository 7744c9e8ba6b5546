from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from backoffice.admin_scoping import ClinicScopedAdmin
from booking import waitlist
from booking.models import BookingRequest, Offer, WaitlistEntry
from outbox.contacts import EMAIL, SMS, configured_channels, contact_for


class OfferInline(admin.TabularInline):
    """Each offer made to the entry's patient, and what came of it."""

    model = Offer
    extra = 0
    can_delete = False
    fields = ["slot_start", "channel", "created_at", "expires_at", "state", "answered_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("sent by"))
    def channel(self, offer: Offer) -> str:
        return offer.message.get_channel_display() if offer.message_id and offer.message.channel else ""


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(ClinicScopedAdmin):
    list_display = ["patient", "service", "professional", "earliest", "latest", "state", "offers_made", "created_at"]
    list_filter = ["state", "service", "clinic"]
    search_fields = ["patient__last_name", "patient__first_name"]
    list_select_related = ["patient", "service", "professional"]
    autocomplete_fields = ["patient"]
    fields = ["clinic", "patient", "service", "professional", "earliest", "latest", "state", "added_by", "appointment"]
    readonly_fields = ["added_by", "appointment"]
    inlines = [OfferInline]

    def save_model(self, request, obj: WaitlistEntry, form, change: bool) -> None:
        """D21: a patient already waiting for the service on overlapping
        dates keeps one entry, widened; and times free when staff set what
        she waits for are not offered to her (only those freed after): for
        another patient or service, any; for wider dates, those on the
        dates added (`waitlist.ask_for`)."""
        changed = set(form.changed_data) if change else set()
        if {"patient", "service"} & changed:
            waitlist.waits_anew(obj)
        elif {"earliest", "latest"} & changed:
            waitlist.ask_for(obj, obj.earliest, obj.latest)
        kept = waitlist.join(obj)
        if kept.pk != obj.pk:
            obj.pk = kept.pk
            obj.refresh_from_db()
            messages.info(
                request,
                _("This patient was already waiting for this service on these dates: that entry now covers both."),
            )
        if contact_for(obj.patient, channels=configured_channels() & {EMAIL, SMS}) is None:
            messages.warning(
                request,
                _(
                    "This patient has no email or mobile that offers can go to: they will get no offer until "
                    "their record has one."
                ),
            )

    @admin.display(description=_("offers"))
    def offers_made(self, entry: WaitlistEntry) -> int:
        return entry.offers.count()


@admin.register(BookingRequest)
class BookingRequestAdmin(ClinicScopedAdmin):
    """For support: what a patient asked on the booking page (never the code)."""

    list_display = ["created_at", "clinic", "first_name", "last_name", "contact", "verified_at", "appointment"]
    list_filter = ["clinic"]
    exclude = ["code_hash"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
