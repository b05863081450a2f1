# The two commands a newcomer types: `make demo` and `make test`. Both create .venv if it is
# missing and install the project into it (again whenever pyproject.toml changes).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lab lint images clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/initkit demo

test: $(STAMP)
	$(BIN)/python -m pytest

# JupyterLab on the student notebooks, from the kit's own environment (LAB_ARGS=--no-browser ...);
# Jupyter refuses to start as root unless told, so root gets --allow-root
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)
lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=exercises $(ROOT_FLAG) $(LAB_ARGS)

images: $(STAMP)
	$(BIN)/python -m initkit.viz.gallery docs/images

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
