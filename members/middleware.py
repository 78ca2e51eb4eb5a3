"""Middleware: two-factor authentication for the back office, and the refusal of requests no
page can read.

With settings.MFA_REQUIRED_FOR_STAFF on, staff must have an activated authenticator before
they see any admin page; everything else (the account pages where they activate it included)
is left alone.
"""

import codecs
import logging

from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import DataError
from django.shortcuts import redirect, render
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


logger = logging.getLogger(__name__)

FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


def _is_unreadable(request) -> bool:
    # PostgreSQL cannot hold a NUL character, so a query parameter with one can only end in a
    # database error wherever it is used (an admin filter, a search).
    for key, values in request.GET.lists():
        if "\x00" in key or any("\x00" in value for value in values):
            return True
    # Django refuses to read a form whose declared charset it knows and which is not spelt
    # "utf-8" (BadRequest; "UTF8" included), and its 400 page, which checks the CSRF token,
    # reads the form again: an error page of its own (500). The same rule, applied here
    # before anything reads the form; a charset nobody knows is refused too.
    if request.method == "POST" and request.content_type == FORM_CONTENT_TYPE:
        charset = request.content_params.get("charset")
        if charset:
            try:
                codecs.lookup(charset)
            except LookupError:
                return True
            return charset.lower() != "utf-8"
    return False


class RejectUnreadableRequestsMiddleware:
    """Answers 400 with the site's own page to a request no page can read: a NUL byte in its
    query string, or a form posted in a charset other than UTF-8."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if _is_unreadable(request):
            return render(request, "400.html", status=400)
        return self.get_response(request)


class AdminBadInputMiddleware:
    """Answers 400 instead of 500 when an admin page fails on input typed into its address or
    a tampered form: a lookup the database refuses (`?email__regex=(`), an object id that is
    not a number (`_selected_action=abc`). Django's admin passes such values to the database
    unchecked; only the back office's own pages are covered, and each case is logged."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not request.path.startswith(reverse("admin:index")):
            return None
        if not isinstance(exception, DataError | ValueError | ValidationError):
            return None
        logger.warning("Admin request %s refused: %r", request.path, exception)
        return render(request, "400.html", status=400)
