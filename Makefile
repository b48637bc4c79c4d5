# make run   : create .venv, install, open the app
# make test  : same set-up, then the whole test suite (headless Qt)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test eval bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,eval,patchmatch,cluster]'
	touch $(STAMP)

run: $(STAMP)
	@$(PY) -m inpaint_gui.syslibs || exit 2   # Qt's X11 libraries: prints the apt-get line when any is missing
	$(PY) main.py

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest -q

eval: $(STAMP)
	$(PY) main.py eval --builtin --bins 10-20,20-30,30-40,40-50 --seed 0

clean:
	rm -rf $(VENV) build *.egg-info
