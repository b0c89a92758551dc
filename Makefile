# GPT Kata. Every target works on a fresh clone: a missing .venv is created first.
#
#   make test                  your katas (exercises/); KATA=<name> for one kata
#   make test IMPL=solutions   the reference solutions; CHAIN=mine builds later katas on yours
#   make test IMPL=<folder>    any implementation: a folder of kata modules (e.g. tokenizer.py)
#   make progress              where you are and the one next step
#   make watch [POLL=1]        rerun the current kata whenever you save (POLL=1: poll for saves)
#   make show KATA=<name>      a kata's instructions (without KATA: the current kata)
#   make hint KATA=<name>      the next hint for a kata (AGAIN=1: reread them, RESTART=1: hide them)
#   make reset KATA=<name>     back to the pristine stub (your version is backed up first)
#   make data [SOURCE=path]    install the tiny Shakespeare corpus (download or local copy)
#   make train [PRESET=cpu] [ARGS="..."]   train the reference GPT (ARGS="--help": every flag;
#                              "--resume" continues runs/<preset>/, "--overwrite" starts over
#                              there after moving the earlier run into previous-<n>/)
#   make train MINE=1 [MODEL=fused|modern] [ARGS="..."]   train your own GPT into runs/mine/
#   make sample [MINE=1] [ARGS="..."]   sample text from a trained checkpoint (MINE=1: yours)
#   make bench                 speed benchmarks, printed side by side
#   make bench-nanogpt         make train's cpu preset against nanoGPT's CPU recipe, side by side
#   make speed                 how long the tests take, against python -c 'import torch'
#   make mutants [KATA=<name>] [JOBS=n]   mutation testing: wrong solutions the tests must catch
#   make grade SUBMISSIONS=<dir> [OUT=grades/] [JOBS=n] [TIMEOUT=cpu s] [SOLUTIONS=kata,kata]
#              [ROSTER=roster.csv] [CHAIN=reference] [ISOLATION=none]
#                              grade a class in sandboxes: one subfolder per student
#   make release OUT=<dir> [SOLUTIONS=kata,kata]   a student edition, without solutions/
#   make new-kata NAME=<name> TITLE="..."          start a new kata (every file it needs)
#   make check                 what CI runs: the suite against the solutions, the stub and
#                              mirror checks, the linter

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
IMPL   ?= $(or $(GPTKATA_IMPL),exercises)
CHAIN  ?= reference
KATA   ?=
SOURCE ?=
PRESET ?= cpu
ARGS   ?=
MINE   ?=
MODEL  ?= gpt

.PHONY: install corpus data test check lint progress watch show hint reset train sample bench \
	bench-nanogpt speed mutants grade release new-kata

# The interpreter must be 3.11+ (one line if not); a .venv left by a failed install with
# a missing, broken or too old interpreter is removed and made again.
$(VENV)/.installed: pyproject.toml
	@$(PYTHON) gptkata/install.py python
	@echo "Installing the pinned dependencies into .venv/ (a minute or two the first time)..."
	@if $(PYTHON) gptkata/install.py venv $(VENV); then rm -rf $(VENV); fi
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > $(VENV)/requirements.txt
	@$(PY) -m pip install --quiet --disable-pip-version-check -r $(VENV)/requirements.txt
	@touch $@

install: $(VENV)/.installed

data: $(VENV)/.installed
	@$(PY) -m gptkata.data $(if $(SOURCE),--source "$(SOURCE)")

# the corpus, downloaded when it is missing (offline: one line that says make data SOURCE=...)
corpus: $(VENV)/.installed
	@$(PY) -m gptkata.data --ensure

test: $(VENV)/.installed corpus
	@$(PY) -m gptkata test --impl $(IMPL) --chain $(CHAIN) $(if $(KATA),--kata "$(KATA)")

progress: $(VENV)/.installed corpus
	@$(PY) -m gptkata progress --chain $(CHAIN)

watch: $(VENV)/.installed corpus
	@$(PY) -m gptkata watch --chain $(CHAIN) $(if $(KATA),--kata "$(KATA)") $(if $(POLL),--poll)

show: $(VENV)/.installed
	@$(PY) -m gptkata show $(if $(KATA),--kata "$(KATA)")

hint: $(VENV)/.installed
	@$(PY) -m gptkata hint $(if $(KATA),--kata "$(KATA)") $(if $(AGAIN),--again) $(if $(RESTART),--restart)

reset: $(VENV)/.installed
	@$(PY) -m gptkata reset $(if $(KATA),--kata "$(KATA)")

# the lab's commands need the corpus too, unless ARGS names another folder (--data-dir)
NEEDS_CORPUS = $(if $(findstring --data-dir,$(ARGS)),,corpus)

# MINE=1: your own model (MODEL=gpt, fused or modern); a PRESET= given with it is refused
WHAT = $(if $(MINE),--mine $(MODEL) $(if $(filter-out file,$(origin PRESET)),--preset $(PRESET)),--preset $(PRESET))

train: $(VENV)/.installed $(NEEDS_CORPUS)
	@$(PY) -m gptkata.lab.train $(WHAT) $(ARGS)

sample: $(VENV)/.installed
	@$(PY) -m gptkata.lab.sample $(if $(MINE),--mine) $(ARGS)

bench: $(VENV)/.installed $(NEEDS_CORPUS)
	@$(PY) -m benchmarks.bench $(ARGS)

bench-nanogpt: $(VENV)/.installed $(NEEDS_CORPUS)
	@$(PY) -m benchmarks.bench_nanogpt $(ARGS)

speed: $(VENV)/.installed
	@$(PY) -m gptkata.kata.speed

# a maintainer's command, not CI's: installs pyproject's `mutants` extra (mutmut) on first use
mutants: $(VENV)/.installed corpus
	@$(PY) -m gptkata.kata.mutants $(if $(KATA),--kata "$(KATA)") $(if $(JOBS),--jobs $(JOBS))

grade: $(VENV)/.installed corpus
	@$(PY) -m gptkata grade --submissions "$(SUBMISSIONS)" $(if $(OUT),--out "$(OUT)") \
		$(if $(JOBS),--jobs $(JOBS)) $(if $(TIMEOUT),--timeout $(TIMEOUT)) \
		$(if $(filter command line,$(origin CHAIN)),--chain $(CHAIN)) \
		$(if $(SOLUTIONS),--solutions "$(SOLUTIONS)") $(if $(ROSTER),--roster "$(ROSTER)") \
		$(if $(ISOLATION),--isolation $(ISOLATION))

release: $(VENV)/.installed
	@$(PY) -m gptkata release --out "$(OUT)" $(if $(SOLUTIONS),--solutions "$(SOLUTIONS)")

new-kata: $(VENV)/.installed
	@$(PY) -m gptkata new-kata --name "$(NAME)" --title "$(TITLE)"

lint: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

check: $(VENV)/.installed corpus lint
	GPTKATA_IMPL=solutions HYPOTHESIS_PROFILE=thorough $(PY) -m pytest tests solutions --doctest-modules
	$(PY) -m gptkata.kata.checks
