# prodlike: the README's two commands are `make demo` and `make test`; each bootstraps .venv itself.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)

.PHONY: demo test ui lint bench clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "prodlike needs Python 3.11+"'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

demo: $(STAMP)    ## embedded production + staging, seeded demo shop, one refresh through Dagster
	$(BIN)/prodlike demo $(ARGS)

test: $(STAMP)    ## the whole suite against embedded PostgreSQL servers (2 xdist workers, own servers each)
	$(BIN)/python -m pytest -n 2 $(ARGS)

ui: $(STAMP)      ## the Dagster UI (http://127.0.0.1:3000) of $$PRODLIKE_CONFIG, else ./prodlike.yaml, else the demo's
	$(BIN)/python -m prodlike.pipelines.orchestration.ui -h 127.0.0.1 -p 3000

lint: $(STAMP)
	$(BIN)/ruff check pipelines anonymizers validators tests benchmarks

bench: $(STAMP)   ## copy throughput against raw COPY and pg_dump | pg_restore (ARGS=--rows 10000000)
	$(BIN)/python benchmarks/copy_throughput.py $(ARGS)

clean:            ## stop the embedded servers and delete the state folder
	-$(BIN)/python -c 'from pathlib import Path; from prodlike.pipelines.demo.embedded import stop_all; stop_all(Path(".prodlike"))'
	rm -rf .prodlike
