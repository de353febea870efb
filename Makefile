# The two commands of the README:
#   make practice   set up, then start a practice session on the default scaffold (JupyterLab)
#   make test       set up, then run the whole test suite
#   make check      validate every scaffold of the library (pitfalls check --all)
VENV ?= .venv
SCAFFOLD ?= tumor_triage
WORKSPACE ?= workspace
PYTEST_ARGS ?=

.PHONY: setup practice test check clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml scripts/setup.sh
	VENV=$(VENV) bash scripts/setup.sh
	touch $@

practice: setup
	$(VENV)/bin/pitfalls practice $(SCAFFOLD) --dir $(WORKSPACE)

test: setup
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

check: setup
	$(VENV)/bin/pitfalls check --all

clean:
	rm -rf $(VENV) .pytest_cache
