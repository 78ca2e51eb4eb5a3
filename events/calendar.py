"""Events as iCalendar files (RFC 5545), written by the `icalendar` library."""

from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone
from icalendar import Calendar
from icalendar import Event as CalendarEvent

from .models import Event


def event_calendar(*, event: Event) -> bytes:
    """One VEVENT for the event, with a UID stable for the event and the site, so a re-import
    updates the entry instead of adding another, and a cancelled event's file (STATUS
    CANCELLED) marks it cancelled. It links to the event's public page, never to a
    registration: calendars are shared, and a registration's address is its ticket."""
    calendar = Calendar()
    calendar.add("prodid", "-//Medicon Valley Alliance//MVA Events//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    entry = CalendarEvent()
    host = urlsplit(settings.SITE_URL).hostname or "localhost"
    entry.add("uid", f"event-{event.pk}@{host}")
    entry.add("dtstamp", timezone.now())
    # Calendars apply a file with the same UID only if its SEQUENCE is higher than the one
    # they hold: the seconds from the event's creation to its last change rise with every
    # change (a new date, a cancellation, a restoration), and only then.
    if event.created_at and event.updated_at:
        entry.add("sequence", max(0, int((event.updated_at - event.created_at).total_seconds())))
    entry.add("dtstart", event.starts_at)
    entry.add("dtend", event.ends_at)
    entry.add("summary", event.title)
    if event.summary or event.description:
        entry.add("description", "\n\n".join(p for p in [event.summary, event.description] if p))
    address_lines = [line.strip() for line in event.address.splitlines() if line.strip()]
    location = ", ".join(p for p in [event.venue, *address_lines] if p)
    if location:
        entry.add("location", location)
    entry.add("url", f"{settings.SITE_URL}{event.get_absolute_url()}")
    if event.status == Event.Status.CANCELLED:
        entry.add("status", "CANCELLED")
    else:
        entry.add("status", "CONFIRMED")
    calendar.add_component(entry)
    return calendar.to_ical()
