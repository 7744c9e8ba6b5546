"""A second factor for staff and support: a code from an authenticator app
(TOTP), or one of ten single-use recovery codes (django-otp).

Required when settings.HUB_REQUIRE_TWO_FACTOR is on (the default without
DEBUG). After the password, a staff member who has no authenticator yet
enrols one (a QR code, or the key typed by hand, then a code to prove it
works) and receives the recovery codes, shown once; one who has enrolled
types a code. Until then no admin page opens. django-otp slows repeated
wrong codes down (each failure doubles the wait), and support can reset a
lost second factor from the staff accounts list.
"""

import base64

import django_otp
import qrcode
import qrcode.image.svg
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.db import transaction
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

RECOVERY_CODES = 10
VERIFY, ENROL = "verify", "enrol"


def step_for(request) -> str | None:
    """What a logged-in staff member must still do before the admin opens:
    VERIFY (type a code), ENROL (set up an authenticator), or nothing."""
    user = request.user
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return None
    if user.is_verified():
        return None
    enrolled = TOTPDevice.objects.filter(user=user, confirmed=True).exists()
    if enrolled:
        return VERIFY  # once enrolled, always asked, required or not
    return ENROL if settings.HUB_REQUIRE_TWO_FACTOR else None


def go_to_step(request, step: str):
    target = reverse("admin:two_factor_verify" if step == VERIFY else "admin:two_factor_enrol")
    return redirect(f"{target}?{urlencode({'next': request.get_full_path()})}" if request.method == "GET" else target)


def _next(request) -> str:
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(wanted, {request.get_host()}, request.is_secure()):
        return wanted
    return reverse("admin:index")


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True, "inputmode": "text"}),
    )

    def clean_code(self) -> str:
        return "".join(self.cleaned_data["code"].split()).replace("-", "").lower()


def _context(request, site, title: str, **values) -> dict:
    return {**site.each_context(request), "title": title, "next": _next(request), **values}


def _logged_in_staff(view):
    def guarded(request, site):
        if not (request.user.is_authenticated and request.user.is_active and request.user.is_staff):
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        return view(request, site)

    return never_cache(guarded)


@_logged_in_staff
def verify_view(request, site):
    """The code from the authenticator app, or a recovery code."""
    step = step_for(request)
    if step is None:
        return redirect(_next(request))
    if step == ENROL:
        return go_to_step(request, ENROL)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = _matching_device(request.user, form.cleaned_data["code"])
        if device is not None:
            django_otp.login(request, device)
            if isinstance(device, StaticDevice):
                left = device.token_set.count()
                messages.warning(
                    request, _("You used a recovery code: %(left)d left. Each works once.") % {"left": left}
                )
            return redirect(_next(request))
        form.add_error(
            "code",
            _("This code does not work. Type the code your app shows now, or a recovery code; after several "
              "wrong codes, wait a moment before trying again."),
        )  # fmt: skip
    context = _context(request, site, _("Second step"), form=form)
    return TemplateResponse(request, "admin/two_factor/verify.html", context)


def _matching_device(user, code: str):
    """The user's authenticator or recovery codes that accept `code` (each
    device slows down repeated failures)."""
    devices = [*TOTPDevice.objects.filter(user=user, confirmed=True), *StaticDevice.objects.filter(user=user)]
    for device in devices:
        if django_otp.verify_token(user, device.persistent_id, code) is not None:
            return device
    return None


@_logged_in_staff
def enrol_view(request, site):
    """Sets up an authenticator app, then shows the recovery codes once."""
    if TOTPDevice.objects.filter(user=request.user, confirmed=True).exists():
        return go_to_step(request, VERIFY) if not request.user.is_verified() else redirect(_next(request))
    device = TOTPDevice.objects.filter(user=request.user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=request.user, name="authenticator", confirmed=False)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["code"]):
            codes = _confirm(device)
            django_otp.login(request, device)
            title = _("Your recovery codes")
            return TemplateResponse(
                request, "admin/two_factor/recovery_codes.html", _context(request, site, title, codes=codes)
            )
        form.add_error("code", _("This code does not work. Check your phone's time and type the code it shows now."))
    secret = base64.b32encode(device.bin_key).decode()
    context = _context(
        request,
        site,
        _("Set up your second step"),
        form=form,
        secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        qr=_qr_svg(device.config_url),
    )
    return TemplateResponse(request, "admin/two_factor/enrol.html", context)


def _confirm(device: TOTPDevice) -> list[str]:
    """The authenticator confirmed, and a fresh set of recovery codes."""
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        StaticDevice.objects.filter(user=device.user).delete()
        recovery = StaticDevice.objects.create(user=device.user, name="recovery")
        codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
        StaticToken.objects.bulk_create(StaticToken(device=recovery, token=code) for code in codes)
    return codes


def _qr_svg(url: str) -> str:
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    svg = image.to_string(encoding="unicode")
    return mark_safe(svg)  # noqa: S308 (drawn by qrcode from our own URL)


def reset(user) -> None:
    """Support resets a lost second factor: the person enrols again at next login."""
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
