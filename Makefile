# MVA Events. `make run` shows the site with demo data; `make test` runs every test against
# PostgreSQL and Redis on localhost.
VENV      := .venv
PYTHON    := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
HOST_PYTHON ?= python3

# The tests use the real engines production uses. Override any of these on the command line.
TEST_DATABASE_URL  ?= postgres://postgres@127.0.0.1:5432/postgres
TEST_DATABASE_NAME ?= test_mva
TEST_REDIS_URL     ?= redis://127.0.0.1:6379/15
TEST_CACHE_URL     ?= redis://127.0.0.1:6379/14
PYTEST_ARGS        ?=

.PHONY: install run test lint format worker beat bench bench-mail chromium clean

$(INSTALLED): pyproject.toml
	test -x $(PYTHON) || $(HOST_PYTHON) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

install: $(INSTALLED)

run: install
	$(PYTHON) manage.py migrate --noinput
	$(PYTHON) manage.py load_demo_data
	$(PYTHON) manage.py runserver 127.0.0.1:8000

# Debian's Chromium drives the browser tests; never a browser download.
chromium:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

test: install chromium
	DATABASE_URL=$(TEST_DATABASE_URL) TEST_DATABASE_NAME=$(TEST_DATABASE_NAME) \
	REDIS_URL=$(TEST_REDIS_URL) CACHE_URL=$(TEST_CACHE_URL) DEBUG=true \
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PYTHON) manage.py makemigrations --check --dry-run

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Sends e-mail (and runs the periodic tasks beat schedules). Run as many as needed; each needs
# DATABASE_URL, REDIS_URL and EMAIL_URL like the web process.
worker: install
	$(VENV)/bin/celery -A mva worker --loglevel=INFO --concurrency=2

# Exactly one beat per installation: the outbox sweep (every minute), event reminders (hourly),
# clean-up of old sent e-mail and erasure of special-category data (daily).
BEAT_SCHEDULE_FILE ?= /tmp/mva-celerybeat-schedule
beat: install
	$(VENV)/bin/celery -A mva beat --loglevel=INFO --schedule=$(BEAT_SCHEDULE_FILE)

# Load benchmark of registration (gunicorn, PostgreSQL, Redis; DEBUG off). Figures: BENCHMARKS.md.
bench: install
	$(PYTHON) benchmarks/bench_registration.py

# Mail throughput: 1,000 confirmations through one worker to a local SMTP server. Figures:
# BENCHMARKS.md.
bench-mail: install
	$(PYTHON) benchmarks/bench_mail.py

clean:
	rm -rf $(VENV) staticfiles

# Back office: server time of the admin lists with 20,000 registrations (DEBUG off). Figures:
# BENCHMARKS.md, "Back office".
.PHONY: bench-admin
bench-admin: install
	$(PYTHON) benchmarks/bench_admin.py

# Translations: gather the strings to translate into locale/sv and locale/da, then compile them.
# Needs GNU gettext (apt-get install gettext). The compiled .mo files are committed, so running
# the site or the tests does not.
.PHONY: messages
messages: install
	$(PYTHON) manage.py makemessages -l sv -l da -l en --ignore=.venv --ignore=staticfiles \
		--ignore=benchmarks --ignore=tests
	$(PYTHON) manage.py compilemessages --ignore=.venv --ignore=staticfiles
