# ChatBox: `make run` starts the server on the embedded database; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# `make fuzz`: the OpenAPI-driven fuzz run with many more examples per operation than CI's.
FUZZ_EXAMPLES ?= 500

.PHONY: install run serve test system-packages lint fuzz bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm install --no-audit --no-fund --silent && touch $@; \
	else echo "npm not found: the JavaScript tests need Node.js (the server and its web client do not)"; fi

install: $(VENV)/.installed
	@if command -v npm >/dev/null 2>&1; then $(MAKE) -s --no-print-directory node_modules/.installed; fi

# HOST and PORT come from the environment or .env (default 127.0.0.1:3000). Ctrl-C stops it cleanly.
run: install
	@$(BIN)/python wsgi.py

serve: install
	$(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

# redis-server, nginx, chromium, Node.js: installed when root with apt-get, else the command to run is printed.
system-packages:
	@PYTHON=$(PYTHON) tools/system-packages

# pytest in TEST_WORKERS processes that share the suite out file by file, heaviest first: most tests
# wait on servers, sockets and browsers, so more processes than cores keep the cores busy
# (tests/support/parallel.py; docs/testing.md). Each worker's output is printed in turn; any failure,
# or any test that ran nowhere, fails the target. Other pytest arguments: `make test PYTEST_ARGS=...`.
TEST_WORKERS ?= 4
test: system-packages
	@$(MAKE) --no-print-directory install
	$(BIN)/ruff check .
	node --test tests/webclient/
	$(BIN)/python -m tests.support.parallel --workers $(TEST_WORKERS) $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .

fuzz: install
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -q tests/test_contract_fuzz.py

bench: install
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) node_modules
