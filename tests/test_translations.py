"""Swedish and Danish: the catalogs in locale/ are complete and sound, and pages and e-mails
actually come out translated when a visitor or registrant uses those languages."""

import datetime
import gettext
import re
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import translation

from events import notifications
from events.models import Registration
from outbox.services import build_message
from tests.factories import EventFactory, RegistrationFactory, UserFactory

LOCALE_DIR = Path(settings.BASE_DIR) / "locale"
TRANSLATED_LANGUAGES = ["sv", "da"]


# --- a small .po reader (the venv has no polib; gettext's own module reads only .mo) ------------


@dataclass
class CatalogEntry:
    msgid: str = ""
    msgid_plural: str = ""
    msgctxt: str | None = None
    msgstr: str = ""
    msgstr_plural: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    line: int = 0

    @property
    def translations(self) -> list[str]:
        if self.msgid_plural:
            return [self.msgstr_plural[index] for index in sorted(self.msgstr_plural)]
        return [self.msgstr]


def _unquote(text: str) -> str:
    # A .po string is a C string literal; Python's literal rules agree for the escapes used.
    return bytes(text.strip()[1:-1], "utf-8").decode("unicode_escape").encode("latin-1").decode()


def read_po(path: Path) -> tuple[CatalogEntry, list[CatalogEntry]]:
    """The header entry and the live (non-obsolete) entries of a .po file."""
    entries: list[CatalogEntry] = []
    entry = CatalogEntry()
    target: tuple[str, int | None] | None = None

    def finish():
        nonlocal entry, target
        if target is not None:
            entries.append(entry)
        entry, target = CatalogEntry(), None

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line:
            finish()
        elif line.startswith("#~"):
            continue  # obsolete entries are not compiled
        elif line.startswith("#,"):
            if target is not None and target[0] == "msgstr":
                finish()
            entry.flags.update(flag.strip() for flag in line[2:].split(","))
        elif line.startswith("#"):
            if target is not None and target[0] == "msgstr":
                finish()
        elif line.startswith('"'):
            name, index = target
            value = _unquote(line)
            if index is None:
                setattr(entry, name, getattr(entry, name) + value)
            else:
                entry.msgstr_plural[index] += value
        else:
            keyword, _space, rest = line.partition(" ")
            if keyword in ("msgctxt", "msgid") and target is not None and target[0] == "msgstr":
                finish()
            match = re.fullmatch(r"msgstr\[(\d+)\]", keyword)
            if match:
                index = int(match.group(1))
                entry.msgstr_plural[index] = _unquote(rest)
                target = ("msgstr", index)
            elif keyword in ("msgctxt", "msgid", "msgid_plural", "msgstr"):
                setattr(entry, keyword, _unquote(rest))
                target = (keyword, None)
                if keyword in ("msgctxt", "msgid") and not entry.line:
                    entry.line = number
            else:
                raise ValueError(f"{path}:{number}: cannot read {raw!r}")
    finish()
    header, *rest = entries
    assert header.msgid == "", f"{path}: the first entry is not the header"
    return header, rest


# Python's %-placeholders (named or not, with flags and widths), str.format fields and HTML tags.
PLACEHOLDER = re.compile(r"%(?:\([^)]+\))?[#0 +-]?\d*(?:\.\d+)?[sdifr%]|\{[^{}]*\}|</?[a-z][^>]*>")


def placeholders(text: str) -> list[str]:
    return sorted(match for match in PLACEHOLDER.findall(text) if match != "%%")


def catalog(language: str) -> tuple[CatalogEntry, list[CatalogEntry]]:
    return read_po(LOCALE_DIR / language / "LC_MESSAGES" / "django.po")


# --- the catalogs ---------------------------------------------------------------------------------


def test_the_po_reader_reads_what_it_should(tmp_path):
    po = tmp_path / "django.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Language: sv\\n"\n\n'
        "#: a.py:1\n#, python-format\n"
        'msgid "Hello %(name)s, "\n"\\"you\\""\nmsgstr "Hej %(name)s, "\n"\\"du\\""\n\n'
        'msgid "%(n)d seat"\nmsgid_plural "%(n)d seats"\nmsgstr[0] "%(n)d plats"\n'
        'msgstr[1] ""\n\n'
        '#, fuzzy\nmsgid "Ö"\nmsgstr "Ø"\n\n'
        '#~ msgid "gone"\n#~ msgstr "borta"\n',
        encoding="utf-8",
    )

    header, entries = read_po(po)

    assert header.msgstr == "Language: sv\n"
    assert [entry.msgid for entry in entries] == ['Hello %(name)s, "you"', "%(n)d seat", "Ö"]
    assert entries[0].msgstr == 'Hej %(name)s, "du"'
    assert entries[0].flags == {"python-format"}
    assert entries[1].translations == ["%(n)d plats", ""]
    assert entries[2].flags == {"fuzzy"} and entries[2].msgstr == "Ø"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dear %(name)s,", ["%(name)s"]),
        ("%(count)d of %(total)d, 100%%", ["%(count)d", "%(total)d"]),
        ("Select this - {}", ["{}"]),
        ('<a href="%(url)s">Sign in</a>', ['<a href="%(url)s">', "</a>"]),
        ("No placeholders at all.", []),
    ],
)
def test_placeholders_are_found(text, expected):
    assert placeholders(text) == sorted(expected)


@pytest.mark.parametrize("language", TRANSLATED_LANGUAGES)
def test_the_catalog_header_names_the_language_and_its_plural_rule(language):
    header, entries = catalog(language)

    assert "fuzzy" not in header.flags  # msgfmt would ignore a fuzzy header's plural rule
    assert f"Language: {language}\n" in header.msgstr
    assert "Plural-Forms: nplurals=2; plural=(n != 1);\n" in header.msgstr
    assert "charset=UTF-8" in header.msgstr
    assert len(entries) > 400  # templates, members, events and outbox all have strings


@pytest.mark.parametrize("language", TRANSLATED_LANGUAGES)
def test_every_entry_is_translated_and_none_is_fuzzy(language):
    _header, entries = catalog(language)

    untranslated = [e.msgid for e in entries if not all(t.strip() for t in e.translations)]
    fuzzy = [e.msgid for e in entries if "fuzzy" in e.flags]
    wrong_plurals = [e.msgid for e in entries if e.msgid_plural and len(e.msgstr_plural) != 2]
    assert untranslated == []
    assert fuzzy == []
    assert wrong_plurals == []


@pytest.mark.parametrize("language", TRANSLATED_LANGUAGES)
def test_every_placeholder_and_tag_of_a_msgid_is_in_its_translation(language):
    _header, entries = catalog(language)

    problems = []
    for entry in entries:
        if entry.msgid_plural:
            # The singular form may name the number in words ("You are first on the list").
            checks = [
                (placeholders(entry.msgid), entry.msgstr_plural[0]),
                (placeholders(entry.msgid_plural), entry.msgstr_plural[1]),
            ]
        else:
            checks = [(placeholders(entry.msgid), entry.msgstr)]
        for expected, translated in checks:
            if placeholders(translated) != expected:
                problems.append((entry.line, entry.msgid, translated))
    assert problems == []


@pytest.mark.parametrize("language", TRANSLATED_LANGUAGES)
def test_every_python_format_translation_formats(language):
    _header, entries = catalog(language)

    for entry in (e for e in entries if "python-format" in e.flags):
        names = re.findall(r"%\(([^)]+)\)", entry.msgid + entry.msgid_plural)
        values = dict.fromkeys(names, 1)
        for translated in entry.translations:
            translated % values  # raises on a broken or unknown placeholder


@pytest.mark.parametrize("language", TRANSLATED_LANGUAGES)
def test_the_compiled_catalog_matches_the_po_file(language):
    # CI has no gettext: the committed .mo is what Django loads, so it must be the .po compiled.
    _header, entries = catalog(language)
    with (LOCALE_DIR / language / "LC_MESSAGES" / "django.mo").open("rb") as mo_file:
        compiled = gettext.GNUTranslations(mo_file)

    stale = []
    for entry in entries:
        msgid = entry.msgid if entry.msgctxt is None else f"{entry.msgctxt}\x04{entry.msgid}"
        if entry.msgid_plural:
            found = [compiled.ngettext(msgid, entry.msgid_plural, n) for n in (1, 2)]
        else:
            found = [compiled.gettext(msgid)]
        if found != entry.translations:
            stale.append(entry.msgid)
    assert stale == []
    assert compiled.info()["plural-forms"] == "nplurals=2; plural=(n != 1);"


# --- pages ----------------------------------------------------------------------------------------


PAGE_PHRASES = {
    "home": {
        "en": ["Upcoming events", "Sign up", "seats left"],
        "sv": ["Kommande evenemang", "Skapa konto", "platser kvar"],
        "da": ["Kommende arrangementer", "Opret konto", "pladser tilbage"],
    },
    "event detail": {
        "en": ["About the event", "Sign in to register", "Price per admission category"],
        "sv": ["Om evenemanget", "Logga in för att anmäla dig", "Pris per priskategori"],
        "da": ["Om arrangementet", "Log ind for at tilmelde dig", "Pris pr. priskategori"],
    },
    "sign-up": {
        "en": ["Create an account", "Already have an account?"],
        "sv": ["Skapa ett konto", "Har du redan ett konto?"],
        "da": ["Opret en konto", "Har du allerede en konto?"],
    },
    "registration form": {
        "en": [
            'Register for <span lang="en">Annual meeting</span>',
            "Dietary and accessibility needs (optional)",
            "Standard price: none of your verified addresses belongs to a member.",
            ">Dietary needs<",
        ],
        "sv": [
            'Anmäl dig till <span lang="en">Annual meeting</span>',
            "Kost- och tillgänglighetsbehov (valfritt)",
            "Ordinarie pris: ingen av dina verifierade adresser tillhör en medlem.",
            ">Kostbehov<",
        ],
        "da": [
            'Tilmeld dig <span lang="en">Annual meeting</span>',
            "Kosthensyn og tilgængelighedsbehov (valgfrit)",
            "Normalpris: ingen af dine bekræftede adresser tilhører et medlem.",
            ">Kosthensyn<",
        ],
    },
}


def _page_url(page: str, client) -> str:
    event = EventFactory(title="Annual meeting", slug="annual-meeting")
    if page == "home":
        return reverse("events:home")
    if page == "event detail":
        return event.get_absolute_url()
    if page == "sign-up":
        return reverse("account_signup")
    client.force_login(UserFactory(email="researcher@example.org"))
    return reverse("events:register", args=[event.slug])


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", *TRANSLATED_LANGUAGES])
@pytest.mark.parametrize("page", list(PAGE_PHRASES))
def test_pages_speak_the_chosen_language(in_language, page, language):
    client = in_language(language)
    url = _page_url(page, client)

    response = client.get(url)

    assert response.status_code == 200
    html = response.content.decode()
    assert f'<html lang="{language}">' in html
    for phrase in PAGE_PHRASES[page][language]:
        assert phrase in html
    # And not the other languages' phrases: the page is in one language only.
    for other, phrases in PAGE_PHRASES[page].items():
        if other != language:
            assert not [phrase for phrase in phrases if phrase in html], other


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("sv", "Du är anmäld till Annual meeting. En bekräftelse är på väg till dig via e-post."),
        ("da", "Du er tilmeldt Annual meeting. En bekræftelse er på vej til dig på e-mail."),
    ],
)
def test_registering_in_a_language_confirms_in_it_and_records_it(in_language, language, message):
    client = in_language(language)
    url = _page_url("registration form", client)

    response = client.post(
        url,
        {"billing_organisation": "Lunds universitet", "billing_address": "Box 117, 221 00 Lund"},
        follow=True,
    )

    assert response.status_code == 200
    assert message in response.content.decode()
    assert Registration.objects.get().language == language


# --- e-mails --------------------------------------------------------------------------------------

EMAILS = {
    # kind: status of the registration, subject and phrases of the body, per language
    notifications.CONFIRMATION: (
        Registration.Status.CONFIRMED,
        {
            "en": ("Registration confirmed: Annual meeting", ["Dear Maria,", "is confirmed"]),
            "sv": (
                "Anmälan bekräftad: Annual meeting",
                ["Hej Maria,", "Din anmälan till Annual meeting är bekräftad.", "Din biljett"],
            ),
            "da": (
                "Tilmelding bekræftet: Annual meeting",
                ["Kære Maria,", "Din tilmelding til Annual meeting er bekræftet.", "Din billet"],
            ),
        },
    ),
    notifications.WAITLISTED: (
        Registration.Status.WAITLISTED,
        {
            "en": ("You are on the waiting list: Annual meeting", ["number 1"]),
            "sv": (
                "Du står på väntelistan: Annual meeting",
                ["Hej Maria,", "Din plats i kön: nummer 1", "Du behöver inte göra något."],
            ),
            "da": (
                "Du er på ventelisten: Annual meeting",
                ["Kære Maria,", "Din plads i køen: nummer 1", "Du behøver ikke at gøre noget."],
            ),
        },
    ),
    notifications.CANCELLED: (
        Registration.Status.CANCELLED,
        {
            "en": ("Registration cancelled: Annual meeting", ["is cancelled"]),
            "sv": (
                "Anmälan avbokad: Annual meeting",
                [
                    "Din anmälan till Annual meeting är avbokad",
                    "Om det är ett misstag kan du anmäla dig igen",
                ],
            ),
            "da": (
                "Tilmelding annulleret: Annual meeting",
                [
                    "Din tilmelding til Annual meeting er annulleret",
                    "Hvis det er en fejl, kan du tilmelde dig igen",
                ],
            ),
        },
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", *TRANSLATED_LANGUAGES])
@pytest.mark.parametrize("kind", list(EMAILS))
def test_emails_come_in_the_registrants_language(kind, language):
    status, expected = EMAILS[kind]
    subject, phrases = expected[language]
    registration = RegistrationFactory(
        event=EventFactory(title="Annual meeting"),
        user=UserFactory(first_name="Maria"),
        first_name="Maria",
        status=status,
        language=language,
    )
    queue = {
        notifications.CONFIRMATION: notifications.queue_confirmation,
        notifications.WAITLISTED: notifications.queue_waitlisted,
        notifications.CANCELLED: notifications.queue_cancelled,
    }[kind]
    with transaction.atomic():
        row = queue(registration=registration)

    # The worker runs in whatever language it was started in; the message must not follow it.
    with translation.override("en" if language != "en" else "da"):
        message = build_message(row)

    assert message.subject == subject
    html = message.alternatives[0].content
    for phrase in phrases:
        assert phrase in message.body
        assert phrase in html.replace("<strong>", "").replace("</strong>", "")


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "Friday 15 March 2030, 09:00"),
        ("sv", "fredag 15 mars 2030, 09:00"),
        ("da", "fredag den 15. marts 2030, 09:00"),
    ],
)
def test_dates_on_pages_follow_each_languages_conventions(language, expected):
    """Pages use DATETIME_FORMAT from mva/formats/<language>/, not one pattern for all."""
    from django.template import Context, Template
    from django.utils import translation

    moment = datetime.datetime(2030, 3, 15, 9, 0, tzinfo=zoneinfo.ZoneInfo("Europe/Copenhagen"))
    with translation.override(language):
        rendered = Template('{{ moment|date:"DATETIME_FORMAT" }}').render(
            Context({"moment": moment})
        )
    assert rendered == expected
