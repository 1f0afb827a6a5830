# prodlike: the README's two commands are `make demo` and `make test`; each bootstraps .venv itself.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)

.PHONY: demo test ui validate lint bench clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "prodlike needs Python 3.11+"'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@# setuptools always says "Editable installation ... careful with folders named like your package" for
	@# this layout (three folders mapped under prodlike.*); informational, so filtered here, by its message only
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

demo: $(STAMP)    ## embedded production + staging, seeded demo shop, one refresh through Dagster
	$(BIN)/prodlike demo $(ARGS)

test: $(STAMP)    ## the whole suite against embedded PostgreSQL servers (2 xdist workers, own servers each)
	$(BIN)/python -m pytest -n 2 $(ARGS)

ui: $(STAMP)      ## the Dagster UI (http://127.0.0.1:3000) of $$PRODLIKE_CONFIG, else ./prodlike.yaml, else the demo's
	$(BIN)/python -m prodlike.pipelines.orchestration.ui -h 127.0.0.1 -p 3000

validate: $(STAMP) ## build the Dagster definitions from the config alone (works while production is down)
	@# Dagster 1.13 marks this command superseded by `dg check defs` (the separate dagster-dg-cli, not installed)
	@# and warns on every call: filtered here, by its message only
	PYTHONWARNINGS='ignore:Function `definitions_validate_command` is superseded' \
	  $(BIN)/dagster definitions validate -m prodlike.pipelines.definitions

lint: $(STAMP)
	$(BIN)/ruff check pipelines anonymizers validators tests benchmarks

bench: $(STAMP)   ## copy throughput against raw COPY and pg_dump | pg_restore (ARGS=--rows 10000000)
	$(BIN)/python benchmarks/copy_throughput.py $(ARGS)

clean:            ## stop the embedded servers and delete the state folder
	-$(BIN)/python -c 'from pathlib import Path; from prodlike.pipelines.demo.embedded import stop_all; stop_all(Path(".prodlike"))'
	rm -rf .prodlike
