"""One mailbox, one spelling: the account adapter's `clean_email` (sign-up, adding an address,
password reset) refuses addresses with invisible characters and stores the domain in one
canonical form, whichever way it was typed. The forms around it are in tests/test_accounts.py.
"""

import pytest
from django import forms

from members.adapter import AccountAdapter, has_invisible_characters
from members.affiliation import InvalidDomain, domain_of_address, normalise_address

INVISIBLE = "This e-mail address contains a space or an invisible character"
# Short enough as typed, too long in the punycode form mail carries it in.
LONG_IN_PUNYCODE_LOCAL, LONG_IN_PUNYCODE_DOMAIN = "x" * 230, "ü" * 10 + ".example"

# (as allauth hands it to the adapter, as stored)
ACCEPTED = [
    pytest.param("researcher@lu.se", "researcher@lu.se", id="ordinary"),
    pytest.param("a.b+events@med.lu.se", "a.b+events@med.lu.se", id="plus-and-dots"),
    pytest.param("researcher@LU.SE", "researcher@lu.se", id="upper-case-domain"),
    pytest.param("First.Last@lu.se", "First.Last@lu.se", id="local-part-as-typed"),
    pytest.param("researcher@lu.se.", "researcher@lu.se", id="trailing-dot"),
    pytest.param("user@bücher.example", "user@bücher.example", id="unicode-domain"),
    pytest.param("user@BÜCHER.EXAMPLE", "user@bücher.example", id="unicode-upper-case"),
    pytest.param("user@xn--bcher-kva.example", "user@bücher.example", id="punycode"),
    pytest.param("user@XN--BCHER-KVA.example", "user@bücher.example", id="punycode-upper-case"),
    pytest.param("user@bu\u0308cher.example", "user@bücher.example", id="decomposed-umlaut"),
    pytest.param("user@\uff42ücher.example", "user@bücher.example", id="full-width-letter"),
    pytest.param("user@bücher\u3002example", "user@bücher.example", id="ideographic-full-stop"),
    pytest.param("forsker@sø.dk", "forsker@sø.dk", id="danish"),
    pytest.param("forsker@xn--s-5ga.dk", "forsker@sø.dk", id="danish-punycode"),
    pytest.param("x" * 248 + "@lu.se", "x" * 248 + "@lu.se", id="254-characters"),
]

# (address, error code); every message is the adapter's own, beside the field
REFUSED = [
    pytest.param("evil@med.lu.se\u200b", "invisible_characters", id="zero-width-space"),
    pytest.param("evil@med.\u200blu.se", "invisible_characters", id="zero-width-space-inside"),
    pytest.param("ev\u200bil@med.lu.se", "invisible_characters", id="zero-width-space-local"),
    pytest.param("evil@med.lu.se\u202e", "invisible_characters", id="right-to-left-override"),
    pytest.param("evil@\u202eesu.l.dem", "invisible_characters", id="rlo-reversing-domain"),
    pytest.param("evil@med.lu.se\x00", "invisible_characters", id="nul"),
    pytest.param("evil@med.lu\t.se", "invisible_characters", id="tab"),
    pytest.param('"ev\til"@med.lu.se', "invisible_characters", id="tab-quoted-local-part"),
    pytest.param("evil@med.l\u00adu.se", "invisible_characters", id="soft-hyphen"),
    pytest.param("evil@med.lu.se\u00a0", "invisible_characters", id="no-break-space"),
    pytest.param("evil@med.lu.se\u3000", "invisible_characters", id="ideographic-space"),
    pytest.param("evil@med.lu.se\ufeff", "invisible_characters", id="byte-order-mark"),
    pytest.param("evil@med.lu.se\u2060", "invisible_characters", id="word-joiner"),
    pytest.param("evil@med.lu.se\u200d", "invisible_characters", id="zero-width-joiner"),
    pytest.param("evil@med.lu.se\u2028", "invisible_characters", id="line-separator"),
    pytest.param("evil@med.lu.se\ufe0f", "invisible_characters", id="variation-selector"),
    pytest.param("evil@med.lu\u3164.se", "invisible_characters", id="hangul-filler"),
    pytest.param("evil@med.lu.se\ue000", "invisible_characters", id="private-use"),
    pytest.param("user@straße.de", "invalid", id="idna-deviation"),
    pytest.param("user@xn--strae-oqa.de", "invalid", id="idna-2008-only-punycode"),
    pytest.param("user@xn--zz.example", "invalid", id="broken-punycode"),
    pytest.param("user@.lu.se", "invalid", id="leading-dot"),
    pytest.param("x" * 249 + "@lu.se", "max_length", id="255-characters"),
    pytest.param(
        f"{LONG_IN_PUNYCODE_LOCAL}@{LONG_IN_PUNYCODE_DOMAIN}", "max_length", id="long-in-punycode"
    ),
]


@pytest.fixture
def adapter():
    return AccountAdapter()


@pytest.mark.parametrize(("typed", "stored"), ACCEPTED)
def test_an_address_is_stored_in_its_canonical_spelling(adapter, typed, stored):
    assert adapter.clean_email(typed) == stored
    # The canonical spelling is a fixed point, and means the same domain to the
    # affiliation rules as the spelling typed.
    assert adapter.clean_email(stored) == stored
    assert domain_of_address(stored) == domain_of_address(typed)


@pytest.mark.parametrize(("address", "code"), REFUSED)
def test_an_address_that_is_not_one_clear_mailbox_is_refused(adapter, address, code):
    with pytest.raises(forms.ValidationError) as refused:
        adapter.clean_email(address)

    assert refused.value.code == code
    message = refused.value.messages[0]
    if code == "invisible_characters":
        assert message.startswith(INVISIBLE)
    elif code == "invalid":
        assert message == "Enter a valid e-mail address."
    else:
        assert message == "Enter an e-mail address of at most 254 characters."


def test_the_long_in_punycode_case_is_refused_for_its_length_on_the_wire_only():
    typed = len(LONG_IN_PUNYCODE_LOCAL) + 1 + len(LONG_IN_PUNYCODE_DOMAIN)
    on_the_wire = len(LONG_IN_PUNYCODE_LOCAL) + 1 + len(LONG_IN_PUNYCODE_DOMAIN.encode("idna"))
    assert typed <= 254 < on_the_wire


def test_both_spellings_of_one_mailbox_clean_to_the_same_address(adapter):
    assert adapter.clean_email("user@bücher.example") == adapter.clean_email(
        "user@xn--bcher-kva.example"
    )


def test_an_empty_address_is_left_to_the_form_to_require(adapter):
    assert adapter.clean_email("") == ""


@pytest.mark.parametrize(
    ("text", "invisible"),
    [
        ("researcher@lu.se", False),
        ("forsker@sø.dk", False),
        ("user@bu\u0308cher.example", False),  # a combining mark is seen, on its letter
        ("user@ｂücher.example", False),
        ("a b@lu.se", True),
        ("a\u200cb@lu.se", True),  # zero-width non-joiner
        ("a\u034fb@lu.se", True),  # combining grapheme joiner, which IDNA drops
        ("a\u180bb@lu.se", True),  # Mongolian variation selector, likewise
        ("a\x7fb@lu.se", True),  # DEL
    ],
)
def test_has_invisible_characters(text, invisible):
    assert has_invisible_characters(text) is invisible


@pytest.mark.parametrize(
    "address",
    ["no-at-sign", "@lu.se", "user@", "user@lu", "user@ lu.se", "user@.lu.se", None],
)
def test_normalise_address_refuses_what_has_no_usable_domain(address):
    with pytest.raises(InvalidDomain):
        normalise_address(address)


def test_normalise_address_splits_at_the_last_at_sign():
    assert normalise_address('"a@b"@LU.se') == '"a@b"@lu.se'


# --- Addresses stored before normalisation -------------------------------------------------


def test_the_migration_gives_old_addresses_their_canonical_spelling(db):
    import importlib

    from allauth.account.models import EmailAddress
    from django.apps import apps

    from tests.factories import UserFactory

    migration = importlib.import_module("members.migrations.0005_one_spelling_per_mailbox")
    old = UserFactory(email="user@xn--bcher-kva.example")
    plain = UserFactory(email="anna@lu.se")
    # Two accounts already hold one mailbox: left for staff, not merged or broken.
    twin_a = UserFactory(email="bo@xn--bcher-kva.example")
    twin_b = UserFactory(email="bo@bücher.example")

    migration.give_every_address_its_canonical_spelling(apps, None)

    old.refresh_from_db()
    plain.refresh_from_db()
    twin_a.refresh_from_db()
    twin_b.refresh_from_db()
    assert old.email == "user@bücher.example"
    assert list(EmailAddress.objects.filter(user=old).values_list("email", flat=True)) == [
        "user@bücher.example"
    ]
    assert plain.email == "anna@lu.se"
    assert {twin_a.email, twin_b.email} == {"bo@xn--bcher-kva.example", "bo@bücher.example"}


def test_after_the_migration_the_other_spelling_cannot_sign_up_again(client, db):
    import importlib

    from django.apps import apps

    from members.models import User
    from tests.factories import UserFactory, signup_data

    migration = importlib.import_module("members.migrations.0005_one_spelling_per_mailbox")
    UserFactory(email="user@xn--bcher-kva.example")
    migration.give_every_address_its_canonical_spelling(apps, None)

    client.post("/accounts/signup/", signup_data(email="user@bücher.example"))

    assert User.objects.filter(email__iexact="user@bücher.example").count() == 1
