"""The messages themselves: what each registration e-mail says, in which language, and how
it is built (HTML with a text alternative, inline QR code, calendar attachment)."""

import datetime
import email
import email.policy
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

import icalendar
import pytest
from django.utils import timezone, translation

from events import notifications
from events.emails import TICKET_CONTENT_ID, event_when
from events.models import Event, Registration
from events.pricing import format_price
from events.services import waiting_list_position
from events.tickets import ticket_qr_png
from outbox import services as outbox
from outbox.services import MessageNotNeeded, build_message
from tests.factories import EventFactory, ProgrammeItemFactory, RegistrationFactory, UserFactory

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
pytestmark = pytest.mark.django_db


def parsed(message) -> email.message.EmailMessage:
    """The message as a mail client sees it."""
    return email.message_from_bytes(message.message().as_bytes(), policy=email.policy.default)


def parts(message) -> dict[str, list]:
    found: dict[str, list] = {}
    for part in parsed(message).walk():
        found.setdefault(part.get_content_type(), []).append(part)
    return found


@pytest.fixture
def event():
    starts = datetime.datetime(2030, 3, 15, 9, 0, tzinfo=COPENHAGEN)
    event = EventFactory(
        title="R&D Day <2030>",
        slug="rd-day-2030",
        starts_at=starts,
        ends_at=starts + datetime.timedelta(hours=7),
        registration_opens_at=starts - datetime.timedelta(days=60),
        registration_closes_at=starts - datetime.timedelta(days=1),
        cancellation_deadline=starts - datetime.timedelta(days=3),
        venue="Medicon Village",
        address="Scheelevägen 2\n223 81 Lund\nSweden",
    )
    ProgrammeItemFactory(
        event=event, starts_at=starts, title="Welcome & coffee", speakers="Anna Larsson"
    )
    ProgrammeItemFactory(
        event=event, starts_at=starts + datetime.timedelta(hours=1), title="Keynote"
    )
    return event


def written_as_beat_would(email):
    """A reminder row as the beat writes it, two days before the event (not years)."""
    if email.kind == notifications.REMINDER:
        registration = Registration.objects.get(pk=email.context["registration_id"])
        email.created_at = registration.event.starts_at - datetime.timedelta(days=2)
        email.save(update_fields=["created_at"])
    return email


def confirmed(event, **fields) -> Registration:
    fields.setdefault("price", Decimal("1200.00"))
    fields.setdefault("price_reason", "Standard price: no member institution.")
    fields.setdefault("status", Registration.Status.CONFIRMED)
    return RegistrationFactory(event=event, **fields)


def render(row):
    return build_message(row)


def test_every_kind_notifications_write_has_a_renderer():
    assert set(notifications.KINDS) <= set(outbox._renderers)


def test_confirmation_has_price_reason_programme_venue_link_ticket_and_calendar(event):
    registration = confirmed(event, first_name="Jens")
    row = notifications.queue_confirmation(registration=registration)

    message = render(row)

    assert message.to == [registration.email]
    assert message.subject == "Registration confirmed: R&D Day <2030>"
    assert message.extra_headers["Message-ID"] == row.message_id
    text = message.body
    registration_url = f"http://127.0.0.1:8000/registrations/{registration.ticket_code}/"
    for expected in [
        "Dear Jens,",
        "R&D Day <2030>",  # plain text is not HTML-escaped
        "Price: 1,200 DKK\n       Standard price: no member institution.",
        "Friday 15 March 2030, 09:00–16:00 CET",
        "Medicon Village, Scheelevägen 2, 223 81 Lund, Sweden",
        "09:00–09:45  Welcome & coffee – Anna Larsson",
        "10:00–10:45  Keynote",
        registration_url,
        "You can cancel until 12 March 2030, 09:00 CET.",
    ]:
        assert expected in text, expected
    assert "&amp;" not in text and "<strong>" not in text

    html = message.alternatives[0].content
    assert "R&amp;D Day &lt;2030&gt;" in html
    assert f'src="cid:{TICKET_CONTENT_ID}"' in html
    assert f'href="{registration_url}"' in html
    assert "Welcome &amp; coffee" in html


@pytest.mark.parametrize("kind", ["confirmation", "promoted"])
def test_a_fee_s_billing_details_are_in_the_e_mail_to_check(event, kind):
    registration = confirmed(
        event,
        billing_organisation="Acme Biotech AB",
        billing_address="Scheelevägen 2\n223 81 Lund",
        billing_vat_number="SE556677889901",
        billing_po_reference="PO-42",
        billing_ean_number="5790001234567",
    )
    queue = {
        "confirmation": notifications.queue_confirmation,
        "promoted": notifications.queue_promoted,
    }[kind]
    message = render(queue(registration=registration))

    assert (
        "Invoice to:\nAcme Biotech AB\nScheelevägen 2\n223 81 Lund\n"
        "VAT number: SE556677889901\nPurchase-order reference: PO-42\n"
        "EAN number: 5790001234567\n"
    ) in message.body
    html = message.alternatives[0].content
    assert "Acme Biotech AB<br>Scheelevägen 2<br>223 81 Lund" in html
    assert "You can correct them on your registration page." in html
    assert "You can correct them on your registration page." in message.body


def test_a_free_place_s_e_mail_has_no_billing_block(event):
    registration = confirmed(event, price=Decimal("0.00"), billing_organisation="Old data")
    message = render(notifications.queue_confirmation(registration=registration))
    assert "Invoice to" not in message.body
    assert "Invoice to" not in message.alternatives[0].content


def test_confirmation_mime_structure_inline_qr_and_calendar(event):
    registration = confirmed(event)
    message = render(notifications.queue_confirmation(registration=registration))

    mail = parsed(message)
    assert mail.get_content_type() == "multipart/mixed"
    alternative, calendar = mail.get_payload()
    assert alternative.get_content_type() == "multipart/alternative"
    plain, related = alternative.get_payload()
    assert plain.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    html, image = related.get_payload()
    assert html.get_content_type() == "text/html"
    assert image.get_content_type() == "image/png"
    assert image["Content-ID"] == f"<{TICKET_CONTENT_ID}>"
    assert image.get_content_disposition() == "inline"
    assert image.get_content() == ticket_qr_png(registration=registration)

    assert calendar.get_content_type() == "text/calendar"
    assert calendar.get_param("method") == "PUBLISH"
    assert calendar.get_filename() == "rd-day-2030.ics"
    parsed_calendar = icalendar.Calendar.from_ical(calendar.get_content())
    (entry,) = parsed_calendar.walk("VEVENT")
    assert str(entry["SUMMARY"]) == "R&D Day <2030>"
    assert entry.decoded("DTSTART") == event.starts_at
    # The event's public page: calendars are shared, and a registration's page is its ticket.
    assert str(entry["URL"]).endswith(event.get_absolute_url())
    assert registration.ticket_code not in calendar.get_content()
    assert str(entry["LOCATION"]) == "Medicon Village, Scheelevägen 2, 223 81 Lund, Sweden"


@pytest.mark.parametrize(
    ("language", "month", "greeting_price"),
    [
        ("en", "March", "1,200 DKK"),
        ("sv", "mars", "1\xa0200 DKK"),
        ("da", "marts", "1.200 DKK"),
    ],
)
def test_rendered_in_the_registrants_language(event, language, month, greeting_price):
    registration = confirmed(event, language=language)
    row = notifications.queue_confirmation(registration=registration)

    # The worker's own language must not leak into the message.
    with translation.override("en" if language != "en" else "da"):
        message = render(row)

    assert month in message.body
    assert greeting_price in message.body
    assert f'lang="{language}"' in message.alternatives[0].content


@pytest.mark.parametrize(
    ("preferred", "registered_in", "has_account", "written_in"),
    [
        ("da", "sv", True, "da"),  # chosen on the site since: theirs now
        ("", "sv", True, "sv"),  # no choice kept: the registration's
        ("", "sv", False, "sv"),  # a guest entered by staff
    ],
)
def test_written_in_the_language_the_person_last_chose(
    event, preferred, registered_in, has_account, written_in
):
    user = UserFactory(language=preferred) if has_account else None
    registration = confirmed(event, user=user, language=registered_in)

    message = render(notifications.queue_confirmation(registration=registration))

    assert f'lang="{written_in}"' in message.alternatives[0].content


@pytest.mark.parametrize(
    ("amount", "currency", "language", "expected"),
    [
        (Decimal("0"), "DKK", "en", "Free"),
        (Decimal("0.00"), "EUR", "en", "Free"),
        (Decimal("500"), "DKK", "en", "500 DKK"),
        (Decimal("1200.00"), "DKK", "en", "1,200 DKK"),
        (Decimal("1200.50"), "SEK", "en", "1,200.50 SEK"),
        (Decimal("1200.50"), "SEK", "sv", "1\xa0200,50 SEK"),
        (Decimal("1200.50"), "EUR", "da", "1.200,50 EUR"),
    ],
)
def test_format_price(amount, currency, language, expected):
    with translation.override(language):
        assert format_price(amount=amount, currency=currency) == expected


@pytest.mark.parametrize(
    ("starts", "ends", "expected"),
    [
        ((2030, 3, 15, 9, 0), (2030, 3, 15, 16, 30), "Friday 15 March 2030, 09:00–16:30 CET"),
        (
            (2030, 3, 15, 18, 0),
            (2030, 3, 16, 2, 0),
            "Friday 15 March 2030, 18:00 – Saturday 16 March 2030, 02:00 CET",
        ),
        # Stored in UTC, shown in Copenhagen time (summer time here).
        (
            (2030, 6, 1, 7, 0, "UTC"),
            (2030, 6, 1, 9, 0, "UTC"),
            "Saturday 1 June 2030, 09:00–11:00 CEST",
        ),
        # The clocks go back during the event (27 October 2030): each end names its zone.
        (
            (2030, 10, 26, 9, 0),
            (2030, 10, 28, 17, 0),
            "Saturday 26 October 2030, 09:00 CEST – Monday 28 October 2030, 17:00 CET",
        ),
        (
            (2030, 10, 27, 0, 30, "UTC"),
            (2030, 10, 27, 3, 0, "UTC"),
            "Sunday 27 October 2030, 02:30 CEST–04:00 CET",
        ),
    ],
)
def test_event_when_in_copenhagen_time(starts, ends, expected):
    def moment(values):
        zone = datetime.UTC if values[-1] == "UTC" else COPENHAGEN
        return datetime.datetime(*[v for v in values if v != "UTC"], tzinfo=zone)

    event = Event(starts_at=moment(starts), ends_at=moment(ends))
    with translation.override("en"), timezone.override("Europe/Copenhagen"):
        assert event_when(event=event) == expected


def test_waiting_list_position_counts_earlier_waitlisted_only(event):
    moment = timezone.now()
    confirmed(event, created_at=moment - datetime.timedelta(hours=1))
    first = RegistrationFactory(
        event=event, status=Registration.Status.WAITLISTED, created_at=moment
    )
    # Same time as the first: the lower id is ahead.
    second = RegistrationFactory(
        event=event, status=Registration.Status.WAITLISTED, created_at=moment
    )
    RegistrationFactory(
        event=event,
        status=Registration.Status.CANCELLED,
        created_at=moment + datetime.timedelta(seconds=1),
    )
    third = RegistrationFactory(
        event=event,
        status=Registration.Status.WAITLISTED,
        created_at=moment + datetime.timedelta(seconds=2),
    )
    other_event = RegistrationFactory(status=Registration.Status.WAITLISTED, created_at=moment)

    assert [waiting_list_position(registration=r) for r in (first, second, third, other_event)] == [
        1,
        2,
        3,
        1,
    ]


def test_waitlisted_notice_states_the_position(event):
    RegistrationFactory(event=event, status=Registration.Status.WAITLISTED)
    registration = RegistrationFactory(event=event, status=Registration.Status.WAITLISTED)

    message = render(notifications.queue_waitlisted(registration=registration))

    assert message.subject == "You are on the waiting list: R&D Day <2030>"
    assert "Your place in the queue: number 2" in message.body
    assert "<strong>number 2</strong>" in message.alternatives[0].content
    assert "text/calendar" not in parts(message)
    assert "image/png" not in parts(message)


@pytest.mark.parametrize(("price", "says_fee"), [("0.00", False), ("1200.00", True)])
def test_the_waitlisted_notice_says_a_place_commits_to_the_fee(event, price, says_fee):
    registration = RegistrationFactory(
        event=event, status=Registration.Status.WAITLISTED, price=Decimal(price), currency="DKK"
    )

    message = render(notifications.queue_waitlisted(registration=registration))

    fee = "The fee of 1,200 DKK is then due; if you no longer want a place, please leave"
    assert (fee in message.body) is says_fee
    assert (fee in message.alternatives[0].content) is says_fee


@pytest.mark.parametrize("queue", [notifications.queue_promoted, notifications.queue_reminder])
def test_promotion_and_reminder_carry_the_ticket(event, queue):
    registration = confirmed(event)

    message = render(written_as_beat_would(queue(registration=registration)))

    found = parts(message)
    assert found["image/png"][0]["Content-ID"] == f"<{TICKET_CONTENT_ID}>"
    assert registration.get_absolute_url() in message.body
    if queue is notifications.queue_promoted:
        assert message.subject == "A place is free for you: R&D Day <2030>"
        assert "text/calendar" in found
        assert "1,200 DKK" in message.body
    else:
        assert message.subject == "Reminder: R&D Day <2030>"


def test_cancellation_links_to_the_event_and_has_no_ticket(event):
    registration = confirmed(event, status=Registration.Status.CANCELLED)

    message = render(notifications.queue_cancelled(registration=registration))

    assert message.subject == "Registration cancelled: R&D Day <2030>"
    assert "your ticket is no longer valid" in message.body
    assert "http://127.0.0.1:8000/events/rd-day-2030/" in message.body
    assert "image/png" not in parts(message)
    assert "text/calendar" not in parts(message)


def test_staff_message_uses_staff_text_escaped_in_html(event, staff_user):
    confirmed(event, first_name="Ole")
    count = notifications.queue_staff_message(
        event=event,
        subject="Room change",
        body="We moved to room <B>.\nSee you there & bring a pen.\nMap: https://mva.org/map",
        sent_by=staff_user,
    )
    assert count == 1
    row = outbox.OutgoingEmail.objects.get(kind=notifications.STAFF_MESSAGE)

    message = render(row)

    assert message.subject == "Room change"
    assert "Dear Ole" not in message.body  # staff write their own greeting
    assert "We moved to room <B>.\nSee you there & bring a pen." in message.body
    html = message.alternatives[0].content
    assert "room &lt;B&gt;.<br>See you there &amp; bring a pen." in html
    assert "<B>" not in html
    # A link staff paste is a link in the HTML part too.
    assert '<a href="https://mva.org/map" rel="nofollow">https://mva.org/map</a>' in html


@pytest.mark.parametrize(
    ("queue", "status", "event_status", "starts_in_days"),
    [
        # A wait-list notice for someone promoted (or gone) before it was sent.
        (notifications.queue_waitlisted, Registration.Status.CONFIRMED, "published", 30),
        (notifications.queue_waitlisted, Registration.Status.CANCELLED, "published", 30),
        # No ticket for a cancelled registration.
        (notifications.queue_confirmation, Registration.Status.CANCELLED, "published", 30),
        (notifications.queue_promoted, Registration.Status.CANCELLED, "published", 30),
        # No reminder for a cancelled registration, a cancelled event or one already begun.
        (notifications.queue_reminder, Registration.Status.CANCELLED, "published", 2),
        (notifications.queue_reminder, Registration.Status.CONFIRMED, "cancelled", 2),
        (notifications.queue_reminder, Registration.Status.CONFIRMED, "published", -1),
    ],
)
def test_a_message_that_no_longer_applies_is_not_rendered(
    queue, status, event_status, starts_in_days
):
    starts = timezone.now() + datetime.timedelta(days=starts_in_days)
    event = EventFactory(
        status=event_status,
        starts_at=starts,
        registration_opens_at=starts - datetime.timedelta(days=60),
    )
    registration = RegistrationFactory(event=event, status=status)

    with pytest.raises(MessageNotNeeded):
        render(queue(registration=registration))


def test_html_needs_nothing_from_outside(event):
    """No external images, style sheets or scripts: mail clients block them."""
    registration = confirmed(event)
    for queue in [
        notifications.queue_confirmation,
        notifications.queue_promoted,
        notifications.queue_reminder,
        notifications.queue_cancelled,
    ]:
        email = written_as_beat_would(queue(registration=registration))
        html = render(email).alternatives[0].content
        assert re.findall(r'<img [^>]*src="([^"]+)"', html) in ([], [f"cid:{TICKET_CONTENT_ID}"])
        assert "<link" not in html and "<script" not in html and "<style" not in html
        assert 'role="presentation"' in html


def test_text_alternative_has_no_runs_of_blank_lines(event):
    registration = confirmed(event)
    message = render(notifications.queue_confirmation(registration=registration))
    assert "\n\n\n" not in message.body
    lines = message.body.splitlines()
    assert "-- " in lines  # the signature delimiter, which clients recognise by its space
    assert not any(line != line.rstrip() for line in lines if line != "-- ")


def test_a_price_staff_overrode_is_explained_by_their_reason(event):
    registration = confirmed(
        event,
        price=Decimal("0.00"),
        price_override_reason="Invited speaker: free of charge.",
    )
    message = render(notifications.queue_confirmation(registration=registration))
    assert "Invited speaker: free of charge." in message.body
    assert "Standard price: no member institution." not in message.body


@pytest.mark.parametrize(
    ("event_contact", "expected"),
    [("", "events@mva.example"), ("annual.meeting@mva.example", "annual.meeting@mva.example")],
)
@pytest.mark.parametrize(
    ("queue", "status"),
    [
        (notifications.queue_confirmation, Registration.Status.CONFIRMED),
        (notifications.queue_cancelled, Registration.Status.CANCELLED),
    ],
)
def test_replies_go_to_the_event_s_contact_address(
    event, settings, queue, status, event_contact, expected
):
    settings.EVENTS_CONTACT_EMAIL = "events@mva.example"
    Event.objects.filter(pk=event.pk).update(contact_email=event_contact)
    registration = confirmed(Event.objects.get(pk=event.pk), status=status)

    message = render(queue(registration=registration))

    assert message.reply_to == [expected]
    assert parsed(message)["Reply-To"] == expected
    text = message.body
    assert f"Questions? Reply to this e-mail, or write to {expected}." in text
    html = message.alternatives[0][0]
    assert f'<a href="mailto:{expected}"' in html


def test_the_programme_of_an_event_of_several_days_names_each_item_s_day():
    starts = datetime.datetime(2030, 3, 14, 9, 0, tzinfo=COPENHAGEN)
    event = EventFactory(
        starts_at=starts,
        ends_at=starts + datetime.timedelta(days=1, hours=8),
        registration_opens_at=starts - datetime.timedelta(days=60),
        registration_closes_at=starts - datetime.timedelta(days=1),
        cancellation_deadline=starts - datetime.timedelta(days=3),
    )
    ProgrammeItemFactory(event=event, starts_at=starts, title="Opening")
    ProgrammeItemFactory(
        event=event, starts_at=starts + datetime.timedelta(days=1), title="Closing panel"
    )
    registration = confirmed(event, language="en")

    body = render(notifications.queue_confirmation(registration=registration)).body

    assert "Thu 14 Mar 09:00–09:45" in body
    assert "Fri 15 Mar 09:00–09:45" in body


def test_the_programme_of_a_one_day_event_gives_times_only(event):
    registration = confirmed(event, language="en")
    body = render(notifications.queue_confirmation(registration=registration)).body
    assert "09:00–09:45" in body
    assert "Fri 15 Mar 09:00" not in body


@pytest.mark.parametrize(
    ("confirmed_at", "subject", "says"),
    [
        (datetime.datetime(2030, 1, 2, tzinfo=COPENHAGEN), "Registration cancelled", "ticket"),
        (None, "You left the waiting list", "You have left the waiting list for"),
    ],
    ids=["had a seat", "was waiting"],
)
def test_the_cancellation_says_what_was_given_up(event, confirmed_at, subject, says):
    registration = confirmed(
        event,
        status=Registration.Status.CANCELLED,
        confirmed_at=confirmed_at,
        cancelled_at=timezone.now(),
    )

    message = render(notifications.queue_cancelled(registration=registration))

    assert message.subject.startswith(subject)
    assert says in message.body
    if confirmed_at is None:
        assert "ticket" not in message.body


@pytest.mark.parametrize(
    ("queue", "event_status"),
    [
        (notifications.queue_confirmation_again, Event.Status.CANCELLED),
        (notifications.queue_promoted, Event.Status.CANCELLED),
    ],
)
def test_no_ticket_goes_out_for_an_event_the_organisers_cancelled(event, queue, event_status):
    registration = confirmed(event)
    Event.objects.filter(pk=event.pk).update(status=event_status)
    row = queue(registration=registration)

    with pytest.raises(MessageNotNeeded):
        render(row)
