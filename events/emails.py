"""The e-mails about registrations, rendered at send time from the outbox row's ids.

Each renderer takes an OutgoingEmail written by events.notifications, fetches the registration
as it is now, and builds an HTML message with a plain-text alternative from the templates in
templates/email/, in the registrant's language and the event's time zone. A message that no
longer applies (a wait-list notice for someone promoted meanwhile) raises MessageNotNeeded, so
the outbox skips it instead of sending something untrue.
"""

import datetime
from collections.abc import Callable

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from outbox.messages import (
    EmailWithInlineImages,
    InlineImage,
    calendar_attachment,
    format_moment,
    plain_text_body,
)
from outbox.models import OutgoingEmail
from outbox.services import MessageNotNeeded, register_renderer

from . import notifications, services
from .calendar import event_calendar
from .models import Event, Registration
from .pricing import format_price, price_reason_for
from .tickets import ticket_qr_png

TICKET_CONTENT_ID = "ticket-qr@mva-events"


def event_when(*, event: Event) -> str:
    """Date and time of an event as the pages write it, in the event's time zone and naming
    it, e.g. "Friday 28 November 2026, 09:00–15:00 CET"; both dates when it spans several
    days. The zone is named because a reader may be elsewhere (a calendar converts; an
    e-mail does not)."""
    starts = timezone.localtime(event.starts_at)
    ends = timezone.localtime(event.ends_at)
    start = formats.date_format(starts, "DATETIME_FORMAT")
    if starts.date() == ends.date() and starts.tzname() == ends.tzname():
        return f"{start}–{ends:%H:%M} {starts:%Z}"
    if starts.date() == ends.date():  # the clocks change during the event
        return f"{start} {starts:%Z}–{ends:%H:%M} {ends:%Z}"
    if starts.tzname() == ends.tzname():
        return f"{start} – {formats.date_format(ends, 'DATETIME_FORMAT')} {ends:%Z}"
    end = formats.date_format(ends, "DATETIME_FORMAT")
    return f"{start} {starts:%Z} – {end} {ends:%Z}"


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _registration(email: OutgoingEmail) -> Registration:
    registration_id = email.context.get("registration_id")
    registration = (
        Registration.objects.select_related("event", "event__network", "user")
        .filter(pk=registration_id)
        .first()
    )
    if registration is None:
        raise MessageNotNeeded(f"Registration {registration_id} no longer exists.")
    return registration


def _require_status(registration: Registration, *statuses: str, message: str) -> None:
    if registration.status not in statuses:
        raise MessageNotNeeded(f"{message} (registration is {registration.status}).")


def _require_a_valid_ticket(registration: Registration) -> None:
    """A message carrying a ticket goes out only while the ticket admits its holder: never
    after the organisers cancelled the event (whoever queued it, a resend included)."""
    if not services.has_valid_ticket(registration=registration):
        raise MessageNotNeeded(
            f"No ticket to send (registration {registration.status}, "
            f"event {registration.event.status})."
        )


def _programme_time(item, *, first_day, every_day_named: bool) -> str:
    """The time of a programme item, "09:00–09:45", with the day in front ("Fri 13 Mar
    09:00–09:45") for an event of several days or an item on another day than the first, as
    the event page writes it."""
    starts = timezone.localtime(item.starts_at)
    time = f"{starts:%H:%M}"
    if item.ends_at:
        time += f"–{timezone.localtime(item.ends_at):%H:%M}"
    if every_day_named or starts.date() != first_day:
        return f"{formats.date_format(starts, 'D j M')} {time}"
    return time


def _cancelling(registration: Registration) -> dict:
    """Whether the person can still cancel online when the message is sent, and until when:
    someone promoted after the deadline may cancel until the start, so the deadline on the
    event is not the one that applies to them."""
    can_cancel = services.can_cancel(registration=registration, now=timezone.now())
    closes_at = services.cancellation_closes_at(registration=registration)
    return {
        "can_cancel": can_cancel,
        "cancel_until": format_moment(moment=closes_at) if can_cancel else "",
    }


def _base_context(registration: Registration) -> dict:
    event = registration.event
    first_day = timezone.localtime(event.starts_at).date()
    several_days = first_day != timezone.localtime(event.ends_at).date()
    programme = [
        {
            "time": _programme_time(item, first_day=first_day, every_day_named=several_days),
            "title": item.title,
            "speakers": item.speakers,
        }
        for item in event.programme.all()
    ]
    return {
        "registration": registration,
        "event": event,
        "when": event_when(event=event),
        "venue": event.venue,
        "address_lines": _lines(event.address),
        "billing_address_lines": _lines(registration.billing_address),
        "price": format_price(amount=registration.price, currency=registration.currency),
        "price_reason": price_reason_for(registration=registration),
        "registration_url": f"{settings.SITE_URL}{registration.get_absolute_url()}",
        "event_url": f"{settings.SITE_URL}{event.get_absolute_url()}",
        "programme": programme,
        **_cancelling(registration),
        "site_url": settings.SITE_URL,
        "contact_address": event.contact_address,
    }


def _compose(
    *,
    template: str,
    subject: str,
    context: dict,
    with_ticket: bool = False,
    with_calendar: bool | None = None,
) -> EmailWithInlineImages:
    """The message from the template pair; `with_ticket` adds the QR ticket inline and
    the calendar file (`with_calendar` decides the file on its own where given)."""
    registration: Registration = context["registration"]
    context = {
        **context,
        "subject": subject,
        "ticket_cid": TICKET_CONTENT_ID if with_ticket else "",
    }
    text = plain_text_body(render_to_string(f"email/{template}.txt", context))
    html = render_to_string(f"email/{template}.html", context)
    inline_images = []
    if with_ticket:
        inline_images.append(
            InlineImage(
                content_id=TICKET_CONTENT_ID,
                content=ticket_qr_png(registration=registration),
                filename="ticket.png",
            )
        )
    message = EmailWithInlineImages(
        subject=subject,
        body=text,
        inline_images=inline_images,
        reply_to=[registration.event.contact_address],
    )
    message.attach_alternative(html, "text/html")
    if with_ticket if with_calendar is None else with_calendar:
        ics = event_calendar(event=registration.event)
        message.attach(calendar_attachment(ics=ics, filename=f"{registration.event.slug}.ics"))
    return message


def _language_of(registration: Registration) -> str:
    """The language to write to the person in: the one they last chose on the site (kept on
    their account), else the one they registered in (a guest entered by staff has no
    account)."""
    user = registration.user
    if user is not None and user.language in dict(settings.LANGUAGES):
        return user.language
    return registration.language


def _in_language(renderer: Callable[[OutgoingEmail, Registration], EmailWithInlineImages]):
    """Run a renderer in the registrant's language and the site's time zone."""

    def render(email: OutgoingEmail) -> EmailWithInlineImages:
        registration = _registration(email)
        language = _language_of(registration) or email.language or settings.LANGUAGE_CODE
        with translation.override(language), timezone.override(settings.TIME_ZONE):
            return renderer(email, registration)

    return render


@_in_language
def render_confirmation(email: OutgoingEmail, registration: Registration):
    _require_status(
        registration, Registration.Status.CONFIRMED, message="No confirmation without a seat"
    )
    _require_a_valid_ticket(registration)
    subject = _("Registration confirmed: %(event)s") % {"event": registration.event.title}
    return _compose(
        template="confirmation",
        subject=subject,
        context=_base_context(registration),
        with_ticket=True,
    )


@_in_language
def render_waitlisted(email: OutgoingEmail, registration: Registration):
    _require_status(
        registration, Registration.Status.WAITLISTED, message="No longer on the waiting list"
    )
    subject = _("You are on the waiting list: %(event)s") % {"event": registration.event.title}
    context = {
        **_base_context(registration),
        "position": services.waiting_list_position(registration=registration),
    }
    return _compose(template="waitlisted", subject=subject, context=context)


@_in_language
def render_promoted(email: OutgoingEmail, registration: Registration):
    _require_status(
        registration, Registration.Status.CONFIRMED, message="The promotion no longer holds"
    )
    _require_a_valid_ticket(registration)
    subject = _("A place is free for you: %(event)s") % {"event": registration.event.title}
    return _compose(
        template="promoted",
        subject=subject,
        context=_base_context(registration),
        with_ticket=True,
    )


@_in_language
def render_cancelled(email: OutgoingEmail, registration: Registration):
    # A person who registers again after cancelling still gets this: it is about the
    # registration they cancelled, which stays cancelled.
    # Someone who leaves the waiting list never had a seat, nor a ticket to lose.
    had_a_seat = registration.confirmed_at is not None
    if had_a_seat:
        subject = _("Registration cancelled: %(event)s") % {"event": registration.event.title}
    else:
        subject = _("You left the waiting list: %(event)s") % {"event": registration.event.title}
    return _compose(
        template="cancelled",
        subject=subject,
        context={**_base_context(registration), "had_a_seat": had_a_seat},
    )


@_in_language
def render_event_cancelled(email: OutgoingEmail, registration: Registration):
    if registration.event.status != Event.Status.CANCELLED:
        raise MessageNotNeeded("The event is on again.")
    _require_status(
        registration,
        Registration.Status.CONFIRMED,
        Registration.Status.WAITLISTED,
        message="The person had cancelled already",
    )
    subject = _("Cancelled by the organisers: %(event)s") % {"event": registration.event.title}
    # The calendar file, with the event's UID and status CANCELLED, marks the entry that
    # the confirmation's file made as cancelled in the person's calendar; someone waiting was
    # never sent one, and gets none.
    had_a_calendar_file = registration.status == Registration.Status.CONFIRMED
    return _compose(
        template="event_cancelled",
        subject=subject,
        context={**_base_context(registration), "with_calendar": had_a_calendar_file},
        with_calendar=had_a_calendar_file,
    )


@_in_language
def render_event_restored(email: OutgoingEmail, registration: Registration):
    if registration.event.status != Event.Status.PUBLISHED:
        raise MessageNotNeeded(f"The event is {registration.event.status} again.")
    _require_status(
        registration,
        Registration.Status.CONFIRMED,
        Registration.Status.WAITLISTED,
        message="The person cancelled meanwhile",
    )
    subject = _("Going ahead after all: %(event)s") % {"event": registration.event.title}
    context = {
        **_base_context(registration),
        "position": services.waiting_list_position(registration=registration),
    }
    confirmed = registration.status == Registration.Status.CONFIRMED
    return _compose(
        template="event_restored", subject=subject, context=context, with_ticket=confirmed
    )


@_in_language
def render_reminder(email: OutgoingEmail, registration: Registration):
    _require_status(registration, Registration.Status.CONFIRMED, message="No seat to remind of")
    event = registration.event
    if event.status != Event.Status.PUBLISHED:
        raise MessageNotNeeded(f"The event is {event.status}.")
    if event.starts_at <= timezone.now():
        raise MessageNotNeeded("The event has already started.")
    reminder_time = datetime.timedelta(days=settings.REMINDER_DAYS_BEFORE + 1)
    if event.starts_at > email.created_at + reminder_time:
        # Postponed after the reminder was written: another is written before the new date.
        raise MessageNotNeeded("The event has moved to a later date.")
    subject = _("Reminder: %(event)s") % {"event": event.title}
    return _compose(
        template="reminder",
        subject=subject,
        context=_base_context(registration),
        with_ticket=True,
    )


@_in_language
def render_staff_message(email: OutgoingEmail, registration: Registration):
    _require_status(
        registration,
        Registration.Status.CONFIRMED,
        Registration.Status.WAITLISTED,
        message="The registration was cancelled",
    )
    subject = str(email.context.get("subject") or registration.event.title)
    context = {
        **_base_context(registration),
        "body": str(email.context.get("body") or ""),
    }
    return _compose(template="staff_message", subject=subject, context=context)


RENDERERS = {
    notifications.CONFIRMATION: (render_confirmation, gettext_lazy("Confirmation")),
    notifications.WAITLISTED: (render_waitlisted, gettext_lazy("Waiting-list notice")),
    notifications.PROMOTED: (render_promoted, gettext_lazy("Promotion from the waiting list")),
    notifications.CANCELLED: (render_cancelled, gettext_lazy("Cancellation")),
    notifications.REMINDER: (render_reminder, gettext_lazy("Reminder")),
    notifications.STAFF_MESSAGE: (render_staff_message, gettext_lazy("Message from staff")),
    notifications.EVENT_CANCELLED: (
        render_event_cancelled,
        gettext_lazy("Event cancelled by the organisers"),
    ),
    notifications.EVENT_RESTORED: (
        render_event_restored,
        gettext_lazy("Event going ahead after all"),
    ),
}


def register_renderers() -> None:
    """Called from EventsConfig.ready()."""
    for kind, (renderer, label) in RENDERERS.items():
        register_renderer(kind, renderer, label=label)
