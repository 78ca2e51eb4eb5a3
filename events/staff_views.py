"""Pages for MVA staff outside the admin: check-in at the door.

The ticket's QR code opens the check-in page. Only people allowed to change registrations
(staff in the "Event staff" group) see who the ticket belongs to; anyone else sees a page with no
personal data at all, whether or not the ticket exists.
"""

from urllib.parse import quote

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from members.middleware import staff_must_activate_two_factor

from . import services
from .models import Registration

CHECK_IN_PERMISSION = "events.change_registration"
JUST_CHECKED_IN = "checked_in"


def checked_in_moment(registration: Registration) -> str:
    """'09:12', or '09:12 on 3 June' when it was not today (Copenhagen time)."""
    moment = timezone.localtime(registration.checked_in_at)
    if moment.date() == timezone.localdate():
        return date_format(moment, "H:i")
    return _("%(time)s on %(date)s") % {
        "time": date_format(moment, "H:i"),
        "date": date_format(moment, "j F Y"),
    }


@never_cache
@require_http_methods(["GET", "POST"])
def check_in(request, ticket_code: str):
    """GET shows the attendee to staff; POST checks them in (once) and shows the page again."""
    if not request.user.is_authenticated:
        login_url = f"{reverse('account_login')}?next={quote(request.get_full_path())}"
        return render(
            request, "events/check_in.html", {"state": "anonymous", "login_url": login_url}
        )
    # Staff status as well as the permission, as for the admin (and its two-factor rule).
    if not (request.user.is_staff and request.user.has_perm(CHECK_IN_PERMISSION)):
        # An attendee who scans their own ticket is shown the way to it, nothing more.
        own = (
            Registration.objects.select_related("event")
            .filter(ticket_code=ticket_code, user=request.user)
            .first()
        )
        return render(
            request,
            "events/check_in.html",
            {
                "state": "forbidden",
                "own_registration": own,
                "own_ticket_valid": own is not None and services.has_valid_ticket(registration=own),
            },
            status=200 if own is not None else 403,
        )
    if staff_must_activate_two_factor(user=request.user):
        # The page shows special-category data: the back office's rule applies here too.
        messages.warning(
            request,
            _(
                "Check-in requires two-factor authentication. Activate an authenticator app "
                "to continue."
            ),
        )
        return redirect("mfa_activate_totp")

    registration = (
        Registration.objects.select_related("event", "institution", "checked_in_by")
        .filter(ticket_code=ticket_code)
        .first()
    )
    if registration is None:
        # At the door a clear "not a ticket" helps more than the site's "page not found".
        return render(request, "events/check_in.html", {"state": "unknown"}, status=404)
    if request.method == "POST":
        try:
            registration, newly = services.check_in(
                registration_id=registration.pk, checked_in_by=request.user
            )
        except services.RegistrationError as error:
            messages.error(request, error.message)
        else:
            values = {"name": registration.full_name, "time": checked_in_moment(registration)}
            if newly:
                messages.success(request, _("%(name)s is checked in at %(time)s.") % values)
                # The page after this check-in reports it as done, not as "already".
                return redirect(f"{request.path}?{JUST_CHECKED_IN}=1")
            messages.warning(request, _("%(name)s was already checked in at %(time)s.") % values)
        return redirect(request.path)

    event = registration.event
    return render(
        request,
        "events/check_in.html",
        {
            "state": "staff",
            "registration": registration,
            "event_cancelled": event.status == event.Status.CANCELLED,
            "checked_in_moment": (
                checked_in_moment(registration) if registration.checked_in_at else ""
            ),
            # A second scan must stand out; the page right after one's own check-in must not.
            "just_checked_in": request.GET.get(JUST_CHECKED_IN) == "1"
            and registration.checked_in_by_id == request.user.pk,
            "not_today": not services.takes_place_on(event=event, day=timezone.localdate()),
        },
    )
