# saferplaces: `make demo` builds everything and serves the synthetic demo at
# http://$SAFERPLACES_ADDR (default 127.0.0.1:8080); `make test` runs every test.
SHELL := /bin/bash
.DEFAULT_GOAL := demo
CARGO ?= cargo
SAFERPLACES_ADDR ?= 127.0.0.1:8080
export SAFERPLACES_ADDR

.PHONY: demo build web web-deps test test-rust test-contract-lint contract-deps test-web deps-browser venv lint fmt clippy bench bench-build ci clean-demo

# The audit signing key and the witness are created beside, not inside, the data directory:
# ./data.audit-key (mode 0600, public key ./data.audit-key.pub) and ./data.audit-witness/.
demo: build web
	./target/release/saferplaces demo

build:
	$(CARGO) build --release --locked

web-deps:
	cd web && npm ci --no-audit --no-fund

web: web-deps
	cd web && npm run build

# Every test: Rust unit, integration (real binary on port 0, schemathesis among them), the
# OpenAPI lint, then the headless-Chromium map test.
test: test-rust test-contract-lint test-web

test-rust: venv
	SAFERPLACES_PYTHON=$(CURDIR)/.venv/bin/python $(CARGO) test --locked

# Reference implementations the tests compare against (maps.md §7, analytics.md §10), and
# schemathesis for the API contract test (tests/api/contract.rs), pinned.
PY_REQUIREMENTS := $(wildcard tests/reference/requirements.txt tests/reference/*/requirements.txt tests/contract/requirements.txt)
venv: .venv/.installed
.venv/.installed: $(PY_REQUIREMENTS)
	python3 -m venv .venv
	.venv/bin/pip install --quiet --disable-pip-version-check $(addprefix -r ,$(PY_REQUIREMENTS))
	touch $@

# Redocly CLI (pinned in tests/contract/package-lock.json) lints the document that
# `saferplaces openapi` writes, the same one the server serves: 0 errors, or the target fails.
contract-deps:
	cd tests/contract && npm ci --no-audit --no-fund

test-contract-lint: contract-deps
	$(CARGO) build --locked
	./target/debug/saferplaces openapi > tests/contract/openapi.json
	cd tests/contract && npm run --silent lint

test-web: deps-browser web
	$(CARGO) build --locked
	cd web && npm run lint && SAFERPLACES_BIN=../target/debug/saferplaces npm run test:browser

# Headless Chromium from Debian (maps.md §8); installed when missing and we may install.
deps-browser:
	@if ! command -v chromium-headless-shell >/dev/null 2>&1 && ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium-headless-shell; \
	  else echo "install Chromium: sudo apt-get install chromium-headless-shell" >&2; exit 1; fi; \
	fi

lint: fmt clippy
	@# Core modules never import the HTTP framework or database drivers (style.md rule 1).
	@! grep -rnE '^\s*use (axum|rusqlite|tokio_postgres|postgres)\b' src/domain src/index src/ingest src/synthetic \
	  || (echo "core module imports an edge crate" >&2; exit 1)

fmt:
	$(CARGO) fmt --check

clippy:
	$(CARGO) clippy --locked --all-targets -- -D warnings

bench-build:
	$(CARGO) bench --locked --no-run

bench:
	$(CARGO) bench --locked

ci: lint test bench-build

# The witness goes with the log it witnesses (a witness without its log reads as a deleted log);
# the signing key is kept.
clean-demo:
	rm -rf ./data ./data.audit-witness
