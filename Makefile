# The two commands of the README: `make demo` (main job end to end) and `make test` (whole test suite).
# Both create the virtualenv and install everything first; only Python 3.11 and make are assumed.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test install bench clean

$(BIN)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "mignet needs Python 3.11, got " + sys.version'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c requirements.lock -e '.[dev]'
	touch $@

install: $(BIN)/.installed

demo: $(BIN)/.installed
	$(BIN)/mignet run

test: $(BIN)/.installed
	bash scripts/ensure_chromium.sh
	$(BIN)/python -m pytest

# speed and memory figures (printed, never asserted): the whole pipeline at Belgian scale, stage by stage
bench: $(BIN)/.installed
	$(BIN)/python bench/bench_pipeline.py 1.0

clean:
	rm -rf data reports target logs gx
