"""The staff's tools for the member list: the institution admin, its import and export."""

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone, translation

from members.models import Institution, InstitutionDomain, Membership, Network
from tests.factories import (
    InstitutionDomainFactory,
    InstitutionFactory,
    MembershipFactory,
    UserFactory,
)

CHANGELIST = "admin:members_institution_changelist"


def make_institutions(count: int):
    today = timezone.localdate()
    institutions = Institution.objects.bulk_create(
        Institution(
            name=f"Institution {n:04}",
            kind="university" if n % 2 else "company",
            country="SE" if n % 3 else "DK",
        )
        for n in range(count)
    )
    InstitutionDomain.objects.bulk_create(
        domain
        for n, institution in enumerate(institutions)
        for domain in (
            InstitutionDomain(institution=institution, domain=f"inst{n}.se"),
            InstitutionDomain(
                institution=institution, domain=f"student.inst{n}.se", audience="students"
            ),
        )
    )
    # even ones are members today, odd ones lapsed last year
    Membership.objects.bulk_create(
        Membership(
            institution=institution,
            starts_on=today - datetime.timedelta(days=400),
            ends_on=None if n % 2 == 0 else today - datetime.timedelta(days=1),
        )
        for n, institution in enumerate(institutions)
    )
    return institutions


@pytest.fixture
def lund(db):
    lund = InstitutionFactory(name="Lund University", short_name="LU", country="SE")
    InstitutionDomainFactory(institution=lund, domain="lu.se", include_subdomains=True)
    MembershipFactory(institution=lund)
    return lund


@pytest.fixture
def cbs(db):
    cbs = InstitutionFactory(
        name="Copenhagen Business School", short_name="CBS", country="DK", kind="university"
    )
    InstitutionDomainFactory(institution=cbs, domain="cbs.dk")
    today = timezone.localdate()
    MembershipFactory(
        institution=cbs,
        starts_on=today - datetime.timedelta(days=800),
        ends_on=today - datetime.timedelta(days=1),
    )
    return cbs


# -- the list ---------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [10, 100])
def test_changelist_runs_a_fixed_number_of_queries(staff_client, django_assert_num_queries, count):
    make_institutions(count)
    # user, count, total count, the page (with "member today"), its domains (the session comes
    # from the cache)
    with django_assert_num_queries(5):
        response = staff_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == count
    content = response.content.decode()
    assert "inst1.se" in content
    assert "student.inst1.se (students)" in content


def test_member_today_column_and_filter(staff_client, lund, cbs):
    response = staff_client.get(reverse(CHANGELIST))
    rows = {i.name: i.is_member_today for i in response.context["cl"].result_list}
    assert rows == {"Lund University": True, "Copenhagen Business School": False}
    content = response.content.decode()
    assert 'alt="True"' in content and 'alt="False"' in content

    response = staff_client.get(reverse(CHANGELIST), {"member_today": "yes"})
    assert [i.name for i in response.context["cl"].result_list] == ["Lund University"]
    response = staff_client.get(reverse(CHANGELIST), {"member_today": "no"})
    assert [i.name for i in response.context["cl"].result_list] == ["Copenhagen Business School"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"country__exact": "DK"}, ["Copenhagen Business School"]),
        ({"country__exact": "SE"}, ["Lund University"]),
        ({"kind__exact": "university"}, ["Copenhagen Business School", "Lund University"]),
        ({"kind__exact": "hospital"}, []),
        ({"q": "lund"}, ["Lund University"]),
        ({"q": "CBS"}, ["Copenhagen Business School"]),
        ({"q": "cbs.dk"}, ["Copenhagen Business School"]),
        ({"q": "LU.SE"}, ["Lund University"]),
        # an address, or a sub-domain, finds the institution it belongs to
        ({"q": "anna.svensson@med.lu.se"}, ["Lund University"]),
        ({"q": "med.lu.se"}, ["Lund University"]),
        ({"q": "@cbs.dk"}, ["Copenhagen Business School"]),
        ({"q": "lu.se.evil.com"}, []),
        ({"q": "gmail.com"}, []),
        ({"q": "@"}, []),
    ],
)
def test_filters_and_search(staff_client, lund, cbs, params, expected):
    response = staff_client.get(reverse(CHANGELIST), params)
    assert response.status_code == 200
    assert sorted(i.name for i in response.context["cl"].result_list) == expected


def test_non_staff_cannot_see_institutions(client, lund):
    client.force_login(UserFactory())
    response = client.get(reverse(CHANGELIST), follow=True)
    assert response.redirect_chain[0][0].startswith(reverse("admin:login"))
    assert response.status_code == 403
    for url in ["admin:members_institution_import", "admin:members_institution_export"]:
        assert client.get(reverse(url), follow=True).status_code == 403


# -- editing ----------------------------------------------------------------------------------


def institution_form(**overrides):
    data = {
        "name": "Malmö University",
        "short_name": "MAU",
        "kind": "university",
        "country": "SE",
        "website": "https://mau.se",
        "domains-TOTAL_FORMS": "1",
        "domains-INITIAL_FORMS": "0",
        "domains-MIN_NUM_FORMS": "0",
        "domains-MAX_NUM_FORMS": "1000",
        "domains-0-domain": "@MAU.SE",
        "domains-0-include_subdomains": "on",
        "domains-0-audience": "staff",
        "memberships-TOTAL_FORMS": "1",
        "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
        "memberships-0-starts_on": "2024-01-01",
        "memberships-0-ends_on": "2026-12-31",
        "memberships-0-note": "",
    }
    return data | overrides


def test_adding_an_institution_with_its_domain_and_membership(staff_client, db):
    response = staff_client.post(
        reverse("admin:members_institution_add"), institution_form(website="mau.se")
    )
    assert response.status_code == 302, response.context["errors"]
    institution = Institution.objects.get(name="Malmö University")
    assert institution.website == "https://mau.se"
    assert list(institution.domains.values_list("domain", flat=True)) == ["mau.se"]
    assert list(institution.memberships.values_list("starts_on", "ends_on")) == [
        (datetime.date(2024, 1, 1), datetime.date(2026, 12, 31))
    ]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"domains-0-domain": "mau"}, "Enter an e-mail domain such as lu.se."),
        ({"domains-0-domain": "anna@mau.se"}, "Enter an e-mail domain such as lu.se."),
        ({"domains-0-domain": "LU.se"}, "lu.se already identifies Lund University."),
        (
            {"memberships-0-ends_on": "2023-12-31"},
            "A membership cannot end before it starts (2024-01-01).",
        ),
        ({"memberships-0-starts_on": "tomorrow"}, "Enter a valid date."),
    ],
)
def test_bad_domains_and_periods_get_a_clear_message(staff_client, lund, overrides, message):
    response = staff_client.post(
        reverse("admin:members_institution_add"), institution_form(**overrides)
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Institution.objects.filter(name="Malmö University").exists()


def test_editing_keeps_a_domain_on_its_own_institution(staff_client, lund):
    domain = lund.domains.get()
    membership = lund.memberships.get()
    data = institution_form(
        name="Lund University",
        **{
            "domains-INITIAL_FORMS": "1",
            "domains-0-id": str(domain.pk),
            "domains-0-institution": str(lund.pk),
            "domains-0-domain": "LU.SE",
            "memberships-INITIAL_FORMS": "1",
            "memberships-0-id": str(membership.pk),
            "memberships-0-institution": str(lund.pk),
            "memberships-0-starts_on": membership.starts_on.isoformat(),
            "memberships-0-ends_on": "",
        },
    )
    response = staff_client.post(reverse("admin:members_institution_change", args=[lund.pk]), data)
    assert response.status_code == 302, response.context["errors"]
    assert lund.domains.get().domain == "lu.se"
    assert lund.memberships.get().ends_on is None


def test_network_admin(staff_client, db):
    response = staff_client.post(
        reverse("admin:members_network_add"),
        {
            "name": "Microbiome",
            "slug": "microbiome",
            "description": "Gut feelings.",
            "content_language": "en",
        },
    )
    assert response.status_code == 302
    assert Network.objects.get().slug == "microbiome"
    assert staff_client.get(reverse("admin:members_network_changelist")).status_code == 200


# -- import and export ------------------------------------------------------------------------

GOOD_CSV = (
    "name,short_name,kind,country,website,domains,memberships\n"
    'Lund University,LU,university,SE,https://www.lu.se,"*.lu.se; student.lu.se:students",'
    "2023-01-01..\n"
    "Aarhus University,AU,university,DK,,*.au.dk,\n"
)


def upload(content: str, name="members.csv"):
    return SimpleUploadedFile(name, content.encode(), content_type="text/csv")


def test_import_page_previews_then_imports(staff_client, db):
    url = reverse("admin:members_institution_import")
    page = staff_client.get(url)
    assert page.status_code == 200
    assert "<code>*.lu.se; student.lu.se:students</code>" in page.content.decode()

    preview = staff_client.post(
        url, {"resource": "0", "format": "0", "import_file": upload(GOOD_CSV)}
    )
    assert preview.status_code == 200
    assert "confirm_form" in preview.context
    assert not Institution.objects.exists()  # a preview only

    confirm = preview.context["confirm_form"]
    response = staff_client.post(
        reverse("admin:members_institution_process_import"),
        {name: confirm[name].value() for name in confirm.fields},
    )
    assert response.status_code == 302
    assert sorted(Institution.objects.values_list("name", flat=True)) == [
        "Aarhus University",
        "Lund University",
    ]
    assert sorted(InstitutionDomain.objects.values_list("domain", flat=True)) == [
        "au.dk",
        "lu.se",
        "student.lu.se",
    ]


def test_import_page_names_the_bad_row_and_offers_no_confirmation(staff_client, db):
    bad = GOOD_CSV + "Copenhagen Business School,CBS,school,DK,,cbs.dk,2024-13-01..\n"
    response = staff_client.post(
        reverse("admin:members_institution_import"),
        {"resource": "0", "format": "0", "import_file": upload(bad)},
    )
    assert response.status_code == 200
    assert "confirm_form" not in response.context
    content = response.content.decode()
    assert "“school” is not a kind" in content
    assert "“2024-13-01..” is not a period" in content
    result = response.context["result"]
    assert [row.number for row in result.invalid_rows] == [4]  # the header is row 1
    assert not Institution.objects.exists()


def test_import_page_refuses_an_unreadable_file(staff_client, db):
    response = staff_client.post(
        reverse("admin:members_institution_import"),
        {
            "resource": "0",
            "format": "1",  # Excel
            "import_file": SimpleUploadedFile("members.xlsx", b"not a spreadsheet"),
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors
    assert not Institution.objects.exists()


def test_export_action_downloads_the_selected_institutions(staff_client, lund, cbs):
    response = staff_client.post(
        reverse(CHANGELIST),
        {"action": "export_admin_action", "_selected_action": [str(lund.pk)]},
    )
    assert response.status_code == 200
    form = response.context["form"]
    data = {"format": "0", "resource": "0", "export_items": [str(lund.pk)]}
    data |= {name: "on" for name in form.fields if name.startswith("institutionresource_")}
    response = staff_client.post(reverse("admin:members_institution_export"), data)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    content = response.content.decode("utf-8-sig")
    lines = content.strip().splitlines()
    assert lines[0] == "name,short_name,kind,country,website,domains,memberships"
    assert lines[1].startswith("Lund University,LU,university,SE,")
    assert "*.lu.se" in lines[1]
    assert "Copenhagen Business School" not in content


def test_export_of_everything_as_excel(staff_client, lund, cbs):
    url = reverse("admin:members_institution_export")
    form = staff_client.get(url).context["form"]
    data = {"format": "1", "resource": "0"}
    data |= {name: "on" for name in form.fields if name.startswith("institutionresource_")}
    response = staff_client.post(url, data)
    assert response.status_code == 200
    assert "spreadsheetml" in response["Content-Type"]
    from import_export.formats.base_formats import XLSX

    exported = XLSX().create_dataset(response.content)
    assert sorted(row[0] for row in exported) == ["Copenhagen Business School", "Lund University"]


def test_the_member_list_import_page_speaks_swedish(staff_client, db):
    with translation.override("en"):  # the requests switch the thread's language; restore it
        staff_client.post(reverse("set_language"), {"language": "sv", "next": "/"})
        page = staff_client.get(reverse("admin:members_institution_import")).content.decode()
    assert "Fil att importera" in page
    assert "File to import" not in page


# --- Who may import and export ------------------------------------------------------------


def member_list_editor(*, without=()):
    from django.contrib.auth.models import Permission

    from members.admin import MEMBER_LIST_IMPORT_PERMISSIONS

    user = UserFactory(is_staff=True)
    codenames = [
        name.split(".")[1]
        for name in (*MEMBER_LIST_IMPORT_PERMISSIONS, "members.view_institution")
        if name not in without
    ]
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


@pytest.mark.parametrize(
    "without",
    [(), ("members.delete_membership",), ("members.change_institutiondomain",)],
)
def test_only_someone_who_may_change_the_member_list_by_hand_may_import_it(client, db, without):
    client.force_login(member_list_editor(without=without))
    may_import = not without

    page = client.get(reverse("admin:members_institution_import"))
    preview = client.post(
        reverse("admin:members_institution_import"),
        {"resource": "0", "format": "0", "import_file": upload(GOOD_CSV)},
    )
    changelist = client.get(reverse(CHANGELIST)).content.decode()

    assert page.status_code == (200 if may_import else 403)
    assert preview.status_code == (200 if may_import else 403)
    assert (reverse("admin:members_institution_import") in changelist) is may_import
    assert not Institution.objects.exists()


@pytest.mark.parametrize(
    ("groups", "is_superuser", "status"),
    [((), False, 403), (("Event staff",), False, 403), ((), True, 200)],
)
def test_staff_without_the_member_list_permissions_cannot_import_free_admission(
    client, db, groups, is_superuser, status
):
    from tests.factories import event_staff_group

    user = UserFactory(is_staff=True, is_superuser=is_superuser)
    if groups:
        user.groups.add(event_staff_group())
    client.force_login(user)

    response = client.post(
        reverse("admin:members_institution_import"),
        {"resource": "0", "format": "0", "import_file": upload(GOOD_CSV)},
    )

    assert response.status_code == status


@pytest.mark.parametrize(("view_permission", "status"), [(True, 200), (False, 403)])
def test_export_needs_the_view_permission(client, db, view_permission, status):
    from django.contrib.auth.models import Permission

    user = UserFactory(is_staff=True)
    if view_permission:
        user.user_permissions.add(Permission.objects.get(codename="view_institution"))
    client.force_login(user)

    assert client.get(reverse("admin:members_institution_export")).status_code == status


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({"password__startswith": "pbkdf2"}, 400),  # a hash, guessed a character at a time
        ({"is_staff__exact": "1"}, 200),
        ({"groups__id__exact": "1"}, 200),
    ],
)
def test_the_user_list_filters_only_by_what_it_offers(client, db, query, status):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    response = client.get(reverse("admin:members_user_changelist"), query)

    assert response.status_code == status


def _xlsx_bomb() -> bytes:
    """A small zip whose one member unpacks to far more than a member list."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * (25 * 1024 * 1024))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "content", "format_index"),
    [
        ("huge.csv", b"name\n" + b"x" * (2 * 1024 * 1024), "0"),
        ("bomb.xlsx", None, "1"),
    ],
    ids=["over-2-MB", "unpacks-to-25-MB"],
)
def test_a_file_far_larger_than_a_member_list_is_refused_unread(
    staff_client, db, name, content, format_index
):
    content = content if content is not None else _xlsx_bomb()
    response = staff_client.post(
        reverse("admin:members_institution_import"),
        {"resource": "0", "format": format_index, "import_file": SimpleUploadedFile(name, content)},
    )

    assert response.status_code == 200
    assert "The file is too large for a member list (at most 2.0\xa0MB)" in (
        response.content.decode()
    )
    assert "confirm_form" not in response.context


def test_more_rows_than_one_import_reads_are_refused_with_the_way_out(staff_client, db):
    rows = "".join(f"Institution {n},I{n},company,SE,,,\n" for n in range(1001))
    response = staff_client.post(
        reverse("admin:members_institution_import"),
        {
            "resource": "0",
            "format": "0",
            "import_file": upload(
                "name,short_name,kind,country,website,domains,memberships\n" + rows
            ),
        },
    )

    assert "The file has 1001 rows; a member list is imported 1000 at most at a time" in (
        response.content.decode()
    )
    assert not Institution.objects.exists()


def test_a_file_that_changes_nothing_offers_nothing_to_confirm(staff_client, db):
    url = reverse("admin:members_institution_import")
    first = staff_client.post(
        url, {"resource": "0", "format": "0", "import_file": upload(GOOD_CSV)}
    )
    confirm = first.context["confirm_form"]
    staff_client.post(
        reverse("admin:members_institution_process_import"),
        {name: confirm[name].value() for name in confirm.fields},
    )

    again = staff_client.post(
        url, {"resource": "0", "format": "0", "import_file": upload(GOOD_CSV)}
    )

    html = again.content.decode()
    assert "Nothing to import: every row of the file matches the member list as it is." in html
    assert 'name="confirm"' not in html
    first_html = first.content.decode()
    assert 'name="confirm"' in first_html
