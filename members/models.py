from datetime import date

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person with an account. Signs in with an e-mail address; there are no usernames."""

    email = models.EmailField(_("e-mail address"), unique=True)
    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    job_title = models.CharField(_("job title"), max_length=200, blank=True)
    language = models.CharField(
        _("preferred language"),
        max_length=10,
        blank=True,
        help_text=_(
            "The language the person last chose on the site; signing in on another browser "
            "speaks it."
        ),
    )
    is_staff = models.BooleanField(
        _("staff status"),
        default=False,
        help_text=_("Designates whether the user can log into the admin site."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("date joined"), default=timezone.now)

    objects = UserManager()

    EMAIL_FIELD = "email"
    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_case_insensitive_unique"),
        ]

    def __str__(self):
        return self.get_full_name() or self.email

    def get_full_name(self):
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self):
        return self.first_name or self.email


class Institution(models.Model):
    class Kind(models.TextChoices):
        UNIVERSITY = "university", _("University")
        HOSPITAL = "hospital", _("Hospital")
        COMPANY = "company", _("Company")
        INVESTOR = "investor", _("Investor")
        PUBLIC = "public", _("Public authority")
        OTHER = "other", _("Other")

    class Country(models.TextChoices):
        DENMARK = "DK", _("Denmark")
        SWEDEN = "SE", _("Sweden")
        OTHER = "other", _("Other")

    name = models.CharField(_("name"), max_length=200, unique=True)
    short_name = models.CharField(_("short name"), max_length=50, blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    country = models.CharField(_("country"), max_length=5, choices=Country.choices)
    website = models.URLField(_("website"), blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("institution")
        verbose_name_plural = _("institutions")
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    kind__in=["university", "hospital", "company", "investor", "public", "other"]
                ),
                name="institution_kind_valid",
            ),
            models.CheckConstraint(
                condition=Q(country__in=["DK", "SE", "other"]),
                name="institution_country_valid",
            ),
        ]

    def __str__(self):
        return self.name


class InstitutionDomain(models.Model):
    """An e-mail domain that identifies the staff or the students of one institution."""

    class Audience(models.TextChoices):
        STAFF = "staff", _("Staff")
        STUDENTS = "students", _("Students")

    institution = models.ForeignKey(
        Institution, on_delete=models.CASCADE, related_name="domains", verbose_name=_("institution")
    )
    # Stored normalised: lower case, IDNA (punycode) form, no leading "@" or ".".
    domain = models.CharField(_("domain"), max_length=253, unique=True)
    include_subdomains = models.BooleanField(
        _("includes sub-domains"),
        default=True,
        help_text=_("Whether addresses at sub-domains such as med.lu.se count too."),
    )
    audience = models.CharField(
        _("identifies"), max_length=10, choices=Audience.choices, default=Audience.STAFF
    )

    class Meta:
        ordering = ["domain"]
        verbose_name = _("e-mail domain")
        verbose_name_plural = _("e-mail domains")
        constraints = [
            models.CheckConstraint(
                condition=Q(domain=Lower("domain"))
                & ~Q(domain__startswith="@")
                & ~Q(domain__startswith=".")
                & ~Q(domain__endswith=".")
                & ~Q(domain=""),
                name="institution_domain_normalised",
            ),
            # The canonical form (members.affiliation.normalise_domain): ASCII host name
            # labels, internationalised ones in punycode, at least two of them.
            models.CheckConstraint(
                condition=Q(domain__regex=r"^[a-z0-9-]+(\.[a-z0-9-]+)+$"),
                name="institution_domain_ascii_host_name",
            ),
            models.CheckConstraint(
                condition=Q(audience__in=["staff", "students"]),
                name="institution_domain_audience_valid",
            ),
        ]

    def __str__(self):
        return self.domain


class MembershipQuerySet(models.QuerySet):
    def covering(self, on: date):
        """Memberships in force on the date, both ends inclusive."""
        return self.filter(Q(ends_on__isnull=True) | Q(ends_on__gte=on), starts_on__lte=on)


class Membership(models.Model):
    """A paid membership of an institution for a period (both ends inclusive)."""

    institution = models.ForeignKey(
        Institution,
        on_delete=models.CASCADE,
        related_name="memberships",
        verbose_name=_("institution"),
    )
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(
        _("ends on"), null=True, blank=True, help_text=_("Leave empty while it runs on.")
    )
    note = models.CharField(_("note"), max_length=200, blank=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        # By id, not "institution": that would join institutions to sort by their name.
        ordering = ["institution_id", "-starts_on"]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__isnull=True) | Q(ends_on__gte=models.F("starts_on")),
                name="membership_ends_after_start",
                violation_error_message=_("A membership cannot end before it starts."),
            ),
        ]
        indexes = [models.Index(fields=["institution", "starts_on", "ends_on"])]

    def __str__(self):
        end = self.ends_on.isoformat() if self.ends_on else "…"
        return f"{self.institution}: {self.starts_on.isoformat()} – {end}"


class Network(models.Model):
    """A themed network of MVA (cancer, medical technology, …)."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    slug = models.SlugField(_("slug"), unique=True)
    description = models.TextField(_("description"), blank=True)
    content_language = models.CharField(
        _("language of the name and description"),
        max_length=10,
        choices=settings.LANGUAGES,
        default="en",
        help_text=_(
            "The language the name and description are written in, so that screen readers "
            "read them in it on pages in another language."
        ),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("network")
        verbose_name_plural = _("networks")

    def __str__(self):
        return self.name
