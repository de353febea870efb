# The two commands of the README:
#   make practice   set up, then start a practice session on the default scaffold (JupyterLab)
#   make test       set up, then run the whole test suite
#   make check      validate every scaffold of the library (pitfalls check --all)
VENV ?= .venv
SCAFFOLD ?= tumor_triage
WORKSPACE ?= workspace
PYTEST_ARGS ?=

.PHONY: setup docker browser practice test check clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml scripts/setup.sh
	VENV=$(VENV) bash scripts/setup.sh
	touch $@

practice: setup
	$(VENV)/bin/pitfalls practice $(SCAFFOLD) --dir $(WORKSPACE)

# A real Docker engine and the candidate image's base (Debian's docker.io, a debootstrap image).
# As root it must succeed; without root and without an engine, the docker tests are skipped.
docker:
	@if [ "$$(id -u)" = 0 ]; then bash scripts/docker.sh; \
	else bash scripts/docker.sh || echo "make: no Docker engine; the docker tests will be skipped (sudo bash scripts/docker.sh once)"; fi

# Debian's chromium for the end-to-end browser test (Playwright drives it; it never downloads one).
browser:
	bash scripts/browser.sh

test: setup docker browser
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

check: setup
	$(VENV)/bin/pitfalls check --all

clean:
	rm -rf $(VENV) .pytest_cache
