.PHONY: install test lint bench
install:
	pip install torch==2.13.0 && pip install -e ".[test]"
test:
	python -m pytest -q
lint:
	ruff check worldsim envs tests benchmarks && ruff format --check worldsim envs tests benchmarks
bench:
	python benchmarks/reference_render.py
