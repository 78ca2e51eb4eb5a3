import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import call_command

from members.models import Institution, InstitutionDomain, Membership, Network, User
from mva.celery import app as celery_app


def test_celery_is_configured_for_reliability():
    conf = celery_app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_serializer == "json"
    assert conf.accept_content == ["json"]
    assert conf.task_always_eager is False
    # A message unacknowledged for longer than this is redelivered; every retry must be shorter.
    assert conf.broker_transport_options["visibility_timeout"] > settings.OUTBOX_MAX_RETRY_DELAY


def test_production_settings_pass_deploy_check(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "DEBUG": "false",
        "SECRET_KEY": "a-very-long-and-random-production-secret-key-0123456789-abcdefghij",
        "ALLOWED_HOSTS": "events.mva.org",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres",
        "REDIS_URL": "redis://127.0.0.1:6379/15",
        "EMAIL_URL": "smtp+tls://user:secret@smtp.example.org:587",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        check=False,
    )
    assert result.returncode == 0, result.stderr + result.stdout


def test_production_settings_refuse_to_start_without_secret_key():
    env = {"PATH": "/usr/bin:/bin", "DEBUG": "false"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        env=env,
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        check=False,
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


EMBEDDED_RACE = r"""
import threading

import django

django.setup()
from django.core.management import call_command
from django.db import connection

call_command("migrate", verbosity=0)
from events import services
from tests.factories import EventFactory, UserFactory

event = EventFactory(capacity=50, standard_price=0, member_price=0)
users = [UserFactory() for _ in range(8)]
start = threading.Barrier(len(users))
outcomes = []


def register(user):
    start.wait()
    try:
        services.register_for_event(
            event_id=event.pk,
            user=user,
            details=services.RegistrationDetails(),
            require_billing=False,
        )
        outcomes.append("registered")
    except Exception as error:
        outcomes.append(repr(error))
    finally:
        connection.close()


threads = [threading.Thread(target=register, args=(user,)) for user in users]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(sorted(set(outcomes)))
"""


def test_the_embedded_set_up_takes_registrations_arriving_at_once(tmp_path):
    """`make run` serves from SQLite, which has no row locks: without transactions that
    take the write lock up front, people registering at the same moment got "database is
    locked" errors (a 500 page)."""
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PYTHONPATH": str(settings.BASE_DIR),
        "DJANGO_SETTINGS_MODULE": "mva.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'embedded.sqlite3'}",
    }
    result = subprocess.run(
        [sys.executable, "-c", EMBEDDED_RACE],
        env=env,
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "['registered']"


def demo_rows() -> dict:
    """Every row the demo data writes, field by field (only the time a row was last touched
    left out), so that a second run that changed any value would show."""
    from allauth.account.models import EmailAddress

    from events.models import Event, ProgrammeItem, Registration

    models = [User, EmailAddress, Institution, InstitutionDomain, Membership, Network]
    models += [Event, ProgrammeItem, Registration]
    volatile = {"updated_at", "last_login"}
    return {
        model.__name__: [
            {key: value for key, value in row.items() if key not in volatile}
            for row in model.objects.order_by("pk").values()
        ]
        for model in models
    }


@pytest.mark.django_db
def test_demo_data_twice_gives_the_same_data():
    call_command("load_demo_data", stdout=open("/dev/null", "w"))  # noqa: SIM115
    first = demo_rows()
    call_command("load_demo_data", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert demo_rows() == first
    counts = {model: model.objects.count() for model in [Institution, Network]}
    assert counts[Institution] >= 12
    assert counts[Network] == 4
    assert User.objects.filter(is_staff=True).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/admin/login/"])
def test_every_page_forbids_scripts_from_anywhere_but_the_site(client, path):
    policy = client.get(path)["Content-Security-Policy"]
    directives = dict(
        (part.split()[0], part.split()[1:]) for part in policy.split(";") if part.strip()
    )

    assert directives["script-src"][0] == "'self'"
    assert "'unsafe-inline'" not in directives["script-src"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["form-action"] == ["'self'"]
