import logging
import zipfile

from allauth.account.adapter import get_adapter as get_account_adapter
from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm
from django.contrib.auth.forms import UserChangeForm as DjangoUserChangeForm
from django.db.models import Prefetch
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop
from import_export.admin import ImportExportActionModelAdmin
from import_export.formats.base_formats import XLSX
from import_export.forms import ImportForm

from outbox.admin import ListedFiltersOnly

from .affiliation import (
    InvalidDomain,
    affiliation_for_address,
    domain_of_address,
    is_address_of_another_account,
    normalise_domain,
    record_address_vouched_for_by_staff,
    with_member_flag,
)
from .models import Institution, InstitutionDomain, Membership, Network, User
from .resources import FILE_FORMATS, ColumnNamesExportForm, InstitutionResource

logger = logging.getLogger(__name__)

# django-import-export has no Swedish or Danish catalog. The texts of its import pages (the
# member list's import) are marked here so that makemessages keeps them in the project's
# catalog, which takes precedence over any app's; events/admin.py does the same for export.
IMPORT_TEXTS = (
    gettext_noop("Import"),
    gettext_noop("Export"),
    gettext_noop("Resource"),
    gettext_noop("Format"),
    gettext_noop("File to import"),
    gettext_noop("Submit"),
    gettext_noop("This importer will import the following fields: "),
    gettext_noop(
        "Below is a preview of data to be imported. If you are satisfied with the results, "
        "click 'Confirm import'"
    ),
    gettext_noop("Confirm import"),
    gettext_noop("Preview"),
    gettext_noop("New"),
    gettext_noop("Update"),
    gettext_noop("Delete"),
    gettext_noop("Skipped"),
    gettext_noop("Errors"),
    gettext_noop("Line number"),
    gettext_noop("Row"),
    gettext_noop("Non field specific"),
    gettext_noop("Some rows failed to validate"),
    gettext_noop(
        "Please correct these errors in your data where possible, then reupload it using the "
        "form above."
    ),
    gettext_noop("Import finished: {} new, {} updated, {} deleted and {} skipped {}."),
    gettext_noop(
        "No valid data to import. Ensure your file has the correct headers or data for import."
    ),
)


class _VouchedAddressForm(forms.ModelForm):
    """The e-mail address staff enter for a person, in the spelling allauth keeps (lower
    case, canonical domain), refused when another account has it: staff vouch for it, and
    UserAdmin records it as verified (record_address_vouched_for_by_staff)."""

    def clean_email(self):
        email = self.cleaned_data["email"]
        if self.instance.pk is not None and email == self.instance.email:
            return email  # unchanged, left as stored
        # The checks and spelling of sign-up (members.adapter), so that the person signs in
        # with the address as they would have registered it.
        email = get_account_adapter().clean_email(email.strip().lower())
        if is_address_of_another_account(email=email, user=self.instance):
            raise forms.ValidationError(
                _("Another account already uses this e-mail address."), code="unique"
            )
        return email


class UserCreationForm(_VouchedAddressForm, AdminUserCreationForm):
    class Meta:
        model = User
        fields = ["email"]


class UserChangeForm(_VouchedAddressForm, DjangoUserChangeForm):
    class Meta:
        model = User
        fields = ["email"]  # and the others of UserAdmin.fieldsets, which the admin adds


@admin.register(User)
class UserAdmin(ListedFiltersOnly, DjangoUserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_staff", "is_active", "date_joined"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        (_("Personal info"), {"fields": ["first_name", "last_name", "job_title", "language"]}),
        (
            _("Permissions"),
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        (_("Important dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change or "email" in form.changed_data:
            # Without a verified address allauth sends the person to "Confirm your e-mail
            # address" at sign-in; staff vouch for the address they entered.
            record_address_vouched_for_by_staff(user=obj, email=obj.email)


class InstitutionDomainForm(forms.ModelForm):
    """Stores the domain in its one canonical form, whatever the staff member typed."""

    class Meta:
        model = InstitutionDomain
        fields = ["domain", "include_subdomains", "audience"]
        help_texts = {
            "domain": _("As in addresses: lu.se, not @lu.se or www.lu.se. Case does not matter.")
        }

    def clean_domain(self):
        try:
            domain = normalise_domain(self.cleaned_data["domain"])
        except InvalidDomain:
            raise forms.ValidationError(
                _("Enter an e-mail domain such as lu.se."), code="invalid"
            ) from None
        others = InstitutionDomain.objects.filter(domain=domain).select_related("institution")
        if self.instance.pk is not None:
            others = others.exclude(pk=self.instance.pk)
        if self.instance.institution_id is not None:
            others = others.exclude(institution_id=self.instance.institution_id)
        other = others.first()
        if other is not None:
            raise forms.ValidationError(
                _("%(domain)s already identifies %(institution)s."),
                code="unique",
                params={"domain": domain, "institution": other.institution.name},
            )
        return domain


class MembershipForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["starts_on", "ends_on", "note"]

    def clean(self):
        cleaned = super().clean()
        starts_on, ends_on = cleaned.get("starts_on"), cleaned.get("ends_on")
        if starts_on and ends_on and ends_on < starts_on:
            self.add_error(
                "ends_on",
                _("A membership cannot end before it starts (%(date)s).")
                % {"date": starts_on.isoformat()},
            )
        return cleaned


class InstitutionDomainInline(admin.TabularInline):
    model = InstitutionDomain
    form = InstitutionDomainForm
    extra = 1


class MembershipInline(admin.TabularInline):
    model = Membership
    form = MembershipForm
    extra = 1
    ordering = ["-starts_on"]


class MemberTodayFilter(admin.SimpleListFilter):
    title = _("member today")
    parameter_name = "member_today"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(is_member_today=True)
        if self.value() == "no":
            return queryset.filter(is_member_today=False)
        return queryset


# An import rewrites institutions with their domains and membership periods, which decide who
# attends free: only someone who may make each of those changes by hand may import.
MEMBER_LIST_IMPORT_PERMISSIONS = (
    "members.add_institution",
    "members.change_institution",
    "members.add_institutiondomain",
    "members.change_institutiondomain",
    "members.delete_institutiondomain",
    "members.add_membership",
    "members.change_membership",
    "members.delete_membership",
)


# The member list is about 250 institutions; a file far larger than that is a mistake, and
# reading it inside the request would run past the server's time-out.
MEMBER_LIST_MAX_BYTES = 2 * 1024 * 1024
# An Excel workbook is a zip archive: what it unpacks to is what gets read.
MEMBER_LIST_MAX_UNPACKED_BYTES = 20 * 1024 * 1024


class MemberListImportForm(ImportForm):
    def clean_import_file(self):
        upload = self.cleaned_data["import_file"]
        too_large = forms.ValidationError(
            _("The file is too large for a member list (at most %(size)s): is it the right file?"),
            params={"size": filesizeformat(MEMBER_LIST_MAX_BYTES)},
        )
        if upload.size > MEMBER_LIST_MAX_BYTES:
            raise too_large
        if zipfile.is_zipfile(upload):
            try:
                with zipfile.ZipFile(upload) as archive:
                    unpacked = sum(member.file_size for member in archive.infolist())
            except zipfile.BadZipFile:
                unpacked = 0  # not a workbook after all: the reader says so
            if unpacked > MEMBER_LIST_MAX_UNPACKED_BYTES:
                raise too_large
        upload.seek(0)
        return upload


@admin.register(Institution)
class InstitutionAdmin(ImportExportActionModelAdmin):
    resource_classes = [InstitutionResource]
    import_form_class = MemberListImportForm
    import_template_name = "members/admin/institution_import.html"
    import_formats = FILE_FORMATS
    export_formats = FILE_FORMATS
    export_form_class = ColumnNamesExportForm
    inlines = [InstitutionDomainInline, MembershipInline]
    list_display = ["name", "short_name", "kind", "country", "member_today", "domain_list"]
    list_filter = ["kind", "country", MemberTodayFilter]
    search_fields = ["name", "short_name", "domains__domain"]
    list_per_page = 100
    fields = ["name", "short_name", "kind", "country", "website"]

    def has_import_permission(self, request):
        return request.user.has_perms(MEMBER_LIST_IMPORT_PERMISSIONS)

    def add_data_read_fail_error_to_form(self, form, e):
        # The library's message starts with the exception's class name ("'BadZipFile'
        # encountered …"), which tells staff nothing; the class is logged for whoever debugs.
        logger.info("Member list file unreadable: %r", e)
        file_format = self.get_import_formats()[int(form.cleaned_data["format"])]
        form.add_error(
            "import_file",
            _(
                "The file could not be read as %(format)s. Check that you chose the format "
                "the file is saved in: CSV, or Excel workbook (.xlsx)."
            )
            % {"format": _("Excel") if file_format is XLSX else _("CSV")},
        )

    def has_export_permission(self, request):
        return request.user.has_perm("members.view_institution")

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "website":
            kwargs["assume_scheme"] = "https"  # "www.lu.se" means https://www.lu.se
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_queryset(self, request):
        institutions = (
            super()
            .get_queryset(request)
            .prefetch_related(
                Prefetch("domains", queryset=InstitutionDomain.objects.order_by("domain")),
            )
        )
        return with_member_flag(
            institutions=institutions, on=timezone.localdate(), name="is_member_today"
        )

    def get_search_results(self, request, queryset, search_term):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        # "anna@med.lu.se" or "med.lu.se" finds the institution the address would belong to.
        term = search_term.strip()
        if "." in term and " " not in term:
            address = term if "@" in term.lstrip("@") else f"someone@{term.lstrip('@')}"
            if domain_of_address(address) is not None:
                affiliation = affiliation_for_address(email=address)
                if affiliation is not None:
                    results = results | queryset.filter(pk=affiliation.institution.pk)
        return results, may_have_duplicates

    @admin.display(boolean=True, description=_("member today"), ordering="is_member_today")
    def member_today(self, institution):
        return institution.is_member_today

    @admin.display(description=_("e-mail domains"))
    def domain_list(self, institution):
        return ", ".join(
            domain.domain
            + ("" if domain.audience == InstitutionDomain.Audience.STAFF else f" ({_('students')})")
            for domain in institution.domains.all()
        )


@admin.register(Network)
class NetworkAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
