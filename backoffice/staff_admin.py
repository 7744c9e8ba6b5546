"""Staff accounts, managed by support (issue 11): create a clinic's staff
member, choose their clinics, reset their password, deactivate them.

Support need not be superusers for this. They manage clinic staff only:
making someone support or superuser, or changing such an account, stays
with superusers, so a support account cannot raise its own rights or
another's. An account is deactivated, never deleted: its name stays on
the history it wrote. Clinic staff do not see accounts at all.
"""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group, User
from django.utils.translation import gettext_lazy as _

from backoffice import two_factor
from backoffice.admin_scoping import AuditedAdmin, SafeModelMultipleChoiceField
from schedules.access import STAFF_GROUP, SUPPORT_GROUP, is_support
from schedules.models import Clinic


class ClinicsField(SafeModelMultipleChoiceField):
    def __init__(self, **kwargs):
        super().__init__(
            queryset=Clinic.objects.order_by("name"),
            required=False,
            widget=admin.widgets.FilteredSelectMultiple(_("clinics"), is_stacked=False),
            label=_("clinics"),
            help_text=_("The clinics whose schedule this staff member sees and manages."),
            **kwargs,
        )


class StaffAccountForm(UserChangeForm):
    clinics = ClinicsField()

    class Meta(UserChangeForm.Meta):
        fields = ["username", "first_name", "last_name", "email", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["clinics"].initial = list(self.instance.clinics.values_list("pk", flat=True))


class NewStaffAccountForm(AdminUserCreationForm):
    clinics = ClinicsField()

    class Meta(AdminUserCreationForm.Meta):
        fields = ["username", "first_name", "last_name", "email"]


class StaffAccountAdmin(AuditedAdmin, UserAdmin):
    form = StaffAccountForm
    add_form = NewStaffAccountForm
    fieldsets = [
        (None, {"fields": ["username", "password"]}),
        (_("Person"), {"fields": ["first_name", "last_name", "email"]}),
        (_("Access"), {"fields": ["is_active", "clinics", "role"]}),
        (_("Dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"fields": ["username", "usable_password", "password1", "password2"]}),
        (_("Person"), {"fields": ["first_name", "last_name", "email"]}),
        (_("Access"), {"fields": ["clinics"]}),
    ]
    readonly_fields = ["last_login", "date_joined", "role"]
    list_display = ["username", "first_name", "last_name", "email", "is_active", "role", "clinic_names"]
    list_filter = ["is_active", "groups"]
    actions = ["reset_second_factor"]
    filter_horizontal = []

    def get_fieldsets(self, request, obj=None):
        if obj is not None and request.user.is_superuser:
            # Superusers also grant the support role and the superuser status.
            return [*self.fieldsets, (_("Rights"), {"fields": ["is_superuser", "groups"]})]
        return super().get_fieldsets(request, obj)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups", "clinics")

    def has_module_permission(self, request) -> bool:
        return is_support(request.user) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return is_support(request.user) and super().has_view_permission(request, obj)

    def has_add_permission(self, request) -> bool:
        return is_support(request.user) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None) -> bool:
        if not (is_support(request.user) and super().has_change_permission(request, obj)):
            return False
        # Support manage plain clinic staff accounts; any other (support,
        # superuser, or one with rights of its own) is the superusers' to change.
        return obj is None or request.user.is_superuser or plain_clinic_staff(obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # deactivate instead: the history keeps naming them

    def save_model(self, request, obj, form, change):
        if not change:
            obj.is_staff = True  # a back-office account
        super().save_model(request, obj, form, change)
        if not change:
            obj.groups.add(Group.objects.get(name=STAFF_GROUP))

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # From each clinic's side, so that each clinic's audit history says
        # who gave or took away access to it.
        user, wanted = form.instance, set(form.cleaned_data.get("clinics") or [])
        current = set(user.clinics.all())
        for clinic in wanted - current:
            clinic.staff.add(user)
        for clinic in current - wanted:
            clinic.staff.remove(user)

    @admin.action(description=_("Reset the second step (lost phone): they set it up again at next login"))
    def reset_second_factor(self, request, queryset):
        accounts = [user for user in queryset if self.has_change_permission(request, user)]
        for user in accounts:
            two_factor.reset(user)
        self.message_user(request, _("Second step reset for %(count)d account(s).") % {"count": len(accounts)})

    @admin.display(description=_("role"))
    def role(self, user: User) -> str:
        if user.is_superuser:
            return _("superuser")
        return _("support") if is_support_account(user) else _("clinic staff")

    @admin.display(description=_("clinics"))
    def clinic_names(self, user: User) -> str:
        return ", ".join(clinic.name for clinic in user.clinics.all()) or "—"


def plain_clinic_staff(user: User) -> bool:
    return (
        not user.is_superuser
        and {group.name for group in user.groups.all()} <= {STAFF_GROUP}
        and not user.user_permissions.exists()
    )


def is_support_account(user: User) -> bool:
    return any(group.name == SUPPORT_GROUP for group in user.groups.all())


admin.site.unregister(User)
admin.site.register(User, StaffAccountAdmin)
