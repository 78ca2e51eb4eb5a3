"""Moments as the pages write them, naming the time zone, as e-mails and the event's "when"
line do: a reader may be elsewhere, and a deadline without its zone is an hour off for them."""

from django import template
from django.utils import formats, timezone

register = template.Library()


@register.filter
def with_zone(moment) -> str:
    """ "Saturday 2 January 2027, 23:59 CET" in the active language and time zone."""
    if not moment:
        return ""
    local = timezone.localtime(moment)
    return f"{formats.date_format(local, 'DATETIME_FORMAT')} {local:%Z}"
