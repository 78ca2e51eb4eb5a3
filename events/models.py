import re
import secrets
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import CharField, F, Q, Value
from django.db.models.functions import Concat, Lower, Upper
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from members.models import Institution, Network


class AdmissionCategory(models.TextChoices):
    MEMBER_UNIVERSITY_STAFF = "member_university_staff", _("Member-university staff")
    MEMBER = "member", _("Member")
    NON_MEMBER = "non_member", _("Non-member")


class Currency(models.TextChoices):
    DKK = "DKK", "DKK"
    SEK = "SEK", "SEK"
    EUR = "EUR", "EUR"


# The years an event or programme item can be in. Django accepts any year from 1, but a time
# that far back, turned to UTC, can fall before year 1 and make every later read of the row
# fail; a typo is the only way to get there.
EARLIEST_EVENT_YEAR = 2000
LATEST_EVENT_YEAR = 2100


def validate_event_moment(value) -> None:
    """A date and time for an event's calendar: between EARLIEST_ and LATEST_EVENT_YEAR."""
    if not EARLIEST_EVENT_YEAR <= value.year <= LATEST_EVENT_YEAR:
        raise ValidationError(
            _("Enter a date between the years %(earliest)d and %(latest)d."),
            code="implausible_year",
            params={"earliest": EARLIEST_EVENT_YEAR, "latest": LATEST_EVENT_YEAR},
        )


class EventQuerySet(models.QuerySet):
    def published(self):
        return self.filter(status__in=[Event.Status.PUBLISHED, Event.Status.CANCELLED])

    def upcoming(self, now=None):
        return self.filter(ends_at__gte=now or timezone.now())

    def past(self, now=None):
        return self.filter(ends_at__lt=now or timezone.now())


class Event(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")
        CANCELLED = "cancelled", pgettext_lazy("event status", "Cancelled")

    title = models.CharField(_("title"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    network = models.ForeignKey(
        Network,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="events",
        verbose_name=_("network"),
    )
    summary = models.CharField(_("summary"), max_length=300, blank=True)
    description = models.TextField(_("description"), blank=True)
    content_language = models.CharField(
        _("language of the texts"),
        max_length=10,
        choices=settings.LANGUAGES,
        default="en",
        help_text=_(
            "The language the title, summary, description and programme are written in, so "
            "that screen readers read them in it on pages in another language."
        ),
    )
    venue = models.CharField(_("venue"), max_length=200, blank=True)
    address = models.TextField(_("address"), blank=True)
    starts_at = models.DateTimeField(_("starts at"), validators=[validate_event_moment])
    ends_at = models.DateTimeField(_("ends at"), validators=[validate_event_moment])
    capacity = models.PositiveIntegerField(
        _("capacity"), null=True, blank=True, help_text=_("Leave empty for unlimited.")
    )
    registration_opens_at = models.DateTimeField(
        _("registration opens at"), null=True, blank=True, validators=[validate_event_moment]
    )
    registration_closes_at = models.DateTimeField(
        _("registration closes at"), null=True, blank=True, validators=[validate_event_moment]
    )
    cancellation_deadline = models.DateTimeField(
        _("cancellation deadline"),
        null=True,
        blank=True,
        validators=[validate_event_moment],
        help_text=_("Attendees can cancel until then; empty means until the event starts."),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    has_waiting_list = models.BooleanField(_("keeps a waiting list"), default=True)
    member_university_staff_free = models.BooleanField(
        _("free for member-university staff"), default=True
    )
    member_price = models.DecimalField(
        _("member price"), max_digits=10, decimal_places=2, default=Decimal("0")
    )
    standard_price = models.DecimalField(
        _("standard price"), max_digits=10, decimal_places=2, default=Decimal("0")
    )
    currency = models.CharField(
        _("currency"), max_length=3, choices=Currency.choices, default=Currency.DKK
    )
    contact_email = models.EmailField(
        _("contact e-mail"),
        blank=True,
        help_text=_(
            "Where attendees' questions about this event go: shown on its pages, and the reply "
            "address of its e-mails. Empty: the site's contact address."
        ),
    )
    # Maintained by events.services under the event's row lock; the check constraint below
    # makes overbooking impossible even if a code path forgot the lock.
    confirmed_count = models.PositiveIntegerField(_("confirmed"), default=0, editable=False)
    waitlisted_count = models.PositiveIntegerField(_("wait-listed"), default=0, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["starts_at"]
        verbose_name = _("event")
        verbose_name_plural = _("events")
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gte=F("starts_at")),
                name="event_ends_after_start",
                violation_error_message=_("The event cannot end before it starts."),
            ),
            models.CheckConstraint(
                condition=Q(registration_opens_at__isnull=True)
                | Q(registration_closes_at__isnull=True)
                | Q(registration_closes_at__gt=F("registration_opens_at")),
                name="event_registration_window_valid",
                violation_error_message=_("Registration must close after it opens."),
            ),
            models.CheckConstraint(
                condition=Q(registration_closes_at__isnull=True)
                | Q(registration_closes_at__lte=F("ends_at")),
                name="event_registration_closes_by_the_end",
                violation_error_message=_("Registration cannot close after the event has ended."),
            ),
            models.CheckConstraint(
                condition=Q(cancellation_deadline__isnull=True)
                | Q(cancellation_deadline__lte=F("ends_at")),
                name="event_cancellation_deadline_by_the_end",
                violation_error_message=_(
                    "The cancellation deadline cannot be after the event has ended."
                ),
            ),
            models.CheckConstraint(
                condition=Q(member_price__gte=0) & Q(standard_price__gte=0),
                name="event_prices_not_negative",
                violation_error_message=_("Prices cannot be negative."),
            ),
            models.CheckConstraint(
                condition=Q(capacity__isnull=True) | Q(confirmed_count__lte=F("capacity")),
                name="event_confirmed_within_capacity",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "published", "cancelled"]),
                name="event_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(member_price__lte=F("standard_price")),
                name="event_member_price_not_above_standard",
                violation_error_message=_(
                    "The member price cannot be above the standard price: the best rate a "
                    "person's addresses give would then cost them more."
                ),
            ),
            models.CheckConstraint(
                condition=Q(registration_opens_at__isnull=True)
                | Q(registration_opens_at__lt=F("starts_at")),
                name="event_registration_opens_before_the_start",
                violation_error_message=_("Registration must open before the event starts."),
            ),
            models.CheckConstraint(
                condition=Q(currency__in=Currency.values), name="event_currency_valid"
            ),
        ]
        indexes = [models.Index(fields=["status", "starts_at"])]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("events:detail", kwargs={"slug": self.slug})

    @property
    def seats_left(self) -> int | None:
        """Free confirmed places, or None when the event has no capacity limit."""
        if self.capacity is None:
            return None
        return max(self.capacity - self.confirmed_count, 0)

    @property
    def is_full(self) -> bool:
        return self.capacity is not None and self.confirmed_count >= self.capacity

    @property
    def contact_address(self) -> str:
        """The address attendees write to about this event."""
        return self.contact_email or settings.EVENTS_CONTACT_EMAIL

    @property
    def cancellation_closes_at(self):
        """Attendees may cancel until the deadline, or until the event starts without one."""
        return self.cancellation_deadline or self.starts_at


class ProgrammeItem(models.Model):
    event = models.ForeignKey(
        Event, on_delete=models.CASCADE, related_name="programme", verbose_name=_("event")
    )
    starts_at = models.DateTimeField(_("starts at"), validators=[validate_event_moment])
    ends_at = models.DateTimeField(
        _("ends at"), null=True, blank=True, validators=[validate_event_moment]
    )
    title = models.CharField(_("title"), max_length=200)
    speakers = models.CharField(_("speakers"), max_length=300, blank=True)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        ordering = ["starts_at", "id"]
        verbose_name = _("programme item")
        verbose_name_plural = _("programme")
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True) | Q(ends_at__gte=F("starts_at")),
                name="programme_item_ends_after_start",
                violation_error_message=_("A programme item cannot end before it starts."),
            ),
        ]

    def __str__(self):
        return self.title


def ean_check_digit_is_valid(digits: str) -> bool:
    """GS1 mod-10 check of a 13-digit EAN/GLN: weights 1,3,1,3,… from the left."""
    total = sum(int(digit) * (3 if position % 2 else 1) for position, digit in enumerate(digits))
    return total % 10 == 0


def validate_ean_number(value: str) -> None:
    """A Danish EAN location number: 13 ASCII digits with a valid check digit. Every form
    that writes the field (the registration form, the admin's) applies it."""
    if not (len(value) == 13 and value.isascii() and value.isdecimal()):
        raise ValidationError(
            _("An EAN number has exactly 13 digits (you entered %(count)d characters)."),
            code="ean_length",
            params={"count": len(value)},
        )
    if not ean_check_digit_is_valid(value):
        raise ValidationError(
            _("This EAN number's last digit does not match; please check it for typos."),
            code="ean_check_digit",
        )


# Country rules for the two countries most attendees invoice from; other numbers are checked
# for the general European shape (country code, then 2–14 letters and digits).
_VAT_NUMBER_DIGITS = {"DK": re.compile(r"\d{8}"), "SE": re.compile(r"\d{10}01")}
_VAT_NUMBER_SHAPE = re.compile(r"[A-Z]{2}[0-9A-Z]{2,14}")


def normalise_vat_number(value: str) -> str:
    """A VAT number as it is stored: upper case, without the spaces, dots and hyphens
    people type in it ("dk 12 34 56 78" → "DK12345678")."""
    return re.sub(r"[\s.\-]", "", value).upper()


def validate_vat_number(value: str) -> None:
    """A VAT number with its country code: Danish DK + 8 digits, Swedish SE + 12 digits
    ending in 01, others two letters and 2–14 letters and digits, at least two of them
    digits. Applied by every form that writes the field."""
    number = normalise_vat_number(value)
    country, rest = number[:2], number[2:]
    pattern = _VAT_NUMBER_DIGITS.get(country)
    valid = (
        pattern.fullmatch(rest) is not None
        if pattern is not None
        else _VAT_NUMBER_SHAPE.fullmatch(number) is not None
        and sum(character.isdigit() for character in rest) >= 2
    )
    if not valid:
        raise ValidationError(
            _(
                "Enter the VAT number with its country code, for example DK12345678 or "
                "SE556677889901."
            ),
            code="vat_number",
        )


def new_ticket_code() -> str:
    # 24 random bytes: 192 bits, well above the 128 the design asks for; URL-safe.
    return secrets.token_urlsafe(24)


def registration_search_text():
    """Name, e-mail address and institution of a registration as one upper-cased string.

    Staff search matches words against it. Migration 0005 indexes exactly this expression
    with trigrams on PostgreSQL; change it and that index no longer serves (a test compares
    the query plan)."""
    return Upper(
        Concat(
            "first_name",
            Value(" "),
            "last_name",
            Value(" "),
            "email",
            Value(" "),
            "institution_name",
            output_field=CharField(),
        )
    )


class RegistrationQuerySet(models.QuerySet):
    def active(self):
        return self.exclude(status=Registration.Status.CANCELLED)

    def confirmed(self):
        return self.filter(status=Registration.Status.CONFIRMED)

    def waitlisted(self):
        return self.filter(status=Registration.Status.WAITLISTED)

    def waitlisted_ahead(self, *, event_id, created_at, pk):
        """Wait-listed registrations of the event that arrived before the one given by these
        values (or, in a subquery, `OuterRef`s): by created_at, then id, the order in which
        the service promotes."""
        return self.waitlisted().filter(
            Q(created_at__lt=created_at) | Q(created_at=created_at, id__lt=pk),
            event_id=event_id,
        )

    def with_address(self, email: str):
        """Registrations made with this address, case ignored as the one-active-registration
        constraint ignores it (lower(), which differs from a case-insensitive match, UPPER(),
        for a few characters such as the Kelvin sign)."""
        return self.alias(email_lower=Lower("email")).filter(email_lower=email.lower())

    def entered_for_guests(self, *, addresses):
        """Registrations staff entered by hand (no account) for any of these addresses,
        case ignored."""
        lowered = {address.lower() for address in addresses}
        return self.alias(email_lower=Lower("email")).filter(
            user__isnull=True, email_lower__in=lowered
        )

    def of_person(self, *, user, verified_addresses):
        """A person's registrations: their account's, and those staff entered as a guest's
        for one of their verified addresses (not yet linked to the account)."""
        lowered = {address.lower() for address in verified_addresses}
        return self.alias(email_lower=Lower("email")).filter(
            Q(user=user) | Q(user__isnull=True, email_lower__in=lowered)
        )

    def matching_words(self, words):
        """Registrations whose name, e-mail address or institution contains every word, case
        ignored. One comparison per row and word (the fields searched as one string), which
        PostgreSQL answers from a trigram index for words of three letters or more."""
        queryset = self.alias(search_text=registration_search_text())
        for word in words:
            queryset = queryset.filter(search_text__contains=word.upper())
        return queryset


class Registration(models.Model):
    """One person at one event, with a snapshot of who they were and what they pay."""

    class Status(models.TextChoices):
        CONFIRMED = "confirmed", _("Confirmed")
        WAITLISTED = "waitlisted", _("Wait-listed")
        CANCELLED = "cancelled", pgettext_lazy("registration status", "Cancelled")

    event = models.ForeignKey(
        Event, on_delete=models.PROTECT, related_name="registrations", verbose_name=_("event")
    )
    # Empty for a guest whom staff entered by hand without an account.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="registrations",
        verbose_name=_("user"),
    )
    # Snapshot at registration time.
    first_name = models.CharField(_("first name"), max_length=150)
    last_name = models.CharField(_("last name"), max_length=150)
    email = models.EmailField(_("e-mail address"))
    job_title = models.CharField(_("job title"), max_length=200, blank=True)
    institution = models.ForeignKey(
        Institution,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="registrations",
        verbose_name=_("institution"),
    )
    institution_name = models.CharField(_("institution name"), max_length=200, blank=True)
    category = models.CharField(
        _("admission category"), max_length=30, choices=AdmissionCategory.choices
    )
    price = models.DecimalField(_("price"), max_digits=10, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, choices=Currency.choices)
    price_reason = models.TextField(_("reason for the price"))
    # Which of events.pricing's reasons it was, so that pages can give it in the reader's
    # language; empty for registrations made before codes were stored (the database default
    # also serves code of the previous release still running during a deploy).
    price_reason_code = models.CharField(
        _("reason code"), max_length=40, blank=True, default="", db_default="", editable=False
    )
    # The day membership was judged on for the price: the event's start date at the time,
    # kept so that the reason stays true if the event moves. Empty for older registrations.
    membership_judged_on = models.DateField(
        _("membership judged on"), null=True, blank=True, editable=False
    )
    price_overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("price overridden by"),
    )
    price_overridden_at = models.DateTimeField(_("price overridden at"), null=True, blank=True)
    price_override_reason = models.TextField(_("reason for the override"), blank=True)

    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    created_at = models.DateTimeField(_("registered at"), default=timezone.now)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    language = models.CharField(
        _("language"),
        max_length=10,
        choices=settings.LANGUAGES,
        default="en",
        help_text=_(
            "The language the person registered in, and of the e-mails about the registration "
            "when it has no account; a person with an account gets them in the language they "
            "last chose on the site."
        ),
    )

    # Special-category data (GDPR Art. 9): shown only to staff who need it, erased after the
    # event (see events.services.erase_special_category_data).
    # The lengths bind every form (the public one, the attendee's own, the admin's), so what
    # one form saved another can always show and save again.
    dietary_needs = models.TextField(_("dietary needs"), blank=True, max_length=500)
    accessibility_needs = models.TextField(_("accessibility needs"), blank=True, max_length=500)
    special_needs_erased_at = models.DateTimeField(
        _("needs erased at"), null=True, blank=True, editable=False
    )
    listed_as_participant = models.BooleanField(_("appear on the participant list"), default=False)

    billing_organisation = models.CharField(_("organisation"), max_length=200, blank=True)
    billing_address = models.TextField(_("billing address"), blank=True, max_length=1000)
    billing_vat_number = models.CharField(
        _("VAT number"), max_length=30, blank=True, validators=[validate_vat_number]
    )
    billing_po_reference = models.CharField(
        _("purchase-order reference"), max_length=100, blank=True
    )
    billing_ean_number = models.CharField(
        _("EAN number"), max_length=13, blank=True, validators=[validate_ean_number]
    )

    ticket_code = models.CharField(
        _("ticket code"), max_length=64, unique=True, default=new_ticket_code, editable=False
    )
    checked_in_at = models.DateTimeField(_("checked in at"), null=True, blank=True)
    checked_in_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("checked in by"),
    )

    objects = RegistrationQuerySet.as_manager()

    class Meta:
        # By the event's id, not "event": that would join the events table to sort by their
        # start on every query that does not choose its own order.
        ordering = ["event_id", "created_at", "id"]
        verbose_name = _("registration")
        verbose_name_plural = _("registrations")
        permissions = [
            # Dietary and accessibility needs can reveal health or religion (GDPR Art. 9):
            # only staff who arrange catering and access, or check people in, see them.
            ("view_special_needs", _("Can see dietary and accessibility needs")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "user"],
                condition=~Q(status="cancelled") & Q(user__isnull=False),
                name="registration_one_active_per_user",
            ),
            models.UniqueConstraint(
                "event",
                Lower("email"),
                condition=~Q(status="cancelled"),
                name="registration_one_active_per_email",
            ),
            models.CheckConstraint(
                condition=Q(price__gte=0),
                name="registration_price_not_negative",
                violation_error_message=_("The price cannot be negative."),
            ),
            models.CheckConstraint(
                condition=Q(status__in=["confirmed", "waitlisted", "cancelled"]),
                name="registration_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(category__in=["member_university_staff", "member", "non_member"]),
                name="registration_category_valid",
            ),
            models.CheckConstraint(
                condition=Q(currency__in=Currency.values), name="registration_currency_valid"
            ),
            # Each state carries the moment it was reached, and each record of who did
            # something the moment they did it.
            models.CheckConstraint(
                condition=~Q(status="confirmed") | Q(confirmed_at__isnull=False),
                name="registration_confirmed_has_its_time",
            ),
            models.CheckConstraint(
                condition=~Q(status="cancelled") | Q(cancelled_at__isnull=False),
                name="registration_cancelled_has_its_time",
            ),
            models.CheckConstraint(
                condition=Q(checked_in_by__isnull=True) | Q(checked_in_at__isnull=False),
                name="registration_checked_in_by_has_its_time",
            ),
            # An override records why, always (who may later be gone: SET_NULL).
            models.CheckConstraint(
                condition=Q(price_overridden_at__isnull=True) & Q(price_overridden_by__isnull=True)
                | (Q(price_overridden_at__isnull=False) & ~Q(price_override_reason="")),
                name="registration_override_has_its_time_and_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["event", "status", "created_at"]),
            models.Index(fields=["user", "status"]),
            # Guests' registrations by address, to link them to the account that verifies it.
            models.Index(
                Lower("email"), condition=Q(user__isnull=True), name="registration_guest_email"
            ),
        ]

    def __str__(self):
        return f"{self.full_name} – {self.event}"

    def get_absolute_url(self):
        return reverse("events:registration", kwargs={"ticket_code": self.ticket_code})

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email

    @property
    def is_active(self) -> bool:
        return self.status != self.Status.CANCELLED
