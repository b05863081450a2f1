# The two commands a newcomer types: `make demo` and `make test`. Both create .venv if it is
# missing and install the project into it (again whenever pyproject.toml changes).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lab lint images clean mutation

# set-up is quiet (pip's and setuptools' notices go to $(VENV)/install.log, shown on failure)
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing initkit into $(VENV) (log: $(VENV)/install.log)"
	@{ $(BIN)/python -m pip install --upgrade pip && \
	   $(BIN)/python -m pip install -e ".[all,test]"; } > $(VENV)/install.log 2>&1 \
	   || { tail -n 40 $(VENV)/install.log; exit 1; }
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/initkit demo

# one pytest process per core (pytest-xdist): each test module on one process, its fixtures built
# once (the suite is CPU-bound: two processes per core took as long, 810 s against 816 s); one
# BLAS thread per process, as the cores are already taken (OpenBLAS's threads spin waiting for a
# busy core: 461 s against 508 s for the suite minus the honest corpus and the browser); the
# 25 slowest tests (fixtures included) listed at the end
test: $(STAMP)
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \
	$(BIN)/python -m pytest -n auto --dist loadfile --durations=25

# JupyterLab on the student notebooks, from the kit's own environment (LAB_ARGS=--no-browser ...);
# Jupyter refuses to start as root unless told, so root gets --allow-root
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)
lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=exercises $(ROOT_FLAG) $(LAB_ARGS)

# Mutation testing with mutmut ([tool.mutmut] in pyproject.toml), e.g.
# `make mutation MODULES="fans gain"` or `make mutation MODULES=grading.gradebook`. Each module
# brings its own fast in-process tests (MUTATION_TESTS_<module>; the rest of the selection is
# ignored), and mutmut runs every mutant against only those of them that call the mutated
# function: MUTATION_JOBS workers, one BLAS thread each. The survivors are listed at the end
# (`mutmut show NAME` prints one's diff).
MUTATION_MODULES := fans gain builtin_initializers nn theory simulation sweep grading.report \
	grading.gradebook grading.protocol course.checks
MODULES ?= $(MUTATION_MODULES)
MUTATION_JOBS ?= 2
MUTATION_CORE_TESTS := tests/test_initializers.py tests/test_activations_gain.py \
	tests/test_registry.py tests/test_mutation_core.py
MUTATION_TESTS_fans := $(MUTATION_CORE_TESTS)
MUTATION_TESTS_gain := $(MUTATION_CORE_TESTS)
MUTATION_TESTS_builtin_initializers := $(MUTATION_CORE_TESTS)
MUTATION_TESTS_nn := tests/test_nn.py
MUTATION_TESTS_theory := tests/test_theory.py tests/test_theory_accuracy.py \
	tests/test_theory_degenerate.py tests/test_theory_network.py tests/test_theory_maps.py
MUTATION_TESTS_simulation := tests/test_simulate.py
MUTATION_TESTS_sweep := tests/test_sweep.py
MUTATION_TESTS_grading.report := tests/test_grading_report.py
MUTATION_TESTS_grading.gradebook := tests/test_grading_gradebook.py
MUTATION_TESTS_grading.protocol := tests/test_grading_protocol.py
MUTATION_TESTS_course.checks := tests/test_course_checks.py
MUTATION_ALL_TESTS := $(sort $(foreach m,$(MUTATION_MODULES),$(MUTATION_TESTS_$(m))))
MUTATION_SELECTED := $(sort $(foreach m,$(MODULES),$(MUTATION_TESTS_$(m))))

mutation: $(STAMP)
	test -x $(BIN)/mutmut || $(BIN)/python -m pip install --quiet "mutmut>=3.3"
	rm -f mutants/mutmut-stats.json  # the test selection depends on MODULES
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \
	PYTEST_ADDOPTS="$(foreach t,$(filter-out $(MUTATION_SELECTED),$(MUTATION_ALL_TESTS)),--ignore=$(t))" \
	$(BIN)/mutmut run --max-children $(MUTATION_JOBS) $(foreach m,$(MODULES),"initkit.$(m).*")
	$(BIN)/mutmut results

images: $(STAMP)
	$(BIN)/python -m initkit.viz.gallery docs/images

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
