# The two commands a newcomer needs: `make demo` and `make test` (see README.md).
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint services install man locale

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
	$(VENV)/bin/pytest --ledger=postgres -m "not slow" tests/ledger tests/edge tests/board

# Leaves out the slow fault tests (kill -9, broker restart); CI runs everything.
test-fast: $(STAMP) services
	$(VENV)/bin/pytest -m "not slow"

# Install as a service (as root): the docex user, /opt/docex, /etc/docex, /var/lib/docex,
# /var/spool/docex and the systemd units. DESTDIR=/some/root installs under that root.
install:
	DESTDIR="$(DESTDIR)" scripts/install

# The man page and bash completion, generated from the parser (docex/cli/__init__.py).
man: $(STAMP)
	$(VENV)/bin/pip install --quiet -e '.[man]'
	mkdir -p var/man
	$(VENV)/bin/argparse-manpage --module docex.cli --function parser --prog docex \
	  --project-name docex --manual-title "docex manual" --output var/man/docex.1
	$(VENV)/bin/docex --print-completion bash > var/man/docex.bash
	@echo "man -l var/man/docex.1; source var/man/docex.bash"

# The Chinese catalog: sentences marked _("…") in docex/, their Chinese in
# scripts/translations.py, compiled to the .mo that is committed (needs gettext's tools).
LOCALE := docex/locale/zh_CN/LC_MESSAGES
locale:
	xgettext --language=Python --keyword=_ --keyword=N_ --from-code=UTF-8 --no-location --sort-output \
	  --output=var/docex.pot $$(grep -rlE 'from docex.i18n import (N_, )?_' docex)
	python3 scripts/translations.py var/docex.pot $(LOCALE)/docex.po
	msgfmt --check --output-file=$(LOCALE)/docex.mo $(LOCALE)/docex.po
