# The two commands a newcomer needs: `make demo` and `make test` (see README.md).
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint services install

$(STAMP): pyproject.toml
	scripts/ensure-services
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

services:
	scripts/ensure-services

demo: $(STAMP) services
	demo/run

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# Everything on the SQLite ledger, then every test that uses a ledger again on PostgreSQL.
test: $(STAMP) services lint
	$(VENV)/bin/pytest
	$(VENV)/bin/pytest --ledger=postgres -m "not slow" tests/ledger tests/edge

# Leaves out the slow fault tests (kill -9, broker restart); CI runs everything.
test-fast: $(STAMP) services
	$(VENV)/bin/pytest -m "not slow"

# Install as a service (as root): the docex user, /opt/docex, /etc/docex, /var/lib/docex,
# /var/spool/docex and the systemd units. DESTDIR=/some/root installs under that root.
install:
	DESTDIR="$(DESTDIR)" scripts/install
