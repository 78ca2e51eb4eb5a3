"""What does this person pay for this event, and why? (DESIGN.md section 3.)

The decision is made once, when a registration is made, and stored on it with its reason.
Pages, the admin and e-mails show the stored (or, before registering, this) decision; none
re-implements it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils import formats, timezone
from django.utils.translation import gettext as _

from members.affiliation import Affiliation, verified_affiliations
from members.models import Institution

from .models import AdmissionCategory, Event

# Lower is better for the attendee: the order in which categories win.
_RANK = {
    AdmissionCategory.MEMBER_UNIVERSITY_STAFF: 0,
    AdmissionCategory.MEMBER: 1,
    AdmissionCategory.NON_MEMBER: 2,
}


@dataclass(frozen=True)
class AdmissionDecision:
    category: AdmissionCategory
    price: Decimal
    currency: str
    reason: str
    institution: Institution | None = None

    @property
    def is_free(self) -> bool:
        return self.price == 0


def _event_date(event: Event):
    return timezone.localdate(event.starts_at)


def _decision_for(event: Event, affiliation: Affiliation | None) -> AdmissionDecision:
    on = _event_date(event)
    if affiliation is not None and affiliation.is_staff and affiliation.is_member_on(on):
        institution = affiliation.institution
        if institution.kind == Institution.Kind.UNIVERSITY and event.member_university_staff_free:
            return AdmissionDecision(
                category=AdmissionCategory.MEMBER_UNIVERSITY_STAFF,
                price=Decimal("0.00"),
                currency=event.currency,
                reason=_(
                    "Free: you are verified staff of %(institution)s, a member of the "
                    "Medicon Valley Alliance."
                )
                % {"institution": institution.name},
                institution=institution,
            )
        return AdmissionDecision(
            category=AdmissionCategory.MEMBER,
            price=event.member_price,
            currency=event.currency,
            reason=_("Member price: you are verified staff of %(institution)s, a member.")
            % {"institution": institution.name},
            institution=institution,
        )
    if affiliation is None:
        reason = _("Standard price: none of your verified addresses belongs to a member.")
    elif not affiliation.is_staff:
        reason = _(
            "Standard price: students of %(institution)s pay the standard price; "
            "free and member rates are for staff."
        ) % {"institution": affiliation.institution.name}
    else:
        reason = _("Standard price: %(institution)s is not a member on %(date)s.") % {
            "institution": affiliation.institution.name,
            # In the reader's language: the reason is stored as text and shown as written.
            "date": formats.date_format(on, "DATE_FORMAT"),
        }
    return AdmissionDecision(
        category=AdmissionCategory.NON_MEMBER,
        price=event.standard_price,
        currency=event.currency,
        reason=reason,
        institution=affiliation.institution if affiliation else None,
    )


def price_list(*, event: Event) -> list[tuple[str, Decimal]]:
    """The event's price for each admission category, best first, for the price table; the
    same rule as `decide_admission` (member-university staff pay the member price when the
    event switches free admission off)."""
    staff_price = Decimal("0.00") if event.member_university_staff_free else event.member_price
    return [
        (AdmissionCategory.MEMBER_UNIVERSITY_STAFF.label, staff_price),
        (AdmissionCategory.MEMBER.label, event.member_price),
        (AdmissionCategory.NON_MEMBER.label, event.standard_price),
    ]


def decide_admission(*, event: Event, affiliations: Sequence[Affiliation]) -> AdmissionDecision:
    """The best admission among a person's verified affiliations.

    Membership is judged on the event's start date (Europe/Copenhagen); the best category
    wins, then the lowest price. With no affiliation the standard price applies. Pure: runs
    no queries when the affiliations carry prefetched memberships.
    """
    decisions = [_decision_for(event, affiliation) for affiliation in affiliations]
    if not decisions:
        return _decision_for(event, None)
    return min(decisions, key=lambda d: (_RANK[d.category], d.price))


def decide_admission_for_user(*, event: Event, user) -> AdmissionDecision:
    """`decide_admission` for a user's verified addresses (a bounded number of queries)."""
    return decide_admission(event=event, affiliations=verified_affiliations(user=user))
