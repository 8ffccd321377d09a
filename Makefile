# Shortcuts; the scripts are what the README and CI use.
.PHONY: test run build bench-startup

test:
	scripts/test.sh

run:
	go run ./cmd/dandan up --config examples/dandan.yaml

build:
	go build -o dandan ./cmd/dandan

bench-startup:
	bench/startup.sh
