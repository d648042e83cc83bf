# Two commands for a new machine: `make demo` (install, generate sample data, serve on
# http://127.0.0.1:8080) and `make test` (install, run the test suite).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install samples demo test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

samples: install
	$(PY) -m samples.generate
	$(VENV)/bin/ogcserver catalog add orthophotos samples/data/ortho -c samples/ogcserver.yaml
	$(VENV)/bin/ogcserver catalog overviews orthophotos -c samples/ogcserver.yaml

demo: samples
	$(VENV)/bin/ogcserver serve -c samples/ogcserver.yaml

test: install
	$(PY) -m pytest -q

bench: samples
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) .ogcserver samples/data
