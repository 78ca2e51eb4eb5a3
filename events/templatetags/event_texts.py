"""An event's own texts inside a page in another language (WCAG 2.1, 3.1.2 Language of Parts):
the title marked with the language it is written in, so that a screen reader on a Swedish
page reads an English title in English."""

from django import template
from django.conf import settings
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()


@register.filter
def title_in_its_language(event) -> SafeString:
    """`<span lang="en">Annual meeting</span>`; for HTML only (not a page's <title>)."""
    return format_html('<span lang="{}">{}</span>', event.content_language, event.title)


@register.simple_tag
def events_contact_address() -> str:
    """The address people write to about events (settings.EVENTS_CONTACT_EMAIL)."""
    return settings.EVENTS_CONTACT_EMAIL
