# Two entry points that work on a fresh machine with only Python 3.11+:
#   make demo   - venv, install, import the example plan, one reminder pass at a simulated date
#   make test   - venv, install with test extras, run the test suite on every core (pytest-xdist)
# and for development:
#   make test-fast - the suite without the tests marked slow (processes, PostgreSQL, browser), on
#                    one worker more than cores (pytest-xdist, a file per worker at a time): ~50 s
#                    on 2 idle cores
#   make lint      - ruff and mypy with the settings in pyproject.toml
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO   := --config examples/demo.toml
# test-fast's workers: a worker waits for its servers (start, stop, timeouts) about a quarter of
# its time, so one more worker than cores keeps them busy (2 idle cores: -n 3 took 50-52 s,
# -n 2 took 56-66 s, -n 4 61 s).
FAST_JOBS ?= $(shell echo $$(( $$(nproc 2>/dev/null || echo 1) + 1 )))

.PHONY: demo ledger test test-fast lint install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test,postgres]"
	touch $@

install: $(VENV)/.installed

$(VENV)/.lint-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[lint]"
	touch $@

demo: install
	rm -rf var/demo
	$(BIN)/notifier $(DEMO) check-config
	$(BIN)/notifier $(DEMO) import tests/fixtures/panjin-2018.csv --year 2018 --plan "盘锦市推进沿海经济带建设2018年工作实施方案" --active
	$(BIN)/notifier $(DEMO) send-due --now "2018-06-20 09:00"
	@echo; echo "== messages written to var/demo/outbox:"; ls -1 var/demo/outbox/*/
	@echo; echo "== one of them, as the department reads it:"
	@$(BIN)/notifier $(DEMO) preview --department 市港口与口岸局 --now "2018-06-20 09:00"
	@echo; $(BIN)/notifier $(DEMO) send-due --now "2018-06-20 09:00" | tail -1
	@echo "(the second pass at the same time sent nothing: each reminder goes out once)"

# The office ledger on the demo's data, as on the demo's date: log in as demo / demo-password.
ledger: install
	@test -f var/demo/notifier.db || $(MAKE) demo
	@$(BIN)/notifier $(DEMO) user list | grep -q '^demo ' || \
		$(BIN)/notifier $(DEMO) user add demo --role office --password-file examples/demo-password.txt
	@echo "open http://127.0.0.1:8080/office/ and log in as demo / $$(cat examples/demo-password.txt) (Ctrl-C stops)"
	$(BIN)/notifier $(DEMO) serve --now "2018-06-20 09:00"

test: install
	$(BIN)/python -m pytest -q -n auto --dist loadfile

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow" -n $(FAST_JOBS) --dist loadfile

# Both run even when the first finds something; the target fails if either did.
lint: $(VENV)/.lint-installed
	@status=0; \
	$(BIN)/ruff check . || status=1; \
	$(BIN)/mypy || status=1; \
	exit $$status

clean:
	rm -rf $(VENV) var build *.egg-info
