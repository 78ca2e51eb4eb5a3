"""Pages for attendees: the event list and detail, registering, one's registrations, the
participant list and calendar files (DESIGN.md section 5). Pages with a person's data are
never_cache: no shared cache or browser history keeps them.

Views read and present; registering and cancelling go through events.services, prices
through events.pricing. The registration-state hints shown before someone acts (not yet
open, closed, full) only choose what to display: the service decides when they act.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from members.affiliation import resolve_verified_affiliations, verified_affiliations
from members.models import Network

from . import services
from .calendar import event_calendar
from .forms import RegistrationDetailsForm, RegistrationForm
from .models import Event, Registration
from .pricing import (
    decide_admission,
    decide_admission_for_user,
    format_price,
    price_list,
    price_reason_for,
)
from .tickets import ticket_qr_png, ticket_qr_svg

# How many past events the list shows; older ones are history, not news.
PAST_EVENTS_SHOWN = 12


# --- Reading helpers --------------------------------------------------------------------------


def _visible_events(request):
    """Published and cancelled events; staff who may see events also see drafts (to preview
    them)."""
    user = request.user
    if user.is_authenticated and user.is_staff and user.has_perm("events.view_event"):
        return Event.objects.all()
    return Event.objects.published()


def _event_for_visitor(request, slug: str, *related) -> Event:
    """The event the visitor may see, or 404; `related` joins what the page shows of it."""
    queryset = _visible_events(request)
    if related:
        queryset = queryset.select_related(*related)
    return get_object_or_404(queryset, slug=slug)


def _with_waiting_list_position(queryset):
    """Annotate `people_ahead` on the waiting list, in the same query (for lists; one
    registration's place is `services.waiting_list_position`)."""
    ahead = (
        Registration.objects.waitlisted_ahead(
            event_id=OuterRef("event"), created_at=OuterRef("created_at"), pk=OuterRef("id")
        )
        .order_by()
        .values("event")
        .annotate(count=Count("id"))
        .values("count")
    )
    return queryset.annotate(
        people_ahead=Coalesce(Subquery(ahead, output_field=IntegerField()), Value(0))
    )


def _position(registration: Registration) -> int | None:
    """From the annotation of `_with_waiting_list_position`."""
    if registration.status != Registration.Status.WAITLISTED:
        return None
    return registration.people_ahead + 1


# --- Events -----------------------------------------------------------------------------------


def event_list(request):
    now = timezone.now()
    networks = list(Network.objects.order_by("name"))
    selected_network = None
    wanted = request.GET.get("network", "").strip()
    unknown_network = False
    if wanted:
        selected_network = next((n for n in networks if n.slug == wanted), None)
        # A stale or mistyped link still leads to the events, with a word on why all show.
        unknown_network = selected_network is None

    events = Event.objects.published().select_related("network")
    if selected_network is not None:
        events = events.filter(network=selected_network)
    upcoming = list(events.upcoming(now).order_by("starts_at", "id"))
    past = list(events.past(now).order_by("-starts_at", "-id")[:PAST_EVENTS_SHOWN])

    registered_statuses = {}
    if request.user.is_authenticated and upcoming:
        registered_statuses = dict(
            Registration.objects.active()
            .filter(user=request.user, event__in=[event.pk for event in upcoming])
            .values_list("event_id", "status")
        )
    for event in upcoming:
        event.state = services.registration_state(event=event, now=now)
        event.my_status = registered_statuses.get(event.pk)

    return render(
        request,
        "events/event_list.html",
        {
            "upcoming": upcoming,
            "past": past,
            "networks": networks,
            "selected_network": selected_network,
            "unknown_network": unknown_network,
        },
    )


def event_detail(request, slug):
    event = _event_for_visitor(request, slug, "network")
    programme = list(event.programme.all())
    now = timezone.now()
    decision = None
    registration = None
    if request.user.is_authenticated:
        decision = decide_admission_for_user(event=event, user=request.user)
        registration = (
            Registration.objects.active()
            .filter(event=event, user=request.user)
            .order_by("-created_at")
            .first()
        )
        if registration is not None:
            registration.position = services.waiting_list_position(registration=registration)
    can_see_participants = services.can_see_participant_list(
        user=request.user, event=event, own_registration=registration
    )
    state = services.registration_state(event=event, now=now)
    return render(
        request,
        "events/event_detail.html",
        {
            "event": event,
            "programme": programme,
            "state": state,
            # Neither over nor cancelled: places, prices and a calendar file still mean something.
            "still_to_come": state not in {"over", "cancelled"},
            "decision": decision,
            "registration": registration,
            "category_prices": price_list(event=event),
            "can_see_participants": can_see_participants,
        },
    )


def event_ics(request, slug):
    event = _event_for_visitor(request, slug)
    response = HttpResponse(
        event_calendar(event=event), content_type="text/calendar; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{event.slug}.ics"'
    return response


@never_cache
@login_required
def participants(request, slug):
    event = _event_for_visitor(request, slug)
    if not services.can_see_participant_list(user=request.user, event=event):
        return render(request, "events/participants_forbidden.html", {"event": event}, status=403)
    people = list(
        Registration.objects.confirmed()
        .filter(event=event, listed_as_participant=True)
        .order_by("last_name", "first_name", "id")
        # Only what the consent covers: the address is never shown, not even for want of a name.
        .only("first_name", "last_name", "job_title", "institution_name")
    )
    return render(request, "events/participants.html", {"event": event, "people": people})


# --- Registering ------------------------------------------------------------------------------


def _details_from(
    form: RegistrationForm, *, stored: Registration | None = None
) -> services.RegistrationDetails:
    """What the form says; a field it does not ask keeps the stored value (or is empty)."""
    data = form.cleaned_data

    def value(name, empty=""):
        if name in data:
            return data[name]
        return getattr(stored, name) if stored is not None else empty

    return services.RegistrationDetails(
        dietary_needs=value("dietary_needs"),
        accessibility_needs=value("accessibility_needs"),
        listed_as_participant=value("listed_as_participant", False),
        billing_organisation=value("billing_organisation"),
        billing_address=value("billing_address"),
        billing_vat_number=value("billing_vat_number"),
        billing_po_reference=value("billing_po_reference"),
        billing_ean_number=value("billing_ean_number"),
        language=translation.get_language() or "en",
    )


# Conflicts with the event's state are 409; input the person can fix is 400.
_ERROR_STATUS = {"billing_required": 400}


@login_required
@require_http_methods(["GET", "POST"])
def register(request, slug):
    event = _event_for_visitor(request, slug)
    if request.method == "GET":
        # A valid POST needs no look-up: registering twice returns the existing registration.
        already = _already_registered(request, event)
        if already is not None:
            return already

    if request.method == "POST":
        # The price decided now is kept for good: from the database, not the cache.
        affiliations = resolve_verified_affiliations(user=request.user)
    else:
        affiliations = verified_affiliations(user=request.user)
    decision = decide_admission(event=event, affiliations=affiliations)
    fee_due = decision.price > 0
    now = timezone.now()
    state = services.registration_state(event=event, now=now)
    error = None
    error_code = None
    status = 200

    if request.method == "POST":
        form = RegistrationForm(request.POST, fee_due=fee_due)
        if form.is_valid():
            try:
                outcome = services.register_for_event(
                    event_id=event.pk,
                    user=request.user,
                    details=_details_from(form),
                    affiliations=affiliations,
                )
            except services.RegistrationError as problem:
                error, error_code = problem.message, problem.code
                status = _ERROR_STATUS.get(problem.code, 409)
                if problem.code == "billing_required" and not fee_due:
                    # The price changed since the page was shown: ask for billing details.
                    form = RegistrationForm(request.POST, fee_due=True)
                    form.is_valid()
            else:
                return _after_registering(request, outcome)
        else:
            # Someone registered already (in another tab, say) has nothing to correct here.
            already = _already_registered(request, event)
            if already is not None:
                return already
            status = 400
    else:
        form = RegistrationForm(fee_due=fee_due)

    return render(
        request,
        "events/register.html",
        {
            "event": event,
            "form": form,
            "decision": decision,
            "fee_text": format_price(amount=decision.price, currency=decision.currency),
            # Until when a seat taken now could be given back (the rule of a real one).
            "cancel_until": services.cancellation_closes_at(
                registration=Registration(
                    event=event,
                    status=Registration.Status.CONFIRMED,
                    created_at=now,
                    confirmed_at=now,
                )
            ),
            # Until when a place on the waiting list, taken now, could be left.
            "leave_until": services.cancellation_closes_at(
                registration=Registration(
                    event=event, status=Registration.Status.WAITLISTED, created_at=now
                )
            ),
            "state": state,
            "error": error,
            "show_form": (error_code is None and state in {"open", "waiting_list"})
            or error_code == "billing_required",
        },
        status=status,
    )


def _already_registered(request, event: Event):
    """A redirect to the person's active registration for the event, if they have one."""
    existing_code = (
        Registration.objects.active()
        .filter(event=event, user=request.user)
        .values_list("ticket_code", flat=True)
        .first()
    )
    if existing_code is None:
        return None
    messages.info(request, _("You are already registered for this event."))
    return redirect("events:registration", ticket_code=existing_code)


def _after_registering(request, outcome: services.RegistrationOutcome):
    registration = outcome.registration
    event_title = registration.event.title
    if not outcome.created:
        messages.info(request, _("You are already registered for this event."))
    elif registration.status == Registration.Status.CONFIRMED:
        messages.success(
            request,
            _("You are registered for %(event)s. A confirmation is on its way by e-mail.")
            % {"event": event_title},
        )
    else:
        position = services.waiting_list_position(registration=registration)
        messages.warning(
            request,
            _(
                "%(event)s is full, so you are on the waiting list, at position %(position)d. "
                "We will e-mail you if a place frees up."
            )
            % {"event": event_title, "position": position},
        )
    return redirect(registration)


# --- One's registrations ----------------------------------------------------------------------


@never_cache
@login_required
def my_registrations(request):
    now = timezone.now()
    registrations = list(
        _with_waiting_list_position(
            Registration.objects.filter(user=request.user).select_related("event", "event__network")
        )
    )
    for registration in registrations:
        registration.position = _position(registration)
    coming = sorted(
        (r for r in registrations if r.event.ends_at >= now),
        key=lambda r: (r.event.starts_at, r.created_at, r.pk),
    )
    # A cancelled registration is history: beside a new one for the same event it would read
    # as the event listed twice.
    upcoming = [r for r in coming if r.is_active]
    # Each with the day it was cancelled, latest first: the same event cancelled twice is two
    # lines of history, told apart by their dates.
    cancelled = sorted(
        (r for r in coming if not r.is_active),
        key=lambda r: (r.cancelled_at or r.created_at, r.pk),
        reverse=True,
    )
    past = sorted(
        (r for r in registrations if r.event.ends_at < now),
        key=lambda r: (r.event.starts_at, r.created_at, r.pk),
        reverse=True,
    )
    return render(
        request,
        "events/my_registrations.html",
        {"upcoming": upcoming, "cancelled": cancelled, "past": past},
    )


def _own_registration(request, ticket_code: str) -> Registration:
    """The signed-in person's registration with this code; anyone else's is a 404, so a
    code neither leaks whose it is nor whether it exists."""
    queryset = Registration.objects.select_related("event")
    registration = queryset.filter(ticket_code=ticket_code, user=request.user).first()
    if registration is None:
        # Perhaps staff entered the person as a guest (from an e-mail link of theirs): it is
        # theirs once linked, which only a verified address of theirs does.
        services.claim_guest_registrations(user=request.user)
        registration = get_object_or_404(queryset, ticket_code=ticket_code, user=request.user)
    registration.position = services.waiting_list_position(registration=registration)
    return registration


@never_cache
@login_required
def registration_detail(request, ticket_code):
    registration = _own_registration(request, ticket_code)
    event = registration.event
    now = timezone.now()
    show_ticket = services.has_valid_ticket(registration=registration)
    replaced_by = None
    if not registration.is_active:
        replaced_by = (
            Registration.objects.active()
            .filter(event=event, user=request.user)
            .only("ticket_code")
            .first()
        )
    return render(
        request,
        "events/registration_detail.html",
        {
            "registration": registration,
            "event": event,
            "price_reason": price_reason_for(registration=registration),
            "ticket_svg": ticket_qr_svg(registration=registration) if show_ticket else "",
            "can_cancel": services.can_cancel(registration=registration, now=now),
            "cancellation_deadline": services.cancellation_closes_at(registration=registration),
            "event_is_over": event.ends_at < now,
            "replaced_by": replaced_by,
            "details_editable": services.details_still_editable(registration=registration, now=now),
        },
    )


@never_cache
@login_required
def ticket_png(request, ticket_code):
    registration = _own_registration(request, ticket_code)
    if not services.has_valid_ticket(registration=registration):
        raise Http404(_("Only a confirmed registration for an event that is on has a ticket."))
    response = HttpResponse(ticket_qr_png(registration=registration), content_type="image/png")
    response["Content-Disposition"] = f'inline; filename="ticket-{registration.event.slug}.png"'
    return response


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def change_details(request, ticket_code):
    registration = _own_registration(request, ticket_code)
    if not registration.is_active:
        messages.info(request, _("This registration is cancelled, so there is nothing to change."))
        return redirect(registration)
    editable = services.details_still_editable(registration=registration, now=timezone.now())
    form = RegistrationDetailsForm(
        request.POST if request.method == "POST" else None,
        registration=registration,
        details_editable=editable,
    )
    error = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.change_registration_details(
                    registration_id=registration.pk,
                    details=_details_from(form, stored=registration),
                )
            except services.RegistrationError as problem:
                error = problem.message
                status = _ERROR_STATUS.get(problem.code, 409)
            else:
                messages.success(request, _("Your details are saved."))
                return redirect(registration)
        else:
            status = 400
    return render(
        request,
        "events/change_details.html",
        {
            "registration": registration,
            "event": registration.event,
            "form": form,
            "details_editable": editable,
            "error": error,
        },
        status=status,
    )


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def cancel_registration(request, ticket_code):
    registration = _own_registration(request, ticket_code)
    if request.method == "POST":
        was_waiting = registration.status == Registration.Status.WAITLISTED
        try:
            services.cancel_registration(registration_id=registration.pk, cancelled_by=request.user)
        except services.RegistrationError as problem:
            messages.error(request, problem.message)
        else:
            done = (
                _("You have left the waiting list for %(event)s.")
                if was_waiting
                else _("Your registration for %(event)s is cancelled.")
            )
            messages.success(request, done % {"event": registration.event.title})
        return redirect(registration)

    if not registration.is_active:
        messages.info(request, _("This registration is already cancelled."))
        return redirect(registration)
    now = timezone.now()
    return render(
        request,
        "events/cancel_registration.html",
        {
            "registration": registration,
            "event": registration.event,
            "can_cancel": services.can_cancel(registration=registration, now=now),
            "cancellation_deadline": services.cancellation_closes_at(registration=registration),
        },
    )
