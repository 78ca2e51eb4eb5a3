"""The ticket as a QR code (segno). The code holds the check-in URL with the secret ticket code."""

import hashlib
import io

import segno
from django.conf import settings
from django.core.cache import cache
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from .models import Registration

# A ticket's QR code never changes, and drawing one costs more CPU than the rest of the
# registration page (segno tries eight masks in pure Python), so each drawing is kept a while.
QR_CACHE_SECONDS = 30 * 24 * 60 * 60


def check_in_url(*, registration: Registration) -> str:
    path = reverse("events:check_in", kwargs={"ticket_code": registration.ticket_code})
    return f"{settings.SITE_URL}{path}"


def _encoded(url: str, digest: str) -> segno.QRCode:
    """The QR code of a URL, encoded once: the page's SVG and the e-mail's PNG (drawn in
    different processes) share the expensive part, choosing the mask."""
    key = f"ticket-qr:code:{digest}"
    # An unreachable cache reads as empty (mva.cache): the code is then drawn afresh.
    code = cache.get(key)
    if code is None:
        code = segno.make(url, error="m")
        cache.set(key, code, QR_CACHE_SECONDS)
    return code


def _drawn(url: str, kind: str, scale: int, variant: str = "", **options) -> bytes:
    digest = hashlib.sha256(url.encode()).hexdigest()
    key = f"ticket-qr:{kind}:{scale}:{variant}:{digest}"
    drawing = cache.get(key)
    if drawing is None:
        buffer = io.BytesIO()
        _encoded(url, digest).save(buffer, kind=kind, scale=scale, border=2, **options)
        drawing = buffer.getvalue()
        cache.set(key, drawing, QR_CACHE_SECONDS)
    return drawing


def ticket_qr_png(*, registration: Registration, scale: int = 6) -> bytes:
    """PNG of the ticket QR code, for e-mail (inline) and download."""
    return _drawn(check_in_url(registration=registration), "png", scale)


def ticket_qr_svg(*, registration: Registration, scale: int = 6) -> str:
    """SVG of the ticket QR code, for the registration page (no JavaScript, crisp on phones)."""
    url = check_in_url(registration=registration)
    # The title (a tooltip, and the image's name for screen readers) is in the page's
    # language, so each language has its own drawing. A viewBox instead of a fixed size lets
    # the page scale the code to its box; with the size fixed, a smaller box cut off its
    # edge ("scalable" in the key keeps drawings of the fixed-size kind out).
    language = translation.get_language() or settings.LANGUAGE_CODE
    drawing = _drawn(
        url,
        "svg",
        scale,
        variant=f"{language}-scalable",
        xmldecl=False,
        svgns=True,
        omitsize=True,
        title=gettext("Ticket"),
    )
    return drawing.decode()
