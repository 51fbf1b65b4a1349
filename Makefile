# The two commands a newcomer needs: `make demo` and `make test`.
# Each creates .venv in the project root if missing and installs the project (pinned by constraints.txt).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SEED_QUESTION := How can I model a material properties like magnetic resistivity and electronic bands that depend on material atomic structure as well as higher-level mesoscopic configuration like phase domains and its walls in a unified holistic way. Such computational model should be able to generalize descriptions between different scales and help to reason about exhibited properties.

.PHONY: install demo test test-fast lint format app browser bench train clean-cache

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "pip==26.3"
	CMAKE_BUILD_PARALLEL_LEVEL=2 $(PY) -m pip install -q -c constraints.txt -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

# Debian's Chromium + ChromeDriver for the browser test of the app (Playwright's download does not work offline).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver)

demo: $(STAMP)
	$(VENV)/bin/hypofinder ask "$(SEED_QUESTION)" --contexts 3

# Everything: lint, then every test (real local LLM, real servers, training, headless Chromium); <= 20 min on 2 cores.
test: $(STAMP) browser lint
	$(PY) -m pytest

# The quick loop while working: no LLM decoding, no browser, no training (<= 2 min).
test-fast: $(STAMP) lint
	$(PY) -m pytest -m "not slow and not browser" -q

lint: $(STAMP)
	$(VENV)/bin/ruff check hypofinder tests benchmarks app.py
	$(VENV)/bin/ruff format --check hypofinder tests benchmarks app.py

format: $(STAMP)
	$(VENV)/bin/ruff check --fix hypofinder tests benchmarks app.py
	$(VENV)/bin/ruff format hypofinder tests benchmarks app.py

app: $(STAMP)
	$(VENV)/bin/streamlit run app.py

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

train: $(STAMP)
	$(VENV)/bin/hypofinder defects train

clean-cache:
	rm -rf .cache
