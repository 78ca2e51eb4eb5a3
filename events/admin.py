"""The staff back office for events and registrations (DESIGN.md section 4).

Every change that touches seats, prices or e-mail goes through events.services or
events.notifications; the admin collects input, calls them and reports the outcome per row.
Lists stay fast with tens of thousands of registrations: no per-row queries, filters whose
choices come from fixed lists or one small query, and no second COUNT(*) of the whole table.
"""

from __future__ import annotations

import datetime
import hashlib
import re
import uuid
from collections.abc import Iterable

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import PAGE_VAR, SEARCH_VAR, ChangeList
from django.contrib.admin.widgets import AdminTextInputWidget
from django.contrib.contenttypes.admin import GenericTabularInline
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, QuerySet, Window
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format, time_format
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import smart_split, unescape_string_literal
from django.utils.translation import gettext, gettext_noop, ngettext, ngettext_lazy
from django.utils.translation import gettext_lazy as _
from import_export.admin import ExportActionMixin

from members.admin import UserAdmin as MembersUserAdmin
from members.models import Institution, User
from members.resources import ColumnNamesExportForm
from outbox.admin import ListedFiltersOnly
from outbox.models import OutgoingEmail
from outbox.services import kind_label

from . import notifications, pricing, privacy, reports, services
from .forms import EanNumberField, VatNumberField
from .models import AdmissionCategory, Event, ProgrammeItem, Registration
from .pricing import format_price
from .resources import EXPORT_FORMATS, RegistrationResource, RegistrationResourceWithoutNeeds

# --- Outcome messages ---------------------------------------------------------------------------


def report_outcome(
    request: HttpRequest,
    *,
    done: Iterable[tuple[int, str]],
    problems: Iterable[tuple[int, str]] = (),
) -> None:
    """One message per kind of outcome of an action over many rows, each a whole sentence so
    it translates ("2 registrations checked in." as success, "1 registration is not
    confirmed." as a warning). Kinds with a zero count are left out."""
    for count, text in done:
        if count:
            messages.success(request, text)
    for count, text in problems:
        if count:
            messages.warning(request, text)


def promoted_sentence(count: int) -> str:
    """How staff are told that seats went to the waiting list (cancel, capacity, publish);
    formatted with %(count)d."""
    return ngettext(
        "%(count)d person was promoted from the waiting list.",
        "%(count)d people were promoted from the waiting list.",
        count,
    )


def _counted(count: int, text: str) -> tuple[int, str]:
    """`text` is an ngettext result for `count` with a %(count)d placeholder."""
    return count, text % {"count": count}


class FastActionCheckboxMixin:
    """The row checkbox as plain HTML: the admin renders it through the form-widget templates,
    which costs more than the rest of a row on a page of a hundred."""

    @admin.display(description=mark_safe('<input type="checkbox" id="action-toggle">'))
    def action_checkbox(self, obj):
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            admin.helpers.ACTION_CHECKBOX_NAME,
            obj.pk,
            format_html(gettext("Select this object for an action - {}"), obj),
        )


class SinglePassPaginator(Paginator):
    """Counts the matches and fetches the requested page in one query (COUNT(*) OVER ()).

    For searches: a search must scan the table, and the admin's paginator would scan it
    twice, once to count and once for the page."""

    TOTAL = "changelist_total_matches"

    def __init__(self, *args, requested_page: int = 1, **kwargs):
        super().__init__(*args, **kwargs)
        self.requested_page = max(requested_page, 1)
        self.fetched_page: tuple[int, list] | None = None

    @cached_property
    def count(self) -> int:
        bottom = (self.requested_page - 1) * self.per_page
        rows = list(
            self.object_list.annotate(**{self.TOTAL: Window(Count("*"))})[
                bottom : bottom + self.per_page
            ]
        )
        if rows or self.requested_page == 1:
            self.fetched_page = (self.requested_page, rows)
            return getattr(rows[0], self.TOTAL) if rows else 0
        return self.object_list.count()

    def page(self, number):
        number = self.validate_number(number)
        if self.fetched_page and self.fetched_page[0] == number:
            return self._get_page(self.fetched_page[1], number, self)
        return super().page(number)


class SinglePassChangeList(ChangeList):
    def get_results(self, request):
        super().get_results(request)
        fetched = getattr(self.paginator, "fetched_page", None)
        # A single page of matches: the admin would query them again; they are here already.
        if fetched is not None and fetched[0] == 1 and not self.multi_page:
            self.result_list = fetched[1]


# No list has this many pages; a larger number typed into the URL would overflow the
# database's OFFSET (bigint) before the paginator could say the page does not exist.
LAST_PAGE_NUMBER_TRIED = 1_000_000


def requested_page_number(request: HttpRequest) -> int:
    try:
        number = int(request.GET.get(PAGE_VAR, 1))
    except ValueError:
        return 1
    return min(max(number, 1), LAST_PAGE_NUMBER_TRIED)


def staff_member_name(user) -> str | None:
    """A staff member named as text: their name, or their address when they gave none."""
    if user is None:
        return None  # the admin shows its empty value
    return user.get_full_name() or user.email


# --- Registrations: filters ---------------------------------------------------------------------


class ChoicesListFilter(admin.SimpleListFilter):
    """A filter over a fixed list of choices: no query to build its links."""

    options: list[tuple[str, str]] = []
    lookup = ""

    def lookups(self, request, model_admin):
        return self.options

    def queryset(self, request, queryset):
        if self.value() in {value for value, _label in self.options}:
            return queryset.filter(**{self.lookup: self.value()})
        return queryset


class InstitutionKindFilter(ChoicesListFilter):
    title = _("institution kind")
    parameter_name = "institution_kind"
    options = Institution.Kind.choices
    lookup = "institution__kind"


class InstitutionCountryFilter(ChoicesListFilter):
    title = _("country")
    parameter_name = "country"
    options = Institution.Country.choices
    lookup = "institution__country"


class EventListFilter(admin.RelatedFieldListFilter):
    """The events named with their start date, newest first, in one small query."""

    def field_choices(self, field, request, model_admin):
        events = Event.objects.order_by("-starts_at", "-id").only("pk", "title", "starts_at")
        return [(event.pk, event_with_date(event)) for event in events]


class CheckedInFilter(admin.SimpleListFilter):
    title = _("checked in")
    parameter_name = "checked_in"

    def lookups(self, request, model_admin):
        return [("yes", _("Checked in")), ("no", _("Not checked in"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(checked_in_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(checked_in_at__isnull=True)
        return queryset


# --- Registrations: forms -----------------------------------------------------------------------


class ErrorsDescribeFieldsMixin:
    """Ties each field's error list to its input (aria-describedby), beside its help text;
    the templates give the error list the id "<field id>_error"."""

    def add_error(self, field, error):
        super().add_error(field, error)
        for name in self.errors:
            if name in self.fields:
                bound = self[name]
                described = [f"{bound.auto_id}_error"]
                if bound.help_text:
                    described.append(f"{bound.auto_id}_helptext")
                self.fields[name].widget.attrs["aria-describedby"] = " ".join(described)


PRICE_FIELDS = ("category", "price")


class RegistrationChangeForm(forms.ModelForm):
    # What the page showed, so that saving a page opened before the attendee changed their
    # details (or a colleague their price) cannot silently undo it.
    shown_state = forms.CharField(widget=forms.HiddenInput, required=False)
    override_reason = forms.CharField(
        label=_("Reason for changing the category or price"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_(
            "Required when you change the admission category or the price; recorded with "
            "your name and the time."
        ),
    )

    class Meta:
        model = Registration
        field_classes = {"billing_ean_number": EanNumberField}
        fields = [
            "first_name",
            "last_name",
            "email",
            "job_title",
            "language",
            "category",
            "price",
            "dietary_needs",
            "accessibility_needs",
            "listed_as_participant",
            "billing_organisation",
            "billing_address",
            "billing_vat_number",
            "billing_po_reference",
            "billing_ean_number",
        ]

    def clean_email(self):
        email = self.cleaned_data["email"].strip()
        registration = self.instance
        if (
            registration.is_active
            and Registration.objects.active()
            .with_address(email)
            .filter(event_id=registration.event_id)
            .exclude(pk=registration.pk)
            .exists()
        ):
            raise forms.ValidationError(
                _("Another active registration for this event already uses this address.")
            )
        return email

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["shown_state"].initial = self._state_of(self.instance)

    def _state_of(self, registration: Registration) -> str:
        """A digest of what this form edits, as stored. (Not the status: it is not edited
        here, and a cancellation meanwhile does not conflict with, say, a new job title.)"""
        # The model fields declared below, not self._meta.fields: the admin's form factory
        # replaces those with every name on the page.
        values = [str(getattr(registration, name)) for name in RegistrationChangeForm.Meta.fields]
        return hashlib.sha256("\x1f".join(values).encode()).hexdigest()

    def clean(self):
        cleaned = super().clean()
        shown = cleaned.get("shown_state")
        # self.instance still holds the stored values here (the form's go in after clean).
        if self.instance.pk and shown and shown != self._state_of(self.instance):
            raise forms.ValidationError(
                _(
                    "This registration was changed while the page was open (by the attendee "
                    "or a colleague). Reload the page and make your change again."
                ),
                code="changed_meanwhile",
            )
        price = cleaned.get("price")
        if price is not None and price < 0:
            self.add_error("price", _("The price cannot be negative."))
        if (
            set(PRICE_FIELDS) & set(self.changed_data)
            and not cleaned.get("override_reason", "").strip()
        ):
            self.add_error(
                "override_reason",
                _("Give a reason for changing the admission category or the price."),
            )
        return cleaned


def event_with_date(event: Event) -> str:
    """An event named with its start date: next year's edition (or a copy) often has the
    same title."""
    starts = date_format(timezone.localtime(event.starts_at), "SHORT_DATE_FORMAT")
    return f"{event.title} ({starts})"


class EventChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, event: Event) -> str:
        return event_with_date(event)


class GuestRegistrationForm(ErrorsDescribeFieldsMixin, forms.Form):
    """Staff adding a guest or an invited speaker by hand."""

    PRICE_FROM_ADDRESS = "address"
    PRICE_SET_HERE = "set"

    event = EventChoiceField(
        label=_("Event"),
        queryset=Event.objects.none(),
        help_text=_("Published events that are not over."),
    )
    first_name = forms.CharField(label=_("First name"), max_length=150)
    last_name = forms.CharField(label=_("Last name"), max_length=150)
    email = forms.EmailField(label=_("E-mail address"), max_length=254)
    job_title = forms.CharField(label=_("Job title"), max_length=200, required=False)
    language = forms.ChoiceField(
        label=_("Language of the e-mails"), choices=settings.LANGUAGES, initial="en"
    )
    price_from = forms.ChoiceField(
        label=_("Admission category and price"),
        choices=[
            (PRICE_FROM_ADDRESS, _("As the e-mail address gives them (as on the public form)")),
            (PRICE_SET_HERE, _("Set here, for example free for an invited speaker")),
        ],
        initial=PRICE_FROM_ADDRESS,
        widget=forms.RadioSelect,
    )
    category = forms.ChoiceField(
        label=_("Admission category"), choices=AdmissionCategory.choices, required=False
    )
    price = forms.DecimalField(
        label=_("Price"), min_value=0, max_digits=10, decimal_places=2, required=False
    )
    price_reason = forms.CharField(
        label=_("Reason"),
        max_length=1000,
        required=False,
        help_text=_(
            "Shown to the attendee as the reason for the price, e.g. “Invited speaker”; "
            "recorded with your name."
        ),
    )
    dietary_needs = forms.CharField(
        label=_("Dietary needs"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    accessibility_needs = forms.CharField(
        label=_("Accessibility needs"),
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    listed_as_participant = forms.BooleanField(
        label=_("Appears on the participant list"), required=False
    )
    billing_organisation = forms.CharField(
        label=_("Organisation to invoice"), max_length=200, required=False
    )
    billing_address = forms.CharField(
        label=_("Billing address"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    billing_vat_number = VatNumberField(label=_("VAT number"), max_length=30, required=False)
    billing_po_reference = forms.CharField(
        label=_("Purchase-order reference"), max_length=100, required=False
    )
    billing_ean_number = EanNumberField(label=_("EAN number"), required=False)
    beyond_capacity = forms.BooleanField(
        label=_("Seat them even if the event is full"),
        required=False,
        help_text=_(
            "For an invited speaker: confirmed at once, and the capacity grows by one, so "
            "nobody on the waiting list loses a place."
        ),
    )
    without_billing = forms.BooleanField(
        label=_("Register without invoice details"),
        required=False,
        help_text=_("A fee is due but the invoice details are not known yet."),
    )

    def __init__(self, *args, now: datetime.datetime, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["event"].queryset = Event.objects.filter(
            status=Event.Status.PUBLISHED, ends_at__gt=now
        ).order_by("starts_at", "id")

    def clean(self):
        data = super().clean()
        if data.get("price_from") == self.PRICE_SET_HERE:
            for name in ("category", "price", "price_reason"):
                if data.get(name) in (None, "") and name not in self.errors:
                    self.add_error(name, _("Required when you set the price here."))
        return data

    def price_set_by_staff(self, *, staff_member) -> services.PriceSetByStaff | None:
        data = self.cleaned_data
        if data["price_from"] != self.PRICE_SET_HERE:
            return None
        return services.PriceSetByStaff(
            category=data["category"],
            price=data["price"],
            reason=data["price_reason"],
            set_by=staff_member,
        )

    def details(self) -> services.RegistrationDetails:
        data = self.cleaned_data
        return services.RegistrationDetails(
            dietary_needs=data["dietary_needs"],
            accessibility_needs=data["accessibility_needs"],
            listed_as_participant=data["listed_as_participant"],
            billing_organisation=data["billing_organisation"],
            billing_address=data["billing_address"],
            billing_vat_number=data["billing_vat_number"],
            billing_po_reference=data["billing_po_reference"],
            billing_ean_number=data["billing_ean_number"],
            language=data["language"],
        )


# --- Registrations: the admin -------------------------------------------------------------------


class OutgoingEmailInline(GenericTabularInline):
    """The registration's e-mails, read-only: staff see what was sent and what failed."""

    model = OutgoingEmail
    ct_field = "content_type"
    ct_fk_field = "object_id"
    fields = [
        "kind_display",
        "recipient",
        "status",
        "attempts",
        "last_error",
        "created_at",
        "sent_at",
    ]
    readonly_fields = fields
    ordering = ["-created_at", "-id"]
    extra = 0
    can_delete = False
    verbose_name = _("e-mail")
    verbose_name_plural = _("e-mails about this registration")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("kind"))
    def kind_display(self, email: OutgoingEmail) -> str:
        return kind_label(email.kind)


# django-import-export has no Swedish or Danish catalog: its export action read "Export selected
# anmälningar". Its texts on the registrations list and export page are marked here so that
# makemessages keeps them in the project's catalog, which takes precedence over any app's.
IMPORT_EXPORT_TEXTS = (
    gettext_noop("Export selected %(verbose_name_plural)s"),
    gettext_noop("Export"),
    gettext_noop("This exporter will export the following fields: "),
    gettext_noop("Select all"),
    gettext_noop("Submit"),
    # The export page's count of the rows selected on the list (a blocktranslate count).
    ngettext_lazy("Export %(len)s selected item.", "Export %(len)s selected items.", "len"),
)


SPECIAL_NEEDS_PERMISSION = "events.view_special_needs"
NEEDS_FIELDS = ("dietary_needs", "accessibility_needs", "special_needs_erased_at")


@admin.register(Registration)
class RegistrationAdmin(
    ListedFiltersOnly, FastActionCheckboxMixin, ExportActionMixin, admin.ModelAdmin
):
    form = RegistrationChangeForm
    # The registration's own page is the attendee's (a 404 for staff); check-in has a link.
    view_on_site = False
    resource_classes = [RegistrationResource]
    formats = EXPORT_FORMATS
    export_form_class = ColumnNamesExportForm
    # The change page's "Export" button submits (and so saves and logs) the whole form; a
    # registration is exported from the list.
    show_change_form_export = False
    # Fits a 1366 px laptop beside the filters (static/css/admin.css sets the column widths):
    # the e-mail address sits under the name, headers are short, check-in times compact.
    list_display = [
        "name",
        "institution_display",
        "category_display",
        "price_display",
        "status",
        "checked_in_display",
        "event",
    ]
    list_display_links = ["name"]
    list_filter = [
        ("event", EventListFilter),
        "status",
        "category",
        InstitutionKindFilter,
        InstitutionCountryFilter,
        CheckedInFilter,
    ]
    search_fields = ["first_name", "last_name", "email", "institution_name"]
    search_help_text = _("Search by name, e-mail address or institution.")
    list_select_related = ["event"]
    list_per_page = 100
    # Counting all registrations again on every filtered page is wasted work at this size.
    show_full_result_count = False
    # Newest first by id: a backward scan of the primary key, where sorting by created_at
    # would sort the whole table for every page.
    ordering = ["-id"]
    inlines = [OutgoingEmailInline]
    actions = [
        "check_in_selected",
        "undo_check_in_selected",
        "cancel_selected",
        "promote_selected",
        "resend_confirmation",
    ]
    readonly_fields = [
        "event",
        "status",
        "check_in_link",
        "account",
        "institution",
        "institution_name",
        "currency",
        "price_reason_display",
        "price_override_reason",
        "price_overridden_by_name",
        "price_overridden_at",
        "created_at",
        "confirmed_at",
        "cancelled_at",
        "checked_in_at",
        "checked_in_by_name",
        "special_needs_erased_at",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "event",
                    "status",
                    "shown_state",
                    "check_in_link",
                    "account",
                    ("first_name", "last_name"),
                    "email",
                    "job_title",
                    "language",
                ]
            },
        ),
        (_("Institution"), {"fields": ["institution", "institution_name"]}),
        (
            _("Admission category and price"),
            {
                "fields": [
                    "category",
                    ("price", "currency"),
                    "price_reason_display",
                    "override_reason",
                    "price_override_reason",
                    ("price_overridden_by_name", "price_overridden_at"),
                ]
            },
        ),
        (
            _("Dates"),
            {
                "fields": [
                    "created_at",
                    "confirmed_at",
                    "cancelled_at",
                    ("checked_in_at", "checked_in_by_name"),
                ]
            },
        ),
        (
            _("Needs (special-category data)"),
            {
                "fields": [
                    "dietary_needs",
                    "accessibility_needs",
                    "special_needs_erased_at",
                    "listed_as_participant",
                ]
            },
        ),
        (
            _("Billing"),
            {
                "classes": ["collapse"],
                "fields": [
                    "billing_organisation",
                    "billing_address",
                    "billing_vat_number",
                    "billing_po_reference",
                    "billing_ean_number",
                ],
            },
        ),
    ]

    # The list ----------------------------------------------------------------------------------

    def get_changelist(self, request, **kwargs):
        return SinglePassChangeList

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        if request.GET.get(SEARCH_VAR, "").strip() and not queryset.query.distinct:
            return SinglePassPaginator(
                queryset,
                per_page,
                orphans,
                allow_empty_first_page,
                requested_page=requested_page_number(request),
            )
        return super().get_paginator(request, queryset, per_page, orphans, allow_empty_first_page)

    def get_search_results(self, request, queryset, search_term):
        """Every word must occur in the name, e-mail address or institution, case ignored;
        a quoted phrase counts as one word."""
        words = []
        for word in smart_split(search_term):
            if word.startswith(('"', "'")) and word[0] == word[-1] and len(word) > 1:
                word = unescape_string_literal(word)
            if word.strip():
                words.append(word)
        return queryset.matching_words(words), False

    # Columns ---------------------------------------------------------------------------------

    @admin.display(description=_("name"), ordering="last_name")
    def name(self, registration: Registration) -> str:
        # The whole cell is the link to the registration; <wbr> lets a long address break
        # after the "@" rather than widen the column.
        local, at, domain = registration.email.rpartition("@")
        return format_html(
            '{}<br><span class="registration-email">{}{}<wbr>{}</span>',
            registration.full_name,
            local,
            at,
            domain,
        )

    @admin.display(description=_("institution"), ordering="institution_name")
    def institution_display(self, registration: Registration) -> str:
        return registration.institution_name

    @admin.display(description=_("category"), ordering="category")
    def category_display(self, registration: Registration) -> str:
        return registration.get_category_display()

    @admin.display(description=_("price"), ordering="price")
    def price_display(self, registration: Registration) -> str:
        # As the attendee's pages and e-mails write it: "Free", "1,200 DKK", "1 200,50 SEK".
        return format_price(amount=registration.price, currency=registration.currency)

    @admin.display(description=_("checked in"), ordering="checked_in_at")
    def checked_in_display(self, registration: Registration) -> str:
        """The day on one line ("today", "27 November", "30 November 2025") and the time
        on the next, in Copenhagen time; the full date and time as the tooltip."""
        if registration.checked_in_at is None:
            return self.get_empty_value_display()
        moment = timezone.localtime(registration.checked_in_at)
        today = timezone.localdate()
        if moment.date() == today:
            day = gettext("today")
        elif moment.year == today.year:
            day = date_format(moment, "MONTH_DAY_FORMAT")
        else:
            day = date_format(moment, "DATE_FORMAT")
        return format_html(
            '<time datetime="{}" title="{}">{}<br><span class="time">{}</span></time>',
            moment.isoformat(timespec="minutes"),
            date_format(moment, "DATETIME_FORMAT"),
            day,
            time_format(moment, "TIME_FORMAT"),
        )

    @admin.display(description=_("reason for the price"))
    def price_reason_display(self, registration: Registration) -> str:
        """The decision's reason in the staff member's language; once staff overrode the
        price, marked as the address's decision, which the override (its own field) replaced."""
        reason = pricing.decision_reason_for(registration=registration, for_staff=True)
        if registration.price_override_reason:
            return gettext("Replaced by the override below. The address gave: %(reason)s") % {
                "reason": reason
            }
        return reason

    @admin.display(description=_("account"))
    def account(self, registration: Registration) -> str:
        # Text, not the admin's link to the user: Event staff may not open users.
        if registration.user is None:
            return gettext("none (entered as a guest)")
        return registration.user.email

    # The admin would link these to the user's page, which Event staff may not open (403).
    @admin.display(description=_("price overridden by"))
    def price_overridden_by_name(self, registration: Registration) -> str | None:
        return staff_member_name(registration.price_overridden_by)

    @admin.display(description=_("checked in by"))
    def checked_in_by_name(self, registration: Registration) -> str | None:
        return staff_member_name(registration.checked_in_by)

    @admin.display(description=_("check-in page"))
    def check_in_link(self, registration: Registration) -> str:
        url = reverse("events:check_in", kwargs={"ticket_code": registration.ticket_code})
        return format_html('<a href="{}">{}</a>', url, gettext("Open the check-in page"))

    # Permissions -----------------------------------------------------------------------------

    def has_delete_permission(self, request, obj=None):
        # Registrations are cancelled, never deleted: a deletion would bypass the event's
        # seat counters and the waiting list.
        return False

    def has_export_permission(self, request):
        return request.user.has_perm("events.view_registration")

    def get_ordering(self, request):
        # The waiting list reads in its own order, first in line first.
        if request.GET.get("status__exact") == Registration.Status.WAITLISTED:
            return ["created_at", "id"]
        return super().get_ordering(request)

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.has_perm(SPECIAL_NEEDS_PERMISSION):
            return fieldsets
        return [
            (name, {**options, "fields": [f for f in options["fields"] if f not in NEEDS_FIELDS]})
            for name, options in fieldsets
        ]

    def get_export_resource_classes(self, request):
        if request.user.has_perm(SPECIAL_NEEDS_PERMISSION):
            return [RegistrationResource]
        return [RegistrationResourceWithoutNeeds]

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    # Saving ----------------------------------------------------------------------------------

    @transaction.atomic
    def save_model(self, request, obj, form, change):
        """Plain fields are saved as typed; a new category or price goes through
        services.override_price, which records who, when and why."""
        if not change:  # pragma: no cover - adding goes through add_view and register_guest
            raise PermissionDenied
        model_fields = {field.name for field in Registration._meta.fields}
        plain = [
            name for name in form.changed_data if name in model_fields and name not in PRICE_FIELDS
        ]
        if plain:
            obj.save(update_fields=plain)
        if set(PRICE_FIELDS) & set(form.changed_data):
            updated = services.override_price(
                registration_id=obj.pk,
                category=form.cleaned_data["category"],
                price=form.cleaned_data["price"],
                reason=form.cleaned_data["override_reason"],
                overridden_by=request.user,
            )
            for name in (
                "category",
                "price",
                "price_override_reason",
                "price_overridden_by_id",
                "price_overridden_at",
            ):
                setattr(obj, name, getattr(updated, name))

    def add_view(self, request, form_url="", extra_context=None):
        """Adding a registration by hand: the same registration service as the public form."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        initial = {}
        if request.GET.get("event", "").isdigit():
            initial["event"] = request.GET["event"]
        form = GuestRegistrationForm(request.POST or None, initial=initial, now=timezone.now())
        if request.method == "POST" and form.is_valid():
            try:
                outcome = services.register_guest(
                    event_id=form.cleaned_data["event"].pk,
                    first_name=form.cleaned_data["first_name"],
                    last_name=form.cleaned_data["last_name"],
                    email=form.cleaned_data["email"],
                    job_title=form.cleaned_data["job_title"],
                    details=form.details(),
                    registered_by=request.user,
                    require_billing=not form.cleaned_data["without_billing"],
                    price_set_by_staff=form.price_set_by_staff(staff_member=request.user),
                    beyond_capacity=form.cleaned_data["beyond_capacity"],
                )
            except services.RegistrationError as error:
                field = "billing_organisation" if error.code == "billing_required" else None
                form.add_error(field, error.message)
            except ValueError as error:  # an address whose domain has no usable form
                form.add_error("email", str(error))
            else:
                registration = outcome.registration
                if outcome.created:
                    self.log_addition(request, registration, [{"added": {}}])
                    messages.success(
                        request,
                        gettext("%(name)s is registered: %(status)s.")
                        % {
                            "name": registration.full_name,
                            "status": registration.get_status_display(),
                        },
                    )
                else:
                    messages.warning(
                        request,
                        # Not opening with the address: the admin capitalises a message's
                        # first letter, and "Gunnar.gast@lu.se" is not the address typed.
                        gettext(
                            "This event already has an active registration for %(email)s; "
                            "here it is."
                        )
                        % {"email": registration.email},
                    )
                return HttpResponseRedirect(
                    reverse("admin:events_registration_change", args=[registration.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Register a guest"),
            "subtitle": None,
            "form": form,
            "opts": self.opts,
            "app_label": self.opts.app_label,
            "has_view_permission": self.has_view_permission(request),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/events/registration/add_guest.html", context)

    # Actions ---------------------------------------------------------------------------------

    @admin.action(description=_("Check in"), permissions=["change"])
    def check_in_selected(self, request, queryset: QuerySet[Registration]):
        # Checking in is meant for the door; for an event on another day it is most likely a
        # slip of the action menu, so it is asked about first.
        not_today = self._count_not_taking_place_today(queryset)
        if not_today and request.POST.get("confirmed") != "yes":
            return self._confirmation_page(
                request,
                queryset,
                action="check_in_selected",
                title=gettext("Check in registrations"),
                question=ngettext(
                    "%(count)d of these registrations is for an event that does not take "
                    "place today. Check them in anyway?",
                    "%(count)d of these registrations are for events that do not take place "
                    "today. Check them in anyway?",
                    not_today,
                )
                % {"count": not_today},
                button=gettext("Yes, check them in"),
            )
        checked_in = already = not_confirmed = event_cancelled = 0
        for registration_id in queryset.values_list("pk", flat=True):
            try:
                registration, newly = services.check_in(
                    registration_id=registration_id, checked_in_by=request.user
                )
            except services.RegistrationError as refusal:
                if refusal.code == "event_cancelled":
                    event_cancelled += 1
                else:
                    not_confirmed += 1
                continue
            if newly:
                checked_in += 1
                self.log_change(request, registration, gettext("Checked in"))
            else:
                already += 1
        report_outcome(
            request,
            done=[
                _counted(
                    checked_in,
                    ngettext(
                        "%(count)d registration checked in.",
                        "%(count)d registrations checked in.",
                        checked_in,
                    ),
                ),
                _counted(
                    already,
                    ngettext(
                        "%(count)d registration was already checked in.",
                        "%(count)d registrations were already checked in.",
                        already,
                    ),
                ),
            ],
            problems=[
                _counted(
                    not_confirmed,
                    ngettext(
                        "%(count)d registration is not confirmed and was not checked in.",
                        "%(count)d registrations are not confirmed and were not checked in.",
                        not_confirmed,
                    ),
                ),
                _counted(
                    event_cancelled,
                    ngettext(
                        "%(count)d registration is for a cancelled event and was not checked in.",
                        "%(count)d registrations are for a cancelled event and were not checked "
                        "in.",
                        event_cancelled,
                    ),
                ),
            ],
        )

    @staticmethod
    def _count_not_taking_place_today(queryset: QuerySet[Registration]) -> int:
        today = timezone.localdate()
        events = Event.objects.filter(pk__in=queryset.values("event_id")).only(
            "pk", "starts_at", "ends_at"
        )
        elsewhere = [
            event.pk for event in events if not services.takes_place_on(event=event, day=today)
        ]
        if not elsewhere:
            return 0
        # Only those the action would check in: the others are reported as not confirmed.
        return queryset.filter(event_id__in=elsewhere).confirmed().count()

    @admin.action(description=_("Undo check-in"), permissions=["change"])
    def undo_check_in_selected(self, request, queryset: QuerySet[Registration]):
        undone = not_checked_in = 0
        for registration_id in queryset.values_list("pk", flat=True):
            registration, newly = services.undo_check_in(
                registration_id=registration_id, undone_by=request.user
            )
            if newly:
                undone += 1
                self.log_change(request, registration, gettext("Check-in undone"))
            else:
                not_checked_in += 1
        report_outcome(
            request,
            done=[
                _counted(
                    undone,
                    ngettext(
                        "%(count)d check-in undone.",
                        "%(count)d check-ins undone.",
                        undone,
                    ),
                ),
            ],
            problems=[
                _counted(
                    not_checked_in,
                    ngettext(
                        "%(count)d registration was not checked in; nothing to undo.",
                        "%(count)d registrations were not checked in; nothing to undo.",
                        not_checked_in,
                    ),
                ),
            ],
        )

    @admin.action(description=_("Cancel (promotes from the waiting list)"), permissions=["change"])
    def cancel_selected(self, request, queryset: QuerySet[Registration]):
        if request.POST.get("confirmed") != "yes":
            return self._confirmation_page(
                request,
                queryset,
                action="cancel_selected",
                title=gettext("Cancel registrations"),
                question=gettext(
                    "Cancel these registrations? Each person gets a cancellation e-mail, and "
                    "freed seats go to the waiting list in order of arrival."
                ),
                button=gettext("Yes, cancel them"),
            )
        cancelled = already = promoted = 0
        for registration_id in queryset.values_list("pk", flat=True):
            try:
                cancellation = services.cancel_registration(
                    registration_id=registration_id,
                    cancelled_by=request.user,
                    enforce_deadline=False,
                )
            except services.RegistrationError:
                already += 1
            else:
                cancelled += 1
                promoted += len(cancellation.promoted)
                self.log_change(request, cancellation.registration, gettext("Cancelled"))
        report_outcome(
            request,
            done=[
                _counted(
                    cancelled,
                    ngettext(
                        "%(count)d registration cancelled.",
                        "%(count)d registrations cancelled.",
                        cancelled,
                    ),
                ),
                _counted(promoted, promoted_sentence(promoted)),
            ],
            problems=[
                _counted(
                    already,
                    ngettext(
                        "%(count)d registration was already cancelled.",
                        "%(count)d registrations were already cancelled.",
                        already,
                    ),
                ),
            ],
        )
        return None

    @admin.action(description=_("Promote from the waiting list"), permissions=["change"])
    def promote_selected(self, request, queryset: QuerySet[Registration]):
        promoted = not_waitlisted = full = 0
        # First come, first served among the selected.
        for registration_id in queryset.order_by("created_at", "id").values_list("pk", flat=True):
            try:
                registration = services.promote_from_waiting_list(
                    registration_id=registration_id, promoted_by=request.user
                )
            except services.RegistrationError as error:
                if error.code == "full":
                    full += 1
                else:
                    not_waitlisted += 1
            else:
                promoted += 1
                self.log_change(request, registration, gettext("Promoted from the waiting list"))
        report_outcome(
            request,
            done=[
                _counted(
                    promoted,
                    ngettext(
                        "%(count)d person promoted from the waiting list.",
                        "%(count)d people promoted from the waiting list.",
                        promoted,
                    ),
                ),
            ],
            problems=[
                _counted(
                    not_waitlisted,
                    ngettext(
                        "%(count)d registration is not on the waiting list.",
                        "%(count)d registrations are not on the waiting list.",
                        not_waitlisted,
                    ),
                ),
                _counted(
                    full,
                    ngettext(
                        "%(count)d person was not promoted: the event is full.",
                        "%(count)d people were not promoted: the event is full.",
                        full,
                    ),
                ),
            ],
        )

    @admin.action(description=_("Resend the confirmation e-mail"), permissions=["change"])
    def resend_confirmation(self, request, queryset: QuerySet[Registration]):
        sent = not_confirmed = event_cancelled = 0
        # What the row, the outbox and the history entry ("name – event") read, in one query.
        rows = queryset.select_related("event").only(
            "pk",
            "email",
            "language",
            "status",
            "first_name",
            "last_name",
            "event__title",
            "event__status",
        )
        for registration in rows:
            if registration.status != Registration.Status.CONFIRMED:
                not_confirmed += 1
                continue
            if not services.has_valid_ticket(registration=registration):
                event_cancelled += 1  # a ticket the organisers have cancelled
                continue
            with transaction.atomic():
                notifications.queue_confirmation_again(registration=registration)
            sent += 1
            self.log_change(request, registration, gettext("Confirmation e-mail sent again"))
        report_outcome(
            request,
            done=[
                _counted(
                    sent,
                    ngettext(
                        "%(count)d confirmation e-mail queued.",
                        "%(count)d confirmation e-mails queued.",
                        sent,
                    ),
                ),
            ],
            problems=[
                _counted(
                    not_confirmed,
                    ngettext(
                        "%(count)d registration is not confirmed; nothing was sent.",
                        "%(count)d registrations are not confirmed; nothing was sent.",
                        not_confirmed,
                    ),
                ),
                _counted(
                    event_cancelled,
                    ngettext(
                        "%(count)d registration is for a cancelled event; nothing was sent.",
                        "%(count)d registrations are for a cancelled event; nothing was sent.",
                        event_cancelled,
                    ),
                ),
            ],
        )

    def _confirmation_page(self, request, queryset, *, action, title, question, button):
        registrations = list(queryset.select_related("event").order_by("last_name", "first_name"))
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "subtitle": None,
            "question": question,
            "button": button,
            "registrations": registrations,
            "action": action,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "opts": self.opts,
            "app_label": self.opts.app_label,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(
            request, "admin/events/registration/action_confirmation.html", context
        )


# --- Events -------------------------------------------------------------------------------------


class ProgrammeItemFormSet(forms.BaseInlineFormSet):
    """Programme items must fit in their event: an item typed with the wrong year would
    otherwise be saved and shown on the event's page. When the event's start moves, the
    items not edited on the page move with it (EventAdmin.save_related)."""

    def event_moved_by(self) -> datetime.timedelta | None:
        """How far the page moves the event's start (None for a new or unmoved event)."""
        if not hasattr(self, "_event_moved_by"):
            event = self.instance
            stored = (
                Event.objects.filter(pk=event.pk).values_list("starts_at", flat=True).first()
                if event.pk
                else None
            )
            moved = event.starts_at - stored if stored and event.starts_at else None
            self._event_moved_by = moved or None
        return self._event_moved_by

    def items_left_as_they_were(self) -> list[int]:
        return [
            form.instance.pk
            for form in self.forms
            if form.instance.pk and not form.has_changed() and not self._should_delete_form(form)
        ]

    def clean(self):
        super().clean()
        event = self.instance
        # The event as the page submits it (the admin puts the event form's values on it
        # first); without valid times there is nothing to compare with.
        if event.starts_at is None or event.ends_at is None:
            return
        # Items left as they were move with the event (EventAdmin.save_related): they are
        # judged where they will be.
        moved_by = self.event_moved_by()
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or self._should_delete_form(form):
                continue
            starts_at = form.cleaned_data.get("starts_at")
            ends_at = form.cleaned_data.get("ends_at")
            if moved_by and form.instance.pk and not form.has_changed():
                starts_at = starts_at + moved_by if starts_at else None
                ends_at = ends_at + moved_by if ends_at else None
            problems = services.programme_item_problems(
                event_starts_at=event.starts_at,
                event_ends_at=event.ends_at,
                starts_at=starts_at,
                ends_at=ends_at,
            )
            for field, message in problems.items():
                if field not in form.errors:
                    form.add_error(field, message)


class ProgrammeItemInline(admin.TabularInline):
    model = ProgrammeItem
    formset = ProgrammeItemFormSet
    fields = ["starts_at", "ends_at", "title", "speakers", "description"]
    extra = 0

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "description":
            kwargs["widget"] = forms.Textarea(attrs={"rows": 2, "cols": 40})
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class ChangeRefused(Exception):
    """A service refused part of an admin save; the whole save is to be undone."""


SLUG_FIXED_HELP = _(
    "The web address of this event cannot change any more: it has been published or has "
    "registrations, and links with this address on other pages and in e-mails already sent "
    "(with their calendar files) would stop working."
)


class EventAdminForm(forms.ModelForm):
    # The status as the page showed it: saving a page opened before a colleague cancelled the
    # event must not quietly publish it again.
    status_shown = forms.CharField(widget=forms.HiddenInput, required=False)
    # Cancelling e-mails everyone registered at once, and a draft hides the event from them:
    # a slip of the status list must do neither.
    confirm_status_change = forms.BooleanField(
        label=_("Yes, change the status as chosen"),
        required=False,
        help_text=_(
            "Needed only when you cancel an event people have registered for, or set it back "
            "to draft."
        ),
    )

    class Meta:
        model = Event
        # Titles such as "Lab tour: the imaging facility at Medicon Village" and one-line
        # summaries are read whole only in an input as wide as the description's box.
        widgets = {
            "title": AdminTextInputWidget(attrs={"class": "vLargeTextField"}),
            "summary": AdminTextInputWidget(attrs={"class": "vLargeTextField"}),
        }
        fields = [
            "title",
            "slug",
            "network",
            "status",
            "summary",
            "description",
            "venue",
            "address",
            "starts_at",
            "ends_at",
            "capacity",
            "has_waiting_list",
            "registration_opens_at",
            "registration_closes_at",
            "cancellation_deadline",
            "member_university_staff_free",
            "member_price",
            "standard_price",
            "currency",
            "content_language",
            "contact_email",
        ]
        help_texts = {
            "slug": _(
                "The last part of the event's web address (/events/…/). It can be changed only "
                "while the event is a draft that nobody has registered for."
            ),
            "status": _(
                "Cancelling e-mails every registered and wait-listed person at once; publishing "
                "again gives places freed meanwhile to the waiting list first."
            ),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["status_shown"].initial = self.instance.status

    def clean(self):
        cleaned = super().clean()
        shown = cleaned.get("status_shown")
        if self.instance.pk and shown and shown != self.instance.status:
            self.add_error(
                "status",
                _(
                    "Someone changed the status to “%(status)s” while this page was open. "
                    "Check the event and save again."
                )
                % {"status": self.instance.get_status_display()},
            )
        people = self.instance.confirmed_count + self.instance.waitlisted_count
        status = cleaned.get("status")
        asked = (
            self.instance.pk
            and people
            and status != self.instance.status
            and self.instance.ends_at > timezone.now()
            and not cleaned.get("confirm_status_change")
        )
        if asked and status == Event.Status.CANCELLED:
            self.add_error(
                "confirm_status_change",
                ngettext(
                    "Cancelling e-mails the %(count)d person registered or waiting that the "
                    "event is cancelled. Tick the box to confirm.",
                    "Cancelling e-mails the %(count)d people registered or waiting that the "
                    "event is cancelled. Tick the box to confirm.",
                    people,
                )
                % {"count": people},
            )
        elif asked and status == Event.Status.DRAFT:
            self.add_error(
                "confirm_status_change",
                ngettext(
                    "As a draft the event is hidden from the %(count)d person registered or "
                    "waiting, who is not told: its page and calendar link stop working. Tick "
                    "the box to confirm.",
                    "As a draft the event is hidden from the %(count)d people registered or "
                    "waiting, who are not told: its page and calendar link stop working. Tick "
                    "the box to confirm.",
                    people,
                )
                % {"count": people},
            )
        return cleaned

    def clean_capacity(self):
        capacity = self.cleaned_data.get("capacity")
        if capacity is not None and self.instance.pk and capacity < self.instance.confirmed_count:
            raise forms.ValidationError(
                _(
                    "The capacity cannot be lower than the %(count)d confirmed registrations; "
                    "cancel registrations first."
                ),
                params={"count": self.instance.confirmed_count},
            )
        return capacity


class StaffMessageForm(ErrorsDescribeFieldsMixin, forms.Form):
    subject = forms.CharField(label=_("Subject"), max_length=200)
    body = forms.CharField(
        label=_("Message"),
        widget=forms.Textarea(attrs={"rows": 12, "cols": 80}),
        max_length=10000,
        help_text=_("Plain text. Each attendee receives it in an e-mail addressed to them."),
    )
    # Names the message across write, preview and send (a fresh one per page): the
    # de-duplication keys of its e-mails are made of it.
    token = forms.CharField(widget=forms.HiddenInput, required=False)

    def clean_subject(self) -> str:
        # A line break cannot go into a mail header: every one of the e-mails would fail.
        subject = self.cleaned_data["subject"]
        if "\n" in subject or "\r" in subject:
            raise forms.ValidationError(_("The subject must be a single line."))
        return subject

    def clean_token(self) -> str:
        # Hidden, so nobody can correct it: anything but a token of ours becomes a new one.
        token = self.cleaned_data.get("token", "")
        return token if re.fullmatch(r"[0-9a-f]{32}", token) else uuid.uuid4().hex


@admin.register(Event)
class EventAdmin(FastActionCheckboxMixin, admin.ModelAdmin):
    form = EventAdminForm
    # Fits a 1366 px laptop: confirmed and capacity are written in the seats column beside
    # its bar ("12/300"), the start is the language's short date and time.
    list_display = [
        "title",
        "starts_display",
        "status",
        "network",
        "capacity_bar",
        "waitlisted_display",
        "registrations_link",
    ]
    list_filter = ["status", "network"]
    list_select_related = ["network"]
    search_fields = ["title", "slug", "venue"]
    ordering = ["-starts_at"]
    prepopulated_fields = {"slug": ["title"]}
    inlines = [ProgrammeItemInline]
    actions = ["message_attendees", "duplicate_selected"]
    readonly_fields = ["confirmed_count", "waitlisted_count", "registrations_link"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "title",
                    "slug",
                    "network",
                    "status",
                    "status_shown",
                    "confirm_status_change",
                    "summary",
                    "description",
                    "content_language",
                    "contact_email",
                ]
            },
        ),
        (_("Where and when"), {"fields": ["venue", "address", "starts_at", "ends_at"]}),
        (
            _("Registration"),
            {
                "fields": [
                    "capacity",
                    "has_waiting_list",
                    ("confirmed_count", "waitlisted_count"),
                    "registrations_link",
                    "registration_opens_at",
                    "registration_closes_at",
                    "cancellation_deadline",
                ]
            },
        ),
        (
            _("Prices"),
            {
                "fields": [
                    "member_university_staff_free",
                    "member_price",
                    "standard_price",
                    "currency",
                ]
            },
        ),
    ]

    # Columns ---------------------------------------------------------------------------------

    @admin.display(description=_("starts"), ordering="starts_at")
    def starts_display(self, event: Event) -> str:
        return date_format(timezone.localtime(event.starts_at), "SHORT_DATETIME_FORMAT")

    @admin.display(description=_("waiting"), ordering="waitlisted_count")
    def waitlisted_display(self, event: Event) -> int:
        return event.waitlisted_count

    @admin.display(description=_("seats taken"), ordering="confirmed_count")
    def capacity_bar(self, event: Event) -> str:
        if event.capacity is None:
            return gettext("%(confirmed)d · unlimited") % {"confirmed": event.confirmed_count}
        percent = round(100 * event.confirmed_count / event.capacity) if event.capacity else 100
        # The counts are written out: a meter's own text is only its fallback.
        return format_html(
            '<meter min="0" max="{}" value="{}" low="{}" high="{}" optimum="0" title="{}">'
            "{}</meter><br>{} · {}&nbsp;%",
            event.capacity,
            event.confirmed_count,
            # Not rounded: for a small event a rounded threshold reaches the capacity, and a
            # full event would show as comfortably below it.
            event.capacity * 0.8,
            event.capacity * 0.95,
            gettext("%(confirmed)d of %(capacity)d seats taken")
            % {"confirmed": event.confirmed_count, "capacity": event.capacity},
            f"{event.confirmed_count}/{event.capacity}",
            f"{event.confirmed_count}/{event.capacity}",
            percent,
        )

    @admin.display(description=_("registrations"))
    def registrations_link(self, event: Event) -> str:
        if event.pk is None:
            return "–"
        url = reverse("admin:events_registration_changelist") + f"?event__id__exact={event.pk}"
        return format_html('<a href="{}">{}</a>', url, gettext("Registrations"))

    # The slug ----------------------------------------------------------------------------------

    def _slug_is_fixed(self, obj: Event | None) -> bool:
        if obj is None or obj.pk is None:
            return False
        # Asked several times per page (form, fields, prepopulation): decided once, so that
        # they agree even if the event is published meanwhile.
        if not hasattr(obj, "_slug_is_fixed"):
            obj._slug_is_fixed = services.slug_is_fixed(event=obj)
        return obj._slug_is_fixed

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if self._slug_is_fixed(obj):
            readonly.append("slug")
        return readonly

    def get_prepopulated_fields(self, request, obj=None):
        if self._slug_is_fixed(obj):
            return {}
        return super().get_prepopulated_fields(request, obj)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if self._slug_is_fixed(obj):
            # A read-only field shows the form's help text: it says why.
            kwargs["help_texts"] = {**EventAdminForm.Meta.help_texts, "slug": SLUG_FIXED_HELP}
        return super().get_form(request, obj, change, **kwargs)

    # Saving ----------------------------------------------------------------------------------

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        for formset in formsets:
            if isinstance(formset, ProgrammeItemFormSet) and formset.event_moved_by():
                moved = services.move_programme_items(
                    event_id=form.instance.pk,
                    item_ids=formset.items_left_as_they_were(),
                    by=formset.event_moved_by(),
                )
                if moved:
                    messages.info(
                        request,
                        ngettext(
                            "%(count)d programme item moved with the event.",
                            "%(count)d programme items moved with the event.",
                            moved,
                        )
                        % {"count": moved},
                    )

    def save_model(self, request, obj, form, change):
        """A new event is saved as entered. On a change, only the edited fields are written
        (the seat counters belong to events.services), and a new capacity goes through
        services.change_capacity, which promotes from the waiting list when seats free up."""
        if not change:
            super().save_model(request, obj, form, change)
            return
        typed_slug = request.POST.get("slug")
        if typed_slug is not None and typed_slug != obj.slug and self._slug_is_fixed(obj):
            # A page opened before the event was published or registered for still offered
            # the slug; the rest of the change is saved.
            messages.warning(
                request,
                gettext("The slug was not changed. %(reason)s") % {"reason": SLUG_FIXED_HELP},
            )
        model_fields = {field.name for field in Event._meta.fields}
        through_services = {"capacity", "status"}
        plain = [
            name
            for name in form.changed_data
            if name in model_fields and name not in through_services
        ]
        if plain:
            obj.save(update_fields=[*plain, "updated_at"])
        if "status" in form.changed_data:
            self._change_status(request, obj, form.cleaned_data["status"])
        if "capacity" in form.changed_data:
            try:
                promoted = services.change_capacity(
                    event_id=obj.pk, capacity=form.cleaned_data["capacity"]
                )
            except services.RegistrationError as error:
                # Registrations came in between the form's check and this save. Raised out of
                # the admin's transaction, so nothing of the change is kept (changeform_view).
                raise ChangeRefused(error.message) from error
            else:
                if promoted:
                    messages.info(
                        request, promoted_sentence(len(promoted)) % {"count": len(promoted)}
                    )
            obj.refresh_from_db(fields=["capacity", "confirmed_count", "waitlisted_count"])

    def _change_status(self, request, event: Event, status: str) -> None:
        change = services.change_event_status(
            event_id=event.pk, status=status, changed_by=request.user
        )
        if change.notified and status == Event.Status.CANCELLED:
            messages.info(
                request,
                ngettext(
                    "%(count)d person was told by e-mail that the event is cancelled.",
                    "%(count)d people were told by e-mail that the event is cancelled.",
                    change.notified,
                )
                % {"count": change.notified},
            )
        elif change.notified:
            messages.info(
                request,
                ngettext(
                    "%(count)d person who had been told that the event was cancelled was told "
                    "by e-mail that it goes ahead after all.",
                    "%(count)d people who had been told that the event was cancelled were told "
                    "by e-mail that it goes ahead after all.",
                    change.notified,
                )
                % {"count": change.notified},
            )
        if change.promoted:
            count = len(change.promoted)
            messages.info(request, promoted_sentence(count) % {"count": count})
        event.refresh_from_db(fields=["status", "confirmed_count", "waitlisted_count"])

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ChangeRefused as refused:
            # The admin's transaction has rolled back: the form again, with the reason, and
            # not "changed successfully".
            messages.error(request, gettext("%(reason)s Nothing was saved.") % {"reason": refused})
            return HttpResponseRedirect(request.get_full_path())

    # Pages -----------------------------------------------------------------------------------

    def get_urls(self):
        return [
            path(
                "<path:object_id>/message/",
                self.admin_site.admin_view(self.message_view),
                name="events_event_message",
            ),
            path(
                "<path:object_id>/report/",
                self.admin_site.admin_view(self.report_view),
                name="events_event_report",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        event = self.get_object(request, unquote(object_id))
        if event is not None:
            report = reports.registration_report(event_id=event.pk)
            extra_context.update(self._report_context(report))
        return super().change_view(request, object_id, form_url, extra_context)

    def _report_context(self, report: reports.RegistrationReport) -> dict:
        return {
            "report": report,
            "per_day_chart": reports.per_day_chart_svg(days=report.per_day),
            "category_chart": reports.category_chart_svg(categories=report.by_category),
        }

    def _event_or_404(self, request, object_id) -> Event:
        # get_object answers None for an id that is not a number, as for one that is unknown.
        event = self.get_object(request, unquote(object_id))
        if event is None:
            raise Http404(gettext("There is no such event."))
        if not self.has_view_permission(request, event):
            raise PermissionDenied
        return event

    def report_view(self, request, object_id):
        event = self._event_or_404(request, object_id)
        report = reports.registration_report(event_id=event.pk)
        context = {
            **self.admin_site.each_context(request),
            **self._report_context(report),
            "title": gettext("How registration is going"),
            "subtitle": event.title,
            "event": event,
            "original": event,
            "opts": self.opts,
            "app_label": self.opts.app_label,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/events/event/report.html", context)

    def message_view(self, request, object_id):
        """Message every confirmed attendee: write, preview with the recipient count, send."""
        event = self._event_or_404(request, object_id)
        if not self.has_change_permission(request, event):
            raise PermissionDenied
        recipients = Registration.objects.filter(event=event).confirmed().count()
        if request.method == "POST" and not recipients:
            # A page opened while the event had attendees: there is nobody to send it to now.
            messages.warning(
                request,
                gettext(
                    "Nothing was sent: this event has no confirmed attendees, so there is "
                    "nobody to send a message to."
                ),
            )
            return HttpResponseRedirect(reverse("admin:events_event_change", args=[event.pk]))
        form = StaffMessageForm(request.POST or None, initial={"token": uuid.uuid4().hex})
        step = "write"
        if request.method == "POST" and form.is_valid() and "edit" not in request.POST:
            if "send" not in request.POST:
                step = "preview"
            else:
                # The form's token names the message: sent twice (a double click, the back
                # button), its rows' de-duplication keys let nothing go out a second time.
                count = notifications.queue_staff_message(
                    event=event,
                    subject=form.cleaned_data["subject"],
                    body=form.cleaned_data["body"],
                    sent_by=request.user,
                    message_id=form.cleaned_data["token"],
                )
                if recipients and not count:
                    messages.warning(request, gettext("This message was already sent."))
                    return HttpResponseRedirect(
                        reverse("admin:events_event_change", args=[event.pk])
                    )
                messages.success(
                    request,
                    ngettext(
                        "Your message is queued for %(count)d confirmed attendee.",
                        "Your message is queued for %(count)d confirmed attendees.",
                        count,
                    )
                    % {"count": count},
                )
                return HttpResponseRedirect(reverse("admin:events_event_change", args=[event.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Message all attendees"),
            "subtitle": event.title,
            "event": event,
            "original": event,
            "form": form,
            "step": step,
            "recipients": recipients,
            "opts": self.opts,
            "app_label": self.opts.app_label,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/events/event/message.html", context)

    # Actions ---------------------------------------------------------------------------------

    @admin.action(description=_("Message all attendees"), permissions=["change"])
    def message_attendees(self, request, queryset: QuerySet[Event]):
        selected = list(queryset.values_list("pk", flat=True)[:2])
        if len(selected) != 1:
            messages.error(request, gettext("Select exactly one event to message its attendees."))
            return None
        return HttpResponseRedirect(reverse("admin:events_event_message", args=[selected[0]]))

    @admin.action(description=_("Duplicate"), permissions=["add"])
    def duplicate_selected(self, request, queryset: QuerySet[Event]):
        copies = [
            services.duplicate_event(event_id=event_id)
            for event_id in queryset.values_list("pk", flat=True)
        ]
        links = format_html_join(
            ", ",
            '<a href="{}">{}</a>',
            ((reverse("admin:events_event_change", args=[copy.pk]), copy.title) for copy in copies),
        )
        messages.success(
            request,
            format_html(
                "{} {}",
                ngettext(
                    "%(count)d draft copy made:",
                    "%(count)d draft copies made:",
                    len(copies),
                )
                % {"count": len(copies)},
                links,
            ),
        )


class UserAdmin(MembersUserAdmin):
    """The members app's user admin, deleting a person's account as they would delete it
    themselves (events.privacy.delete_account): their upcoming seats go to the waiting
    list, their registrations are anonymised and their unsent e-mails go. A plain deletion
    would keep all that and leave the seats taken. Staff accounts, which a person cannot
    delete themselves, are deleted as Django does. It lives here because members cannot call
    events (the dependencies run events → members)."""

    def delete_model(self, request, obj):
        if privacy.account_can_be_deleted(user=obj):
            privacy.delete_account(user=obj)
        else:
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for user in queryset.order_by("pk"):
            self.delete_model(request, user)


admin.site.unregister(User)
admin.site.register(User, UserAdmin)
