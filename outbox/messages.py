"""Building blocks the renderers of other apps use: HTML with inline images, calendar
attachments, the tidying of plain-text bodies and how a moment is written in a message.

Django's EmailMultiAlternatives puts every attachment beside the alternatives
(multipart/mixed). Images referenced from the HTML as `cid:` belong with the HTML part in a
multipart/related, or some clients (Apple Mail, Thunderbird) show them a second time as an
attachment and others (older Outlook) not at all.
"""

import re
from dataclasses import dataclass
from email.mime.base import MIMEBase
from email.mime.image import MIMEImage
from email.mime.text import MIMEText

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import SafeMIMEMultipart
from django.utils import formats, timezone

SIGNATURE_DELIMITER = "-- "


def plain_text_body(text: str) -> str:
    """A plain-text body as rendered from a template, tidied: template tags leave blank
    lines and trailing spaces behind, and a reader should see one blank line at most. The
    signature delimiter keeps its trailing space: mail clients recognise it by that."""
    lines = [
        line if line == SIGNATURE_DELIMITER else line.rstrip() for line in text.strip().splitlines()
    ]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"


def format_moment(*, moment) -> str:
    """A date and time in the active language and time zone, naming the zone: "28 November
    2026, 09:00 CET" (a reader may be elsewhere)."""
    local = timezone.localtime(moment)
    return f"{formats.date_format(local, 'DATE_FORMAT')}, {local:%H:%M} {local:%Z}"


@dataclass(frozen=True)
class InlineImage:
    """An image shown inside the HTML, referenced there as `src="cid:<content_id>"`."""

    content_id: str
    content: bytes
    subtype: str = "png"
    filename: str = ""


class EmailWithInlineImages(EmailMultiAlternatives):
    """An HTML message with a plain-text alternative whose HTML part carries inline images:

    multipart/mixed
      multipart/alternative
        text/plain
        multipart/related
          text/html
          image/png (Content-ID)
      attachments …
    """

    def __init__(self, *args, inline_images: list[InlineImage] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.inline_images = list(inline_images or [])

    def _create_alternatives(self, msg):
        encoding = self.encoding or settings.DEFAULT_CHARSET
        if not self.alternatives:
            return msg
        alternatives = SafeMIMEMultipart(_subtype=self.alternative_subtype, encoding=encoding)
        if self.body:
            alternatives.attach(msg)
        for alternative in self.alternatives:
            part = self._create_mime_attachment(alternative.content, alternative.mimetype)
            if alternative.mimetype == "text/html" and self.inline_images:
                part = self._with_inline_images(part, encoding=encoding)
            alternatives.attach(part)
        return alternatives

    def _with_inline_images(self, html_part, *, encoding):
        related = SafeMIMEMultipart(_subtype="related", encoding=encoding)
        related.attach(html_part)
        for image in self.inline_images:
            image_part = MIMEImage(image.content, image.subtype)
            image_part.add_header("Content-ID", f"<{image.content_id}>")
            image_part.add_header(
                "Content-Disposition",
                "inline",
                filename=image.filename or f"{image.content_id.split('@')[0]}.{image.subtype}",
            )
            related.attach(image_part)
        return related


def calendar_attachment(*, ics: bytes, filename: str = "event.ics") -> MIMEBase:
    """An iCalendar file as an attachment with `method=PUBLISH`, which mail clients offer to
    add to the calendar (a REQUEST would ask the recipient to answer the organiser)."""
    part = MIMEText(ics.decode("utf-8"), "calendar", "utf-8")
    part.set_param("method", "PUBLISH")
    part.add_header("Content-Disposition", "attachment", filename=filename)
    return part
