# Two commands on a fresh machine: `make dev` runs the service, `make test` runs the tests.
# Both set up what they need first (scripts/bootstrap).
.PHONY: setup dev test test-slow lint format typecheck bench clean

PYTEST_FLAGS ?=

setup:
	@scripts/bootstrap

dev: setup
	.venv/bin/cruddur dev

test: setup lint typecheck
	.venv/bin/pytest -m "not slow" $(PYTEST_FLAGS)

# Long suites carry the `slow` marker; none is slow enough yet (pytest exits 5 when none is found).
test-slow: setup
	.venv/bin/pytest -m slow $(PYTEST_FLAGS) || [ $$? -eq 5 ]

lint: setup
	.venv/bin/ruff check src tests bench
	.venv/bin/ruff format --check src tests bench

format: setup
	.venv/bin/ruff format src tests bench
	.venv/bin/ruff check --fix src tests bench

typecheck: setup
	.venv/bin/mypy

bench: setup
	@for script in bench/*.py; do echo "== $$script"; .venv/bin/python $$script; done

clean:
	-.venv/bin/cruddur ddb local stop
	-.venv/bin/cruddur db local stop
	rm -rf .data dist build
