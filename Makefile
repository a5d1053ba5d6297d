# The study's two jobs (README): `make book` (main job) and `make test`.
PY      := .venv/bin/python
JB      := .venv/bin/jupyter-book
PROFILE ?= default

.PHONY: setup book html run test lint format bench clean zoo smoke-times student

setup:
	@scripts/setup.sh

## execute every chapter of _toc.yml with $(PROFILE) into book/, then build the HTML book into _build/html
book: setup
	$(PY) -m pbe_utils.run --profile $(PROFILE)
	$(MAKE) html

## build the HTML from the executed notebooks already in book/ (warnings fail the build)
html:
	$(JB) build . -W -n --keep-going

## retrain the shipped model zoo by its recipes into zoo/ (hours on 2 CPU cores; DEVICE=cuda for a GPU)
DEVICE ?= cpu
zoo: setup
	$(PY) -m pbe_utils.zoo train --device $(DEVICE)
	$(PY) -m pbe_utils.zoo verify

## every chapter on the smoke profile (into its own run folder), timing recorded for the instructors' page
smoke-times: setup
	$(PY) -m pbe_utils.run --profile smoke --quiet --ship --times-to book/_smoke_run_time.md

## a student's CPU-only install: Binder's run-time dependencies (PyTorch CPU wheels), no book, test or browser tools
student:
	python3 -m venv .venv-student
	.venv-student/bin/python -m pip install -q -r binder/requirements.txt
	.venv-student/bin/python -m pip install -q --no-deps -e .

## run one chapter: make run NB=notebooks/01_lrp_epsilon_vs_zplus.py PROFILE=smoke
run: setup
	$(PY) -m pbe_utils.run $(NB) --profile $(PROFILE)

## the whole test suite (lint and types included); installs Debian's chromium for the browser test when root
test:
	@PBE_BROWSER=1 scripts/setup.sh
	$(MAKE) lint
	$(PY) -m pytest -q -ra

lint:
	.venv/bin/ruff check pbe_utils tests notebooks benchmarks scripts
	.venv/bin/ruff format --check pbe_utils tests benchmarks
	.venv/bin/mypy
	.venv/bin/lint-imports

format:
	.venv/bin/ruff check --fix pbe_utils tests notebooks benchmarks scripts
	.venv/bin/ruff format pbe_utils tests benchmarks

bench: setup
	$(PY) benchmarks/bench_engine.py

clean:
	rm -rf _build .cache results
