# ChatBox: `make run` starts the server on the embedded database; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 3000
# `make fuzz`: the OpenAPI-driven fuzz run with many more examples per operation than CI's.
FUZZ_EXAMPLES ?= 500

.PHONY: install run serve test lint fuzz bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json
	@if command -v npm >/dev/null 2>&1; then npm install --no-audit --no-fund --silent && touch $@; \
	else echo "npm not found: the web client and the JavaScript socket tests need Node.js"; fi

install: $(VENV)/.installed
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory node_modules/.installed; fi

run: install
	PORT=$(PORT) $(BIN)/python wsgi.py

serve: install
	PORT=$(PORT) $(BIN)/gunicorn -c gunicorn.conf.py --bind 127.0.0.1:$(PORT) wsgi:app

# Two pytest processes at once: the tests marked `slow` (their own servers and browsers, mostly
# waiting) beside the rest; the slow half's output follows the other's. Both must pass.
test: install
	$(BIN)/ruff check .
	@mkdir -p test-artifacts
	@$(BIN)/python -m pytest -q -m slow > test-artifacts/slow-tests.log 2>&1 & slow=$$!; \
	$(BIN)/python -m pytest -q -m "not slow"; rest=$$?; \
	wait $$slow; slow_status=$$?; cat test-artifacts/slow-tests.log; \
	[ $$rest -eq 0 ] && [ $$slow_status -eq 0 ]

lint: install
	$(BIN)/ruff check .

fuzz: install
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -q tests/test_contract_fuzz.py

bench: install
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) node_modules
