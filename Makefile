# Two commands for users: `make run` and `make test`. Everything else is set up from here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
DATA ?= ../shared/data

.PHONY: run index test lint browser bench eval clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# The CPU build of torch that this machine holds; installed first so nothing pulls a CUDA build.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

index: $(STAMP)
	$(BIN)/qa-service index

run: index
	$(BIN)/qa-service serve --host $(HOST) --port $(PORT)

browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || sh scripts/install-browser.sh

test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .

eval: $(STAMP)
	$(BIN)/qa-service eval-table --corpus $(DATA)/squad-dev/corpus --questions $(DATA)/squad-dev/questions.jsonl

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run --data $(DATA) --out BENCHMARKS.md

clean:
	rm -rf $(VENV) embeddings/gen-* embeddings/CURRENT embeddings/models
