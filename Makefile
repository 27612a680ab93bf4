# batchgate -- the two commands of the README, and the pieces they are made of.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
GO ?= go

.PHONY: dev test deps build vet lint unit race fuzz bench cluster-up cluster-down

## dev: bring up the dev cluster and run the gateway on 127.0.0.1:8080 against it
dev:
	scripts/dev-gateway

## test: install what is missing, bring up the dev cluster, run vet, lint, a short fuzz of each
## target, the gateway's unit tests under the race detector, unit and integration tests, then the
## fault tests (they stop parts of the cluster, so they run alone, last)
test: deps cluster-up vet lint fuzz race
	eval "$$(scripts/devcluster env)" && $(GO) test -count=1 -timeout 20m ./...
	eval "$$(scripts/devcluster env)" && BATCHGATE_FAULTS=1 $(GO) test -count=1 -timeout 10m -run '^TestFault' ./integration/

deps:
	scripts/install-deps

build:
	$(GO) build -o bin/batchgate ./gateway/cmd/batchgate

## vet: go vet, and every Go file as gofmt writes it
vet:
	$(GO) vet ./...
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then \
		echo "not gofmt-formatted (run gofmt -w on them):"; echo "$$unformatted"; exit 1; fi

## lint: shellcheck every shell script in scripts/ and the shell stand-ins used by tests
lint:
	shellcheck $$(find scripts integration/testdata/bin -maxdepth 1 -type f ! -name '*.go')

## unit: the tests that need no cluster (integration tests skip without SLURM_CONF)
unit:
	env -u SLURM_CONF $(GO) test -count=1 ./...

## race: the gateway's unit tests under the race detector (its store, HTTP server, event broker
## and reconciler share state between goroutines; the cluster tests run without it, below)
race:
	env -u SLURM_CONF $(GO) test -race -count=1 ./gateway/...

## fuzz: run each fuzz target briefly (FUZZTIME each: a count of inputs by default, because a
## time limit can end a run with a spurious "context deadline exceeded"; FUZZTIME=1m for longer);
## go test takes one package per -fuzz
FUZZTIME ?= 30000x
FUZZ_TARGETS := slurm:FuzzRender slurm:FuzzParseSqueue slurm:FuzzParseSacct gateway:FuzzTimeRules \
	gateway/httpapi:FuzzCreateContainer gateway/sqlite:FuzzDecodeEnv
fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "fuzz $${t#*:} ./$${t%%:*} ($(FUZZTIME))"; \
		out=$$($(GO) test -run '^$$' -fuzz "^$${t#*:}\$$" -fuzztime $(FUZZTIME) ./$${t%%:*} 2>&1) || \
			{ echo "$$out"; exit 1; }; echo "$$out" | tail -n 1; \
	done

## bench: bring up the dev cluster and run every benchmark against it; prints one table and
## writes bench-results.json (BENCH_FLAGS are passed on, e.g. BENCH_FLAGS='-duration 20s')
bench: cluster-up
	eval "$$(scripts/devcluster env)" && $(GO) run ./scripts/bench $(BENCH_FLAGS)

cluster-up:
	scripts/devcluster up

cluster-down:
	scripts/devcluster down
