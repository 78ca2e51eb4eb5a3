import socket
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def pytest_sessionstart(session):
    """Fail fast, with a way out, when the engines the tests need are not running."""
    database = settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.postgresql":
        pytest.exit(
            "The tests run against PostgreSQL: set DATABASE_URL (make test does), e.g. "
            "DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres",
            returncode=3,
        )
    host, port = database.get("HOST") or "127.0.0.1", int(database.get("PORT") or 5432)
    if not _reachable(host, port):
        pytest.exit(
            f"PostgreSQL is not answering on {host}:{port}. Start it with:\n"
            "  pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
            returncode=3,
        )
    redis = urlparse(settings.REDIS_URL or "redis://127.0.0.1:6379/15")
    if not settings.REDIS_URL or not _reachable(redis.hostname, redis.port or 6379):
        pytest.exit(
            f"Redis is not answering at {settings.REDIS_URL or '(REDIS_URL unset)'}. "
            "Start it with:\n"
            '  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no',
            returncode=3,
        )


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The production hasher is slow on purpose; tests create thousands of users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _broker_not_known_to_have_failed():
    # A process remembers a broker failure for a few seconds (outbox.services.publish_email);
    # one test's outage must not keep the next test's messages from being published.
    from outbox import services

    services._broker_failed_at = None
    yield
    services._broker_failed_at = None


@pytest.fixture(autouse=True)
def _fresh_cache_and_rate_limits():
    # allauth's rate limits and our caches live in Redis; tests must not see each other's.
    from django.core.cache import caches

    for alias in ("default", "template_fragments"):
        caches[alias].clear()
    yield


@pytest.fixture
def user(db):
    from tests.factories import UserFactory

    return UserFactory()


@pytest.fixture
def staff_user(db):
    from tests.factories import UserFactory

    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def in_language(client):
    """The client with the language chosen the way a visitor chooses it (the switcher's view);
    the thread's language is restored afterwards, since the test client shares the thread."""

    def choose(language: str):
        response = client.post(reverse("set_language"), {"language": language, "next": "/"})
        assert response.status_code == 302
        assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == language
        return client

    with translation.override(settings.LANGUAGE_CODE):
        yield choose
