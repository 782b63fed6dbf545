# The two commands of the README: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
WEB_PORT ?= 8000
export WEB_PORT

.PHONY: run test install lint format migrate clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	bash scripts/system-deps.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

migrate: install
	$(PY) manage.py migrate --noinput

## make run: web + worker + beat on the embedded default (SQLite, filesystem broker); Ctrl-C stops all.
run: migrate
	@$(PY) manage.py ensure_admin
	@echo "Dashboard:   http://127.0.0.1:$(WEB_PORT)/"
	@echo "API root:    http://127.0.0.1:$(WEB_PORT)/monitor/"
	@echo "Resources:   http://127.0.0.1:$(WEB_PORT)/monitor/resources/"
	@echo "App status:  http://127.0.0.1:$(WEB_PORT)/monitor/application/"
	@echo "Admin:       http://127.0.0.1:$(WEB_PORT)/admin/"
	$(PY) scripts/procfile.py Procfile

## make test: the whole suite (MySQL/Redis tests skip when those servers are absent).
test: install
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf var/ .pytest_cache
