from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils import timezone

from .affiliation import affiliations_by_address


@login_required
def affiliation(request):
    """Each of the signed-in person's addresses and what it gives: the institution and
    audience it identifies, whether that institution is a member today, and whether it
    counts yet (only verified addresses do). A bounded number of queries."""
    today = timezone.localdate()
    rows = [
        {
            "address": address,
            "shown_domain": address.email.rpartition("@")[2].lower(),
            "institution": address.affiliation.institution if address.affiliation else None,
            "is_staff": bool(address.affiliation and address.affiliation.is_staff),
            "member_today": bool(address.affiliation and address.affiliation.is_member_on(today)),
        }
        for address in affiliations_by_address(user=request.user)
    ]
    return render(request, "members/affiliation.html", {"rows": rows})
