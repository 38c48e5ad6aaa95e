# Two commands for users: `make run` and `make test`. Everything else is set up from here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
DATA ?= ../shared/data
# CORPUS=path: index and serve that folder of articles instead of corpus/ (DATA= is only for eval and bench).
# An index holds one folder's articles: SWITCH_CORPUS=1 lets a folder replace another's (qa-service index --help).
CORPUS ?=
CORPUS_FLAG = $(if $(CORPUS),--corpus '$(CORPUS)')

.PHONY: venv run index test lint browser bench eval fit clean

$(STAMP): pyproject.toml
	@echo "Installing qa_service and its dependencies into $(VENV) (once; a few minutes, quietly)..."
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# The CPU build of torch that this machine holds; installed first so nothing pulls a CUDA build.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[test,ray]'
	touch $(STAMP)

venv: $(STAMP)

index: $(STAMP)
	$(BIN)/qa-service index $(CORPUS_FLAG) $(if $(SWITCH_CORPUS),--switch-corpus)

# serve says in one line why it could not start (a port in use names PORT=); make's "*** Error" would add nothing
run: index
	@$(BIN)/qa-service serve --host $(HOST) --port $(PORT) $(CORPUS_FLAG) || true

# Debian's Chromium, and axe-core (npm, pinned by tests/serving/browser/axe/package-lock.json) for the accessibility tests
AXE := tests/serving/browser/axe/node_modules/axe-core/axe.min.js

browser: $(AXE)
	@command -v chromium >/dev/null || sh scripts/install-browser.sh

$(AXE): tests/serving/browser/axe/package.json tests/serving/browser/axe/package-lock.json
	cd tests/serving/browser/axe && npm ci --no-audit --no-fund --loglevel=error
	touch $(AXE)

test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest

# ruff, mypy on qa_service, benchmarks and tests, and import-linter's contracts: the package's stages are layers
# (files and settings in pyproject.toml)
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Two tables, a row per retrieval mode. squad-dev: its questions on its articles (recall, answers, answered) and
# on the editorials, which do not answer them (declined). Editorials: the reader questions of
# editorial-questions/ on the 266 editorials + the seed (recall, answer sentence right, unanswerable declined)
# and the overview of each dev topic of editorial-topics/ (recall@10, precision, position and key-sentence hits).
# Then the two conversation folds of editorial-conversations/ (per turn type: answer right, or an alternative,
# top passage right, gold in 5 passages, answered), each with a follow-up scorer fitted on the other fold.
# Indexes are built once under EVAL_INDEX and reused.
EVAL_INDEX ?= /tmp/qa-service-eval
EDITORIALS := $(EVAL_INDEX)/editorials-and-seed
EDITORIALS_INDEX := $(EVAL_INDEX)/editorials-and-seed-index
FOLD_1 := $(DATA)/editorial-conversations/conversations.jsonl
FOLD_2 := $(DATA)/editorial-conversations/conversations-2.jsonl
eval: $(STAMP)
	$(BIN)/qa-service eval --corpus $(DATA)/squad-dev/corpus --questions $(DATA)/squad-dev/questions.jsonl \
		--index $(EVAL_INDEX)/squad-dev --foreign-corpus $(DATA)/editorials --foreign-index $(EVAL_INDEX)/editorials \
		--mode dense --mode lexical --mode hybrid
	mkdir -p $(EDITORIALS)
	cp $(DATA)/editorials/*.txt corpus/* $(EDITORIALS)/
	$(BIN)/qa-service eval --corpus $(EDITORIALS) --index $(EDITORIALS_INDEX) \
		--questions $(DATA)/editorial-questions/questions.jsonl --mode dense --mode lexical --mode hybrid \
		--topics $(DATA)/editorial-topics/topics.jsonl --leave-one-topic-out
	@echo "Conversations, two folds: each scored with a follow-up scorer fitted on the other (qa-service fit)."
	$(BIN)/qa-service fit --corpus $(EDITORIALS) --index $(EDITORIALS_INDEX) --conversations $(FOLD_1) \
		--out $(EVAL_INDEX)/fitted-on-fold-1 --quiet
	$(BIN)/qa-service fit --corpus $(EDITORIALS) --index $(EDITORIALS_INDEX) --conversations $(FOLD_2) \
		--out $(EVAL_INDEX)/fitted-on-fold-2 --quiet
	$(BIN)/qa-service eval --corpus $(EDITORIALS) --index $(EDITORIALS_INDEX) --quiet \
		--conversations $(FOLD_1) --fitted $(EVAL_INDEX)/fitted-on-fold-2
	$(BIN)/qa-service eval --corpus $(EDITORIALS) --index $(EDITORIALS_INDEX) --quiet \
		--conversations $(FOLD_2) --fitted $(EVAL_INDEX)/fitted-on-fold-1

# The scorers the service ships (qa_service/reading/scorers/): the follow-up one fitted on both conversation folds, the
# position one on the dev topics (~4 min). Run it after a change to their features (sentence_features.py,
# position_features.py, voice.py, entities.py) or to how they are fitted (evaluation/fit_follow_ups.py, fit_positions.py).
fit: $(STAMP)
	mkdir -p $(EDITORIALS)
	cp $(DATA)/editorials/*.txt corpus/* $(EDITORIALS)/
	$(BIN)/qa-service fit --corpus $(EDITORIALS) --index $(EDITORIALS_INDEX) --conversations $(FOLD_1) \
		--conversations $(FOLD_2) --topics $(DATA)/editorial-topics/topics.jsonl --out qa_service/reading/scorers

# Speed on this machine (~15 min): encoders, a user's whole build against a bare PyTorch encode, one added article,
# /api/ask under gunicorn (keep-alive and connection-per-request clients, wrk load, the first questions after a
# start), FAISS flat vs HNSW; then the Scale section (~25 min): the Ray build, search and BM25 at 10^6 passages.
# Writes BENCHMARKS.md. Installs Debian's wrk for the load (else a Python client, a lower bound).
bench: $(STAMP)
	@command -v wrk >/dev/null || sh scripts/install-wrk.sh || echo "no wrk: the load comes from a Python client"
	$(BIN)/python -m benchmarks.run --data $(DATA) --out BENCHMARKS.md --scale

clean:
	rm -rf $(VENV) embeddings/gen-* embeddings/CURRENT embeddings/models tests/serving/browser/axe/node_modules
