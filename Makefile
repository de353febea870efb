# The two commands of the README:
#   make practice   set up, then start a practice session on the default scaffold (JupyterLab)
#   make test       set up, then lint and run the whole test suite (what CI runs: .ci/run)
#   make test-fast  the fast tests: parsers, counters, catalogs, checks' messages, store, CLI wiring
#                   (at most 2 minutes on 2 cores; nothing trains, no sandbox, no container)
#   make lint       ruff check (the rule set is in pyproject.toml)
#   make check      validate every scaffold of the library (pitfalls check --all)
VENV ?= .venv
SCAFFOLD ?= tumor_triage
WORKSPACE ?= workspace
PYTEST_ARGS ?=
# `make test` runs the suite on this many pytest-xdist workers, then the `serial` tests alone
# (scripts/test.sh, tests/parallel.py); 0 runs everything in one process, as before the split.
PYTEST_WORKERS ?= 2
LINTED = runner tests bench scripts datasets bugs scaffolds deploy
# tests/unit/ plus the fast suites outside it: the data quirks, the budget's rules, the fuzzers of
# the artifact and prediction parsers, the quota, the datasets, and the quick checks' messages.
# `--fast` (tests/conftest.py) fails any of them that trains, starts a sandbox, a container or a
# pitfalls process; a test named below that no longer exists makes pytest fail, not skip.
FAST_TESTS = tests/unit tests/test_quirks.py tests/test_budget_information.py tests/test_budget_torch.py \
	tests/test_public_score.py tests/test_quota.py tests/test_scaffolds.py \
	tests/test_fuzz_skops.py tests/test_fuzz_safetensors.py tests/test_fuzz_predictions.py \
	tests/test_check.py::test_each_quick_check_fails_alone_on_a_scaffold_broken_that_way \
	tests/test_check.py::test_template_passes_every_quick_check_and_new_scaffolds_all_but_their_own_text \
	tests/test_check.py::test_every_registered_check_is_tested_against_a_broken_scaffold
FAST_DESELECT = --deselect tests/test_scaffolds.py::test_template_scaffold_is_a_working_contract

.PHONY: setup docker browser hub practice lint test test-fast check clean

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

# JupyterHub's configurable-http-proxy (npm, pinned, into $(VENV)/hub-node) for the real-hub tests
# (`pytest -m hub`); jupyterhub and dockerspawner come with the venv (the `hub` extra). No node: they skip.
hub: setup
	VENV=$(VENV) bash scripts/hub.sh

lint: setup
	$(VENV)/bin/ruff check $(LINTED)

# --durations: CI's log then names the slowest tests, the first place to look when the suite nears 50 min
test: lint docker browser hub
	VENV=$(VENV) PYTEST_WORKERS=$(PYTEST_WORKERS) bash scripts/test.sh $(PYTEST_ARGS)

test-fast: setup
	$(VENV)/bin/python -m pytest --fast --timeout 120 -q $(FAST_TESTS) $(FAST_DESELECT) $(PYTEST_ARGS)

check: setup
	$(VENV)/bin/pitfalls check --all

clean:
	rm -rf $(VENV) .pytest_cache
