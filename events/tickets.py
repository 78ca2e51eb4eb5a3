"""The ticket as a QR code (segno). The code holds the check-in URL with the secret ticket code."""

import io

import segno
from django.conf import settings
from django.urls import reverse

from .models import Registration


def check_in_url(*, registration: Registration) -> str:
    path = reverse("events:check_in", kwargs={"ticket_code": registration.ticket_code})
    return f"{settings.SITE_URL}{path}"


def ticket_qr_png(*, registration: Registration, scale: int = 6) -> bytes:
    """PNG of the ticket QR code, for e-mail (inline) and download."""
    buffer = io.BytesIO()
    segno.make(check_in_url(registration=registration), error="m").save(
        buffer, kind="png", scale=scale, border=2
    )
    return buffer.getvalue()


def ticket_qr_svg(*, registration: Registration, scale: int = 6) -> str:
    """SVG of the ticket QR code, for the registration page (no JavaScript, crisp on phones)."""
    buffer = io.BytesIO()
    segno.make(check_in_url(registration=registration), error="m").save(
        buffer, kind="svg", scale=scale, border=2, xmldecl=False, svgns=True, title="Ticket"
    )
    return buffer.getvalue().decode()
