"""Two-factor authentication for the back office.

With settings.MFA_REQUIRED_FOR_STAFF on, staff must have an activated authenticator before
they see any admin page; everything else (the account pages where they activate it included)
is left alone.
"""

from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext


def staff_must_activate_two_factor(*, user) -> bool:
    """Whether `user` is staff who may not use the admin until they activate two-factor
    authentication. Guarantees: False whenever MFA_REQUIRED_FOR_STAFF is off, for anonymous
    and non-staff users, and for staff with an activated allauth.mfa authenticator."""
    if not getattr(settings, "MFA_REQUIRED_FOR_STAFF", False):
        return False
    if not user.is_authenticated or not user.is_staff:
        return False
    return not is_mfa_enabled(user)


class StaffTwoFactorMiddleware:
    """Sends staff without two-factor authentication from the admin to its activation page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(reverse("admin:index")) and staff_must_activate_two_factor(
            user=request.user
        ):
            messages.warning(
                request,
                gettext(
                    "The back office requires two-factor authentication. Activate an "
                    "authenticator app to continue."
                ),
            )
            return redirect("mfa_activate_totp")
        return self.get_response(request)
