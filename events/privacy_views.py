"""The signed-in person's privacy pages: what we keep, a copy of it, and deleting the account
(DESIGN.md section 5; GDPR Art. 15, 17 and 20).

The pages present and ask; events.privacy exports and deletes. Every response holds personal
data or acts on it, so none of them may be cached.
"""

from __future__ import annotations

from allauth.core import ratelimit
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from . import privacy
from .models import Registration

EXPORT_FILENAME = "mva-events-data.json"

# Asking for the password again is a re-authentication: allauth's limit for it applies, so a
# session left open on a shared computer cannot be used to guess the password.
RATE_LIMIT_ACTION = "reauthenticate"


class DeleteAccountForm(forms.Form):
    password = forms.CharField(
        label=gettext_lazy("Your current password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text=gettext_lazy("To make sure it is you who deletes the account."),
    )
    confirm = forms.BooleanField(
        label=gettext_lazy(
            "I understand that my account is deleted for good and my upcoming "
            "registrations are cancelled"
        ),
        error_messages={"required": gettext_lazy("Tick this box to confirm the deletion.")},
    )

    def __init__(self, *args, user, rate_limited: bool = False, **kwargs):
        kwargs.setdefault("label_suffix", "")  # as on the account pages
        super().__init__(*args, **kwargs)
        self.user = user
        self.rate_limited = rate_limited

    def clean_password(self):
        password = self.cleaned_data["password"]
        if self.rate_limited:
            raise ValidationError(
                _("Too many attempts. Please wait a minute and try again."), code="rate_limited"
            )
        if not self.user.has_usable_password():
            raise ValidationError(
                _("Your account has no password. Set one on the password page first."),
                code="no_password",
            )
        if not self.user.check_password(password):
            raise ValidationError(_("That is not your current password."), code="wrong_password")
        return password


def _upcoming_registrations(user) -> list[Registration]:
    """The active registrations a deletion would cancel: events that have not ended."""
    return list(
        Registration.objects.active()
        .filter(user=user, event__ends_at__gte=timezone.now())
        .select_related("event")
        .order_by("event__starts_at", "id")
    )


@never_cache
@login_required
@require_GET
def privacy_settings(request):
    return render(
        request,
        "events/privacy/settings.html",
        {
            "can_delete": privacy.account_can_be_deleted(user=request.user),
            "special_needs_kept_days": settings.SPECIAL_NEEDS_KEPT_DAYS,
        },
    )


def privacy_notice(request):
    """The public privacy page: what we keep and why, for everyone."""
    return render(
        request,
        "privacy.html",
        {"special_needs_kept_days": settings.SPECIAL_NEEDS_KEPT_DAYS},
    )


@never_cache
@login_required
@require_GET
def export_data(request):
    response = JsonResponse(
        privacy.export_personal_data(user=request.user),
        json_dumps_params={"indent": 2, "ensure_ascii": False},
    )
    response["Content-Disposition"] = f'attachment; filename="{EXPORT_FILENAME}"'
    return response


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def delete_account(request):
    user = request.user
    context = {"upcoming": _upcoming_registrations(user)}
    if not privacy.account_can_be_deleted(user=user):
        status = 403 if request.method == "POST" else 200
        return render(
            request, "events/privacy/delete.html", {**context, "can_delete": False}, status=status
        )

    status = 200
    if request.method == "POST":
        allowed = ratelimit.consume(request, action=RATE_LIMIT_ACTION, user=user)
        form = DeleteAccountForm(request.POST, user=user, rate_limited=not allowed)
        if form.is_valid():
            try:
                privacy.delete_account(user=user)
            except privacy.AccountDeletionRefused as refusal:
                messages.error(request, refusal.message)
                return redirect("events:privacy_settings")
            logout(request)
            messages.success(
                request,
                _(
                    "Your account is deleted. Any upcoming registrations are cancelled, and any "
                    "past attendance is kept without your name."
                ),
            )
            return redirect("events:home")
        status = 429 if not allowed else 400
    else:
        form = DeleteAccountForm(user=user)
    return render(
        request,
        "events/privacy/delete.html",
        {**context, "can_delete": True, "form": form},
        status=status,
    )
