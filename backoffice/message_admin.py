from django.contrib import admin, messages
from django.contrib.admin import DateFieldListFilter
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from phonenumber_field.phonenumber import to_python

from backoffice.admin_scoping import CappedPaginator, ClinicScopedAdmin
from outbox.dispatch import send_again
from outbox.models import Message, OptOut, Reply
from schedules.access import is_support


class ReadOnlyAdmin(ClinicScopedAdmin):
    """The Hub writes these rows; staff read them."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def may_send_again(user, message: Message) -> bool:
    """D15, by staff who may change appointments."""
    return message.can_be_sent_again and user.has_perm("schedules.change_appointment")


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ["due_at", "kind", "channel", "recipient", "state", "sent_at", "attempts", "why", "clinic"]
    # No date hierarchy: it reads every row's date to draw its links.
    list_filter = [("due_at", DateFieldListFilter), "state", "kind", "channel", "clinic"]
    search_fields = ["to", "provider_id"]  # read by get_search_results
    list_select_related = ["clinic"]
    paginator = CappedPaginator
    show_full_result_count = False
    readonly_fields = [field.name for field in Message._meta.fields]
    change_form_template = "admin/outbox/message/change_form.html"

    # A one-time code is the patient's alone: staff see that it was sent,
    # when and where, never the code (its text, or the values it was made of).
    CODE_SECRETS = ("snapshot", "subject", "content", "html")

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        if obj is not None and obj.kind == Message.Kind.CODE:
            return [*fields, "code_withheld"]
        return fields

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if obj is not None and obj.kind == Message.Kind.CODE:
            return [name for name in fields if name not in self.CODE_SECRETS]
        return fields

    @admin.display(description=_("content"))
    def code_withheld(self, message: Message) -> str:
        return _("The one-time code is not shown.")

    @admin.display(description=_("to"), ordering="to")
    def recipient(self, message: Message) -> str:
        return message.readable_to

    @admin.display(description=_("reason"))
    def why(self, message: Message) -> str:
        return message.why

    def lookup_allowed(self, lookup, value, request=None):
        # What a message says is never a filter (`?snapshot__code=…` would
        # tell a one-time code by guessing).
        if lookup.split("__", 1)[0] in (*self.CODE_SECRETS, "error"):
            return False
        # The start page's confirmation rate links to the reminders of confirmed appointments.
        return lookup == "appointment__status__in" or super().lookup_allowed(lookup, value, request)

    def get_search_results(self, request, queryset, search_term):
        """Staff look a message up by its recipient or its provider's id:
        a phone number however it is typed ("514 555-0204"), the start of an
        address, or the whole id. Each is an index lookup (a prefix, not
        "contains"), however many messages the Hub keeps."""
        term = search_term.strip()
        if not term:
            return queryset, False
        found = Q(to__istartswith=term) | Q(provider_id=term)
        number = to_python(term, region="CA")
        if number is not None and number.is_valid():
            found |= Q(to__istartswith=number.as_e164)  # the same index
        return queryset.filter(found), False

    def get_urls(self):
        send_again = self.admin_site.admin_view(self.send_again_view)
        own = [path("<int:pk>/send-again/", send_again, name="outbox_message_send_again")]
        return own + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        message = self.get_object(request, object_id)
        extra = {"may_send_again": message is not None and may_send_again(request.user, message)}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def send_again_view(self, request, pk: int):
        """A confirmation page (GET), then the new message (POST, once)."""
        message = get_object_or_404(self.get_queryset(request).select_related("patient"), pk=pk)
        back = reverse("admin:outbox_message_change", args=[message.pk])
        if not may_send_again(request.user, message):
            self.message_user(request, _("This message cannot be sent again (already sent again, or not failed)."),
                              messages.WARNING)  # fmt: skip
            return redirect(back)
        if request.method == "POST":
            again = send_again(message, request.user)
            if again is None:
                self.message_user(request, _("This message was already sent again."), messages.WARNING)
                return redirect(back)
            self.message_user(request, _("Sent again: the new message goes out within a minute."), messages.SUCCESS)
            return redirect("admin:outbox_message_change", again.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Send this message again?"),
            "subject": message,
            "opts": self.model._meta,
            "back": back,
            "unknown": message.state == Message.State.UNKNOWN,
        }
        return TemplateResponse(request, "admin/outbox/message/send_again.html", context)


class ToHandleFilter(admin.SimpleListFilter):
    """Replies the Hub could not act on, that nobody has handled yet."""

    title = _("to handle")
    parameter_name = "to_handle"

    def lookups(self, request, model_admin):
        return [("yes", _("To handle")), ("no", _("Handled"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(Reply.TO_HANDLE)
        if self.value() == "no":
            return queryset.filter(handled_at__isnull=False)
        return queryset


def may_handle(user, reply: Reply) -> bool:
    return reply.for_staff and reply.handled_at is None and user.has_perm("schedules.change_appointment")


@admin.register(Reply)
class ReplyAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "channel", "number", "body", "outcome", "handled", "message", "clinic"]
    list_filter = [ToHandleFilter, ("received_at", DateFieldListFilter), "outcome", "channel", "clinic"]
    search_fields = ["number", "body"]
    list_select_related = ["clinic", "message", "handled_by"]
    paginator = CappedPaginator
    show_full_result_count = False
    readonly_fields = [field.name for field in Reply._meta.fields]
    change_form_template = "admin/outbox/reply/change_form.html"

    @admin.display(description=_("handled"))
    def handled(self, reply: Reply) -> str:
        if reply.handled_at is None:
            return _("to handle") if reply.for_staff else "—"
        return handled_by_line(reply)

    def get_urls(self):
        handled = self.admin_site.admin_view(self.handled_view)
        return [path("<int:pk>/handled/", handled, name="outbox_reply_handled")] + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        reply = self.get_object(request, object_id)
        extra = {"may_handle": reply is not None and may_handle(request.user, reply)}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def handled_view(self, request, pk: int):
        """POST only: marks a reply of the user's clinics handled, once."""
        reply = get_object_or_404(self.get_queryset(request).select_related("message__appointment"), pk=pk)
        back = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
            back = reverse("admin:outbox_reply_change", args=[reply.pk])
        if request.method != "POST":
            return redirect(back)
        if not may_handle(request.user, reply) or not reply.mark_handled(request.user):
            self.message_user(request, _("This reply was already handled."), messages.WARNING)
        else:
            self.message_user(request, _("Marked handled."), messages.SUCCESS)
        return redirect(back)


def handled_by_line(reply: Reply) -> str:
    """ "Handled by Julie Roy on 4 December at 10:15", in the reader's language."""
    from django.utils import formats, timezone

    who = reply.handled_by.get_full_name() or reply.handled_by.get_username() if reply.handled_by else "—"
    when = formats.date_format(timezone.localtime(reply.handled_at), "SHORT_DATETIME_FORMAT")
    return _("%(who)s, %(when)s") % {"who": who, "when": when}


@admin.register(OptOut)
class OptOutAdmin(admin.ModelAdmin):
    """Numbers are not tied to one clinic: support only."""

    list_display = ["number", "at"]
    search_fields = ["number"]

    def has_module_permission(self, request) -> bool:
        return is_support(request.user)

    def has_view_permission(self, request, obj=None) -> bool:
        return is_support(request.user)
