"""Settings for MVA Events, read from the environment (django-environ).

With no environment at all the project runs self-contained: SQLite in a file, Celery tasks
in-process, e-mail printed to the console and DEBUG on. Production sets DATABASE_URL,
REDIS_URL, EMAIL_URL, SECRET_KEY and ALLOWED_HOSTS with DEBUG off. The README lists every
variable.
"""

from email.utils import parseaddr
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=True)

# A development key only exists while DEBUG is on; production must bring its own.
SECRET_KEY = env(
    "SECRET_KEY",
    default="django-insecure-development-key-only-for-debug" if DEBUG else environ.Env.NOTSET,
)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# The site's own page for a form that expired, in its layout and language (members.views).
CSRF_FAILURE_VIEW = "members.views.csrf_failure"
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # Trigram index operator classes for staff search (harmless on the embedded SQLite).
    "django.contrib.postgres",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "import_export",
    "outbox",
    "members",
    "events",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "members.middleware.StaffTwoFactorMiddleware",
    "members.middleware.RejectUnreadableRequestsMiddleware",
    "members.middleware.AdminBadInputMiddleware",
]

ROOT_URLCONF = "mva.urls"
WSGI_APPLICATION = "mva.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
if DATABASES["default"].get("ENGINE") == "django.db.backends.sqlite3":
    # The embedded set-up: SQLite has no row locks, so two requests writing at once would
    # fail with "database is locked". Transactions take the write lock when they begin and
    # wait for it (up to `timeout` seconds); WAL lets pages be read meanwhile.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Parallel test runs (several developers or helpers on one machine) each need their own test
# database; TEST_DATABASE_NAME chooses it.
if env("TEST_DATABASE_NAME", default=""):
    DATABASES["default"]["TEST"] = {"NAME": env("TEST_DATABASE_NAME")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, Celery --------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
# The cache may be flushed (tests do; an operator may), so it can live in a Redis database
# apart from the broker's queue: CACHE_URL, defaulting to REDIS_URL.
CACHE_URL = env("CACHE_URL", default=REDIS_URL)
# Template fragments that are the same for every visitor in a language and role (the
# navigation, the footer) are kept in each process's memory: they change only with a deploy.
TEMPLATE_FRAGMENTS_CACHE = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "template-fragments",
}
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "mva.cache.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="mva"),
        },
        "template_fragments": TEMPLATE_FRAGMENTS_CACHE,
    }
    CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
    CELERY_TASK_ALWAYS_EAGER = False
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "template_fragments": TEMPLATE_FRAGMENTS_CACHE,
    }
    # Without a broker, tasks run in-process so the embedded set-up needs no services.
    CELERY_BROKER_URL = "memory://"
    CELERY_TASK_ALWAYS_EAGER = True
    CELERY_TASK_EAGER_PROPAGATES = False

# Sessions are read from the cache on every request and written through to the database, so
# a flushed cache signs nobody out.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Retries of e-mail are capped at OUTBOX_MAX_RETRY_DELAY; a message not acknowledged within
# the visibility timeout is delivered again, so the timeout must stay well above that cap.
OUTBOX_MAX_RETRY_DELAY = env.int("OUTBOX_MAX_RETRY_DELAY", default=15 * 60)
# Back-off of a temporary failure: base * 2**(attempt - 1) seconds (with jitter), up to the cap
# above; after OUTBOX_MAX_ATTEMPTS attempts (about 1.5 hours with the defaults) a message is
# marked failed for staff to see and send again.
OUTBOX_RETRY_BASE_DELAY = env.float("OUTBOX_RETRY_BASE_DELAY", default=30.0)
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=10)
# The sweep publishes again rows queued (or due for a retry) longer than this many seconds, and
# rows in flight longer than OUTBOX_IN_FLIGHT_TIMEOUT (their worker died mid-send).
OUTBOX_REQUEUE_AFTER = env.int("OUTBOX_REQUEUE_AFTER", default=2 * 60)
OUTBOX_IN_FLIGHT_TIMEOUT = env.int("OUTBOX_IN_FLIGHT_TIMEOUT", default=10 * 60)
# After the broker failed to answer, a process does not try it again for this many seconds:
# messages written meanwhile wait for the sweep instead of each waiting for a time-out.
OUTBOX_BROKER_PAUSE = env.int("OUTBOX_BROKER_PAUSE", default=10)
OUTBOX_KEEP_SENT_DAYS = env.int("OUTBOX_KEEP_SENT_DAYS", default=90)
# A worker keeps its SMTP connection for the next message if that comes within this many
# seconds (0: a new connection per message). Mail servers drop idle connections after minutes.
OUTBOX_SMTP_REUSE_SECONDS = env.int("OUTBOX_SMTP_REUSE_SECONDS", default=30)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=2 * 60 * 60),
    # Do not hang a web request when Redis is down; the outbox sweep sends later.
    "max_retries": 1,
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TIMEZONE = "Europe/Copenhagen"
REMINDER_DAYS_BEFORE = env.int("REMINDER_DAYS_BEFORE", default=2)
# Dietary and accessibility needs (GDPR Art. 9) are erased this many days after the event.
SPECIAL_NEEDS_KEPT_DAYS = env.int("SPECIAL_NEEDS_KEPT_DAYS", default=30)
CELERY_BEAT_SCHEDULE = {
    "outbox-sweep": {
        "task": "outbox.sweep_outbox",
        "schedule": 60.0,
        # A sweep that waited a minute in the queue is superseded by the next one.
        "options": {"expires": 55},
    },
    "event-reminders": {
        "task": "events.send_event_reminders",
        "schedule": crontab(minute=5),
        "options": {"expires": 50 * 60},
    },
    "outbox-delete-old-sent": {
        "task": "outbox.delete_old_sent_emails",
        "schedule": crontab(hour=3, minute=30),
    },
    "erase-special-category-data": {
        "task": "events.erase_special_category_data",
        "schedule": crontab(hour=4, minute=0),
    },
}

# --- E-mail ---------------------------------------------------------------------------------
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="MVA Events <events@mva.org>")
SERVER_EMAIL = env("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
# Where attendees write with questions (an event may name its own): shown on the pages and
# the Reply-To of registration e-mails, so "reply to this e-mail" reaches a person.
EVENTS_CONTACT_EMAIL = env("CONTACT_EMAIL", default=parseaddr(DEFAULT_FROM_EMAIL)[1])
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)

# --- Accounts (django-allauth) --------------------------------------------------------------
AUTH_USER_MODEL = "members.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
ACCOUNT_ADAPTER = "members.adapter.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_SIGNUP_FORM_CLASS = "members.forms.SignupForm"
# allauth's forms with the site's labels (sentence case, "E-mail address"); see members/forms.py.
ACCOUNT_FORMS = {
    "login": "members.account_forms.LoginForm",
    "signup": "members.account_forms.AccountSignupForm",
    "add_email": "members.account_forms.AddEmailForm",
    "reset_password": "members.account_forms.ResetPasswordForm",
    "change_password": "members.account_forms.ChangePasswordForm",
    "reset_password_from_key": "members.account_forms.ResetPasswordKeyForm",
}
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_MAX_EMAIL_ADDRESSES = 5
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[MVA Events] "
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http" if DEBUG else "https"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_REQUIRED_FOR_STAFF = env.bool("MFA_REQUIRED_FOR_STAFF", default=False)
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "events:list"

# --- Import and export (django-import-export) ---------------------------------------------
# Without these the library lets any staff account import and export. An admin that needs more
# (the member list) says so itself.
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "add"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("sv", _("Swedish")), ("da", _("Danish"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Our own date formats per language (mva/formats/<language>/formats.py).
FORMAT_MODULE_PATH = ["mva.formats"]
TIME_ZONE = "Europe/Copenhagen"
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Security (production) ------------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# Content-Security-Policy (django-csp): scripts and everything else only from the site itself,
# so injected markup cannot run a script. Inline style attributes stay allowed (the admin and
# the report's chart use them); images may be data: URIs (the authenticator's QR code).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        # Plus the one inline handler django-import-export's export page has ("select all"),
        # allowed by its hash and nothing else.
        "script-src": [
            SELF,
            "'unsafe-hashes'",
            "'sha256-wid4zL8fR53ZYy1ljOepzR77Dn6vWUUxuNnnWWBP3I8='",  # onSelectToggleChange(event)
        ],
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
