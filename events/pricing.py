"""What does this person pay for this event, and why? (DESIGN.md section 3.)

The decision is made once, when a registration is made, and stored on it with its reason.
Pages, the admin and e-mails show the stored (or, before registering, this) decision; none
re-implements it.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth.models import AnonymousUser
from django.utils import formats, timezone
from django.utils.translation import gettext, gettext_lazy

from members.affiliation import Affiliation, verified_affiliations
from members.models import Institution, User

from .models import AdmissionCategory, Event

# Lower is better for the attendee: the order in which categories win.
_RANK = {
    AdmissionCategory.MEMBER_UNIVERSITY_STAFF: 0,
    AdmissionCategory.MEMBER: 1,
    AdmissionCategory.NON_MEMBER: 2,
}


# Why a price applies, by code. A registration stores the code beside the text it was
# decided with, so pages show the reason in the reader's language (see `price_reason_for`).
_REASONS = {
    "member_university_staff": gettext_lazy(
        "Free: you are verified staff of %(institution)s, a member of the Medicon Valley Alliance."
    ),
    "member_staff": gettext_lazy(
        "Member price: you are verified staff of %(institution)s, a member."
    ),
    "no_member_address": gettext_lazy(
        "Standard price: none of your verified addresses belongs to a member."
    ),
    "students": gettext_lazy(
        "Standard price: students of %(institution)s pay the standard price; "
        "free and member rates are for staff."
    ),
    "not_a_member_on": gettext_lazy("Standard price: %(institution)s is not a member on %(date)s."),
}

# The same reasons as staff read them, about the attendee rather than to them (the back
# office, exports); a code missing here reads the same for both.
_REASONS_FOR_STAFF = {
    "member_university_staff": gettext_lazy(
        "Free: verified staff of %(institution)s, a member of the Medicon Valley Alliance."
    ),
    "member_staff": gettext_lazy("Member price: verified staff of %(institution)s, a member."),
    "no_member_address": gettext_lazy(
        "Standard price: no verified address of theirs belongs to a member."
    ),
    "students": gettext_lazy(
        "Standard price: a student of %(institution)s; free and member rates are for staff."
    ),
}


def reason_text(
    *, code: str, institution_name: str, on: datetime.date, for_staff: bool = False
) -> str:
    """The reason with this code in the active language; `on` is the event's start date
    (Europe/Copenhagen), on which membership was judged. `for_staff`: about the attendee,
    as the back office reads it, instead of to them."""
    texts = _REASONS_FOR_STAFF if for_staff and code in _REASONS_FOR_STAFF else _REASONS
    return str(texts[code]) % {
        "institution": institution_name,
        "date": formats.date_format(on, "DATE_FORMAT"),
    }


@dataclass(frozen=True)
class AdmissionDecision:
    category: AdmissionCategory
    price: Decimal
    currency: str
    reason_code: str
    reason: str  # in the language active when the decision was made
    institution: Institution | None = None
    judged_on: datetime.date | None = None  # the day membership was judged on

    @property
    def is_free(self) -> bool:
        return self.price == 0


def _event_date(event: Event):
    return timezone.localdate(event.starts_at)


def _decision(
    event: Event,
    *,
    category: AdmissionCategory,
    price: Decimal,
    code: str,
    institution: Institution | None,
) -> AdmissionDecision:
    return AdmissionDecision(
        category=category,
        price=price,
        currency=event.currency,
        reason_code=code,
        reason=reason_text(
            code=code,
            institution_name=institution.name if institution else "",
            on=_event_date(event),
        ),
        institution=institution,
        judged_on=_event_date(event),
    )


def _decision_for(event: Event, affiliation: Affiliation | None) -> AdmissionDecision:
    on = _event_date(event)
    if affiliation is not None and affiliation.is_staff and affiliation.is_member_on(on=on):
        institution = affiliation.institution
        if institution.kind == Institution.Kind.UNIVERSITY and event.member_university_staff_free:
            return _decision(
                event,
                category=AdmissionCategory.MEMBER_UNIVERSITY_STAFF,
                price=Decimal("0.00"),
                code="member_university_staff",
                institution=institution,
            )
        return _decision(
            event,
            category=AdmissionCategory.MEMBER,
            price=event.member_price,
            code="member_staff",
            institution=institution,
        )
    if affiliation is None:
        code = "no_member_address"
    elif not affiliation.is_staff:
        code = "students"
    else:
        code = "not_a_member_on"
    return _decision(
        event,
        category=AdmissionCategory.NON_MEMBER,
        price=event.standard_price,
        code=code,
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


def decide_admission_for_user(*, event: Event, user: User | AnonymousUser) -> AdmissionDecision:
    """`decide_admission` for a user's verified addresses (a bounded number of queries)."""
    return decide_admission(event=event, affiliations=verified_affiliations(user=user))


def decision_reason_for(*, registration, for_staff: bool = False) -> str:
    """Why the decision made at registration gave its price, in the active language: from
    the stored code, for the institution and the day membership was judged on (the event's
    start then, even if the event has moved since); for a
    registration stored before codes existed, the text stored with it (in the registrant's
    language). The decision itself is never made again. Needs `registration.event`.
    `for_staff`: worded about the attendee (see `reason_text`)."""
    if registration.price_reason_code in _REASONS:
        return reason_text(
            code=registration.price_reason_code,
            institution_name=registration.institution_name,
            on=registration.membership_judged_on or _event_date(registration.event),
            for_staff=for_staff,
        )
    return registration.price_reason


def price_reason_for(*, registration, for_staff: bool = False) -> str:
    """Why the registration has its price now: staff's own reason when they overrode it,
    otherwise `decision_reason_for`."""
    return registration.price_override_reason or decision_reason_for(
        registration=registration, for_staff=for_staff
    )


def format_price(*, amount: Decimal, currency: str) -> str:
    """A price as people write it in the active language: "Free", "1,200 DKK", "1 200,50 SEK"."""
    if amount == 0:
        return gettext("Free")
    decimals = 0 if amount == amount.to_integral_value() else 2
    number = formats.number_format(amount, decimals, use_l10n=True, force_grouping=True)
    return f"{number} {currency}"
