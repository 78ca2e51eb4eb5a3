"""The ticket QR code: what it encodes, and that a drawing is reused."""

import logging
import re

import pytest
from django.utils import translation

from events import tickets
from tests.factories import RegistrationFactory

pytestmark = pytest.mark.django_db


def test_the_code_holds_the_check_in_url_with_the_ticket_code(settings):
    settings.SITE_URL = "https://events.mva.org"
    registration = RegistrationFactory()
    url = tickets.check_in_url(registration=registration)
    assert url == f"https://events.mva.org/registrations/{registration.ticket_code}/check-in/"


@pytest.mark.parametrize("kind", ["png", "svg"])
def test_a_drawing_is_reused_and_differs_per_ticket(kind, monkeypatch):
    draw = {"png": tickets.ticket_qr_png, "svg": tickets.ticket_qr_svg}[kind]
    first, second = RegistrationFactory(), RegistrationFactory()
    drawings = []
    real_make = tickets.segno.make
    monkeypatch.setattr(
        tickets.segno, "make", lambda *a, **k: drawings.append(a) or real_make(*a, **k)
    )

    once = draw(registration=first)
    again = draw(registration=first)
    other = draw(registration=second)

    assert once == again and once != other
    assert len(drawings) == 2  # the second request for the first ticket was not drawn again


def test_the_page_and_the_e_mail_share_one_encoding(monkeypatch):
    """Choosing the mask is the costly part; the SVG (page) and PNG (e-mail) of one ticket
    are drawn from a single encoding."""
    registration = RegistrationFactory()
    encodings = []
    real_make = tickets.segno.make
    monkeypatch.setattr(
        tickets.segno, "make", lambda *a, **k: encodings.append(a) or real_make(*a, **k)
    )
    svg = tickets.ticket_qr_svg(registration=registration)
    png = tickets.ticket_qr_png(registration=registration)
    assert len(encodings) == 1
    direct = real_make(tickets.check_in_url(registration=registration), error="m")
    assert svg.count("<path") == 1 and direct.mask is not None
    assert png == _png_of(direct)


def _png_of(code) -> bytes:
    import io

    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=6, border=2)
    return buffer.getvalue()


def test_a_changed_site_address_draws_a_new_code(settings):
    registration = RegistrationFactory()
    settings.SITE_URL = "https://old.example.org"
    old = tickets.ticket_qr_svg(registration=registration)
    settings.SITE_URL = "https://events.mva.org"
    assert tickets.ticket_qr_svg(registration=registration) != old


def test_the_png_is_a_png_and_the_svg_an_inline_svg():
    registration = RegistrationFactory()
    assert tickets.ticket_qr_png(registration=registration).startswith(b"\x89PNG\r\n\x1a\n")
    svg = tickets.ticket_qr_svg(registration=registration)
    assert svg.startswith("<svg") and "<title>Ticket</title>" in svg


def test_the_svg_scales_to_its_box_instead_of_being_cut_off():
    svg = tickets.ticket_qr_svg(registration=RegistrationFactory())
    tag = svg[: svg.index(">")]
    assert re.search(r'viewBox="0 0 (\d+) \1"', tag)
    assert "width=" not in tag and "height=" not in tag


def test_the_svg_title_is_in_the_page_language():
    registration = RegistrationFactory()
    with translation.override("sv"):
        swedish = tickets.ticket_qr_svg(registration=registration)
    with translation.override("da"):
        danish = tickets.ticket_qr_svg(registration=registration)
    assert "<title>Biljett</title>" in swedish
    assert "<title>Billet</title>" in danish


@pytest.mark.parametrize("kind", ["png", "svg"])
def test_an_unreachable_cache_draws_the_ticket_afresh_and_warns(kind, settings, caplog):
    registration = RegistrationFactory()
    draw = {"png": tickets.ticket_qr_png, "svg": tickets.ticket_qr_svg}[kind]
    expected = draw(registration=registration)
    settings.CACHES = {
        **settings.CACHES,
        # Nothing listens on port 1: every cache call is refused at once.
        "default": {"BACKEND": "mva.cache.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"},
    }

    with caplog.at_level(logging.WARNING, logger="mva.cache"):
        assert draw(registration=registration) == expected
    assert "Cache unreachable" in caplog.text
