from allauth.account import views as allauth_views
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.i18n import set_language as django_set_language

from .affiliation import affiliations_by_address
from .preferred_language import remember_language


@never_cache
@login_required
def affiliation(request):
    """Each of the signed-in person's addresses and what it gives: the institution and
    audience it identifies, whether that institution is a member today, and whether it
    counts yet (only verified addresses do). A bounded number of queries."""
    today = timezone.localdate()
    addresses = affiliations_by_address(user=request.user)
    rows = []
    for address in addresses:
        affiliation = address.affiliation
        member_today = bool(affiliation and affiliation.is_member_on(on=today))
        rows.append(
            {
                "address": address,
                "shown_domain": address.email.rpartition("@")[2].lower(),
                "institution": affiliation.institution if affiliation else None,
                "is_staff": bool(affiliation and affiliation.is_staff),
                "member_today": member_today,
                "member_from": (
                    affiliation.next_membership_starts_on(after=today)
                    if affiliation and not member_today
                    else None
                ),
            }
        )
    return render(
        request,
        "members/affiliation.html",
        {
            "rows": rows,
            # The invitation to add a work address is for those without a verified one.
            "has_institutional_address": any(address.counts for address in addresses),
        },
    )


def email_addresses(request, *args, **kwargs):
    """allauth's e-mail page, which says so when it did not send the confirmation link it was
    asked for (allauth sends one only every few minutes, the earlier link still working)."""
    response = allauth_views.email(request, *args, **kwargs)
    asked = request.method == "POST" and "action_send" in request.POST
    if (
        asked
        and response.status_code == 302
        and not getattr(request, "confirmation_mail_sent", False)
    ):
        messages.info(
            request,
            _(
                "A confirmation link went to %(email)s a few minutes ago and still works; "
                "another can be sent shortly."
            )
            % {"email": request.POST.get("email", "")},
        )
    return response


@never_cache
@login_required
def confirm_email_removal(request):
    """Asks before an address is removed, saying what the person loses with it (the rate an
    institutional address gives). The page's form then asks allauth to remove it; nothing is
    removed here. The address travels in the POST body, never in the URL."""
    if request.method != "POST":
        # Reached by a link (the "form has expired" page's, say): the addresses to choose from.
        return redirect("account_email")
    email = request.POST.get("email", "").strip().lower()
    addresses = affiliations_by_address(user=request.user)
    address = next((a for a in addresses if a.email.lower() == email), None)
    if address is None or address.primary:
        messages.error(
            request,
            _("That address is not one you can remove: choose it again from your addresses."),
        )
        return redirect("account_email")
    # What goes with it: the institution it shows, unless another verified address shows the
    # same (as staff, or as a student, the same way); a rate only if it is a member today.
    affiliation = address.affiliation if address.counts else None
    shown_elsewhere = affiliation is not None and any(
        other.counts
        and other.affiliation.institution.pk == affiliation.institution.pk
        and other.affiliation.is_staff == affiliation.is_staff
        for other in addresses
        if other is not address
    )
    losing = affiliation if affiliation is not None and not shown_elsewhere else None
    return render(
        request,
        "account/email_remove_confirm.html",
        {
            "address": address,
            "losing": losing,
            "losing_a_rate": losing is not None
            and losing.is_staff
            and losing.is_member_on(on=timezone.localdate()),
        },
    )


def set_language(request):
    """Django's language switcher, which also remembers a signed-in person's choice on their
    account, so that signing in elsewhere speaks to them in it."""
    response = django_set_language(request)
    if request.method == "POST" and response.status_code in (200, 302):
        remember_language(user=request.user, language=request.POST.get("language", ""))
    return response


def csrf_failure(request, reason=""):
    """The site's own "This form has expired" page (settings.CSRF_FAILURE_VIEW), which says
    to allow cookies when the form came without the cookie its token is checked against."""
    from django.middleware.csrf import REASON_NO_CSRF_COOKIE

    return render(
        request, "403_csrf.html", {"no_cookie": reason == REASON_NO_CSRF_COOKIE}, status=403
    )
