# bayes_scaling: `make report` fits every analysis in models/ and writes reports/; `make test` runs the fast lane
# (ruff, the import layers, unit tests and small fits); `make test-all` adds the slow lane (full fits on the published
# runs, report builds, browser and multi-process tests).
# Both create .venv (Python >= 3.12) and install the project with its test dependencies when needed.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTHON_FOR_VENV ?= $(shell for p in python3.12 python3.13 python3.14 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null \
	&& { echo $$p; break; }; done)

.PHONY: report test test-slow test-all lint benchmark clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON_FOR_VENV)" || { echo "error: no Python >= 3.12 found (pyenv: 'pyenv install 3.12')" >&2; exit 1; }
	@test -x $(PY) || $(PYTHON_FOR_VENV) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	@# byte-compiled once here: where PYTHONDONTWRITEBYTECODE is set, every process would compile the package again
	$(PY) -m compileall -q bayes_scaling
	@touch $(STAMP)

report: $(STAMP)
	$(VENV)/bin/bayes-scaling report models --out reports

lint: $(STAMP)
	$(VENV)/bin/ruff check bayes_scaling tests benchmarks scripts
	$(VENV)/bin/lint-imports --no-cache

test: lint
	$(PY) -m pytest -m "not slow" --durations=10

test-slow: $(STAMP)
	$(PY) -m pytest -m slow --durations=10

test-all: test test-slow

benchmark: $(STAMP)
	$(PY) benchmarks/bench_fit_stages.py
	$(PY) benchmarks/bench_backends.py
	$(PY) benchmarks/bench_refits.py
	$(PY) benchmarks/bench_gp_marginal.py
	$(PY) benchmarks/bench_data_logs.py
	$(PY) benchmarks/bench_rewrite_cache.py
	$(PY) benchmarks/bench_chinchilla_geometry.py
	$(PY) benchmarks/bench_report_rerun.py
	$(PY) benchmarks/bench_calibrate.py
	$(PY) benchmarks/bench_bootstrap.py
	$(PY) benchmarks/bench_sbc_priors.py
	$(PY) benchmarks/bench_suggest.py

clean:
	rm -rf $(VENV) reports .pytest_cache .ruff_cache
