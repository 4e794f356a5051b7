# The two commands: `make run` (a working demo on http://127.0.0.1:8000) and `make test`.
# Everything runs from the project's own virtualenv, created on first use.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
# Component packages that exist (a folder holding one import package each; see DESIGN.md).
PACKAGES := helpdesk $(patsubst %/__init__.py,%,$(wildcard signaling/helpdesk_signaling/__init__.py \
	queue/helpdesk_queue/__init__.py knowledgebase/helpdesk_kb/__init__.py \
	remote-inspection/helpdesk_inspection/__init__.py))

.PHONY: run test lint bench soak migration migration-initial install

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when pyproject.toml changes or a component package first appears (the editable
# install maps packages at install time).
$(STAMP): pyproject.toml $(addsuffix /__init__.py,$(PACKAGES)) | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $@

install: $(STAMP)

run: $(STAMP)
	$(BIN)/helpdesk db upgrade
	$(BIN)/helpdesk demo --open-all-hours
	@echo "Serving on http://$(HOST):$(PORT)/ (staff: /console/, applicants: /help?item=SCJG-001, API: /docs); Ctrl-C stops."
	$(BIN)/helpdesk serve --host $(HOST) --port $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy $(PACKAGES)

test: lint
	$(BIN)/pytest

# Every benchmark but the soak (minutes long): `make soak` (MINUTES=30 by default).
bench: $(STAMP)
	@set -e; for f in bench/bench_*.py; do \
		[ -e "$$f" ] || { echo "no benchmarks in bench/"; break; }; \
		[ "$$f" = bench/bench_soak.py ] && continue; \
		echo "== $$f"; $(BIN)/python "$$f"; \
	done

MINUTES ?= 30
soak: $(STAMP)
	$(BIN)/python bench/bench_soak.py --minutes $(MINUTES)

# make migration m="add kb tables": autogenerates a version file from the models; review it.
migration: $(STAMP)
	@[ -n "$(m)" ] || { echo 'usage: make migration m="what changed"'; exit 2; }
	$(BIN)/helpdesk db revision -m "$(m)"

# Before the first release only: regenerate the single initial revision (same id) from the models.
migration-initial: $(STAMP)
	$(BIN)/helpdesk db revision --rewrite-initial -m "initial schema"
