"""Events as iCalendar files (RFC 5545), written by the `icalendar` library."""

from django.conf import settings
from django.utils import timezone
from icalendar import Calendar
from icalendar import Event as CalendarEvent

from .models import Event


def event_calendar(*, event: Event, url: str = "") -> bytes:
    """One VEVENT for the event, with a stable UID so a re-import updates, not duplicates."""
    calendar = Calendar()
    calendar.add("prodid", "-//Medicon Valley Alliance//MVA Events//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    entry = CalendarEvent()
    entry.add("uid", f"event-{event.pk}@mva-events")
    entry.add("dtstamp", timezone.now())
    entry.add("dtstart", event.starts_at)
    entry.add("dtend", event.ends_at)
    entry.add("summary", event.title)
    if event.summary or event.description:
        entry.add("description", "\n\n".join(p for p in [event.summary, event.description] if p))
    location = ", ".join(p for p in [event.venue, " ".join(event.address.split())] if p)
    if location:
        entry.add("location", location)
    link = url or f"{settings.SITE_URL}{event.get_absolute_url()}"
    entry.add("url", link)
    if event.status == Event.Status.CANCELLED:
        entry.add("status", "CANCELLED")
    else:
        entry.add("status", "CONFIRMED")
    calendar.add_component(entry)
    return calendar.to_ical()
