# assistant-scheduler — developer entry points. `make test` is the test command; `make demo`
# shows the operator working on the embedded local control plane. Both install what they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export GOTOOLCHAIN := local
# Where `make cluster-up` keeps its state (kubeconfig, logs, pid file).
CLUSTER_DIR ?= $(CURDIR)/.cluster

help:  ## list targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(STAMP): requirements-dev.txt runner/pyproject.toml operator/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e runner -e operator -r requirements-dev.txt
	touch $@

venv: $(STAMP)  ## create the Python virtualenv with the packages and dev tools

tools:  ## build the pinned control plane binaries (cached outside the checkout)
	bash tools/build.sh

lint: $(STAMP)  ## ruff (lint + format check) and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

fmt: $(STAMP)  ## format and autofix
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

crds: $(STAMP)  ## regenerate crds/, the chart's CRD and deploy/install.yaml from the pydantic models
	$(PY) -m aischeduler_operator.crd --write
	$(MAKE) manifests

gitops: $(STAMP)  ## regenerate gitops/argocd/argocd-cm.yaml from the .lua scripts beside it
	$(PY) tools/argocd_cm.py --write

unit: $(STAMP)  ## fast tests with no cluster
	$(PY) -m pytest -m "not e2e" -q

e2e: $(STAMP)  ## end-to-end tests on the local control plane (or AISCHED_TEST_KUBECONFIG)
	[ -n "$$AISCHED_TEST_KUBECONFIG" ] || bash tools/build.sh >/dev/null
	$(PY) -m pytest -m e2e -q

test: $(STAMP)  ## unit + e2e tests (the project's test command)
	[ -n "$$AISCHED_TEST_KUBECONFIG" ] || bash tools/build.sh >/dev/null
	$(PY) -m pytest -q

cluster-up: $(STAMP)  ## start the local control plane (+ a real node where the host allows); prints KUBECONFIG=...
	@PYTHONPATH=tools $(PY) -m localcluster up --dir $(CLUSTER_DIR) --bin "$$(bash tools/build.sh)"

cluster-down: $(STAMP)  ## stop the local control plane and restore the host
	@PYTHONPATH=tools $(PY) -m localcluster down --dir $(CLUSTER_DIR)

krew: $(STAMP)  ## build the kubectl asched plugin archive and its krew manifest into dist/krew (VERSION=v0.1.0)
	$(PY) tools/krew_plugin.py --version $(or $(VERSION),v0.1.0)

run: $(STAMP)  ## run the operator in the foreground against $$KUBECONFIG
	$(VENV)/bin/aischeduler-operator

.PHONY: help venv tools lint fmt crds gitops unit e2e test cluster-up cluster-down krew run demo demo-real bench
.PHONY: manifests chart-lint images e2e-kind

# ---------------------------------------------------------------- install/operate layer
IMAGE_REGISTRY ?= ghcr.io/aischeduler
IMAGE_TAG ?= 0.1.0
DOCKER ?= docker
KIND ?= kind
KIND_CLUSTER ?= aischeduler-e2e

manifests:  ## render deploy/install.yaml from the Helm chart (pinned helm)
	bash deploy/render.sh > deploy/install.yaml.tmp && mv deploy/install.yaml.tmp deploy/install.yaml

chart-lint:  ## helm lint --strict the chart (pinned helm)
	"$$(bash tools/build.sh)/helm" lint --strict charts/aischeduler

images:  ## build the operator and runner images (needs Docker)
	$(DOCKER) build -f operator/Dockerfile -t $(IMAGE_REGISTRY)/operator:$(IMAGE_TAG) .
	$(DOCKER) build -f runner/Dockerfile -t $(IMAGE_REGISTRY)/runner:$(IMAGE_TAG) runner

e2e-kind: $(STAMP) images  ## e2e tests on a kind cluster with freshly built images (needs Docker + kind)
	$(KIND) get clusters | grep -qx $(KIND_CLUSTER) || $(KIND) create cluster --name $(KIND_CLUSTER)
	$(KIND) load docker-image --name $(KIND_CLUSTER) \
	  $(IMAGE_REGISTRY)/operator:$(IMAGE_TAG) $(IMAGE_REGISTRY)/runner:$(IMAGE_TAG)
	mkdir -p $(CLUSTER_DIR)
	$(KIND) get kubeconfig --name $(KIND_CLUSTER) > $(CLUSTER_DIR)/kind-kubeconfig
	AISCHED_TEST_KUBECONFIG=$(CLUSTER_DIR)/kind-kubeconfig $(PY) -m pytest -m e2e -q

demo: $(STAMP)  ## the main job end to end on the embedded control plane (real pods where the host allows)
	@PYTHONPATH=tools $(PY) tools/demo.py --bin "$$(bash tools/build.sh)"

demo-real: $(STAMP)  ## the same demo against $$KUBECONFIG (real runner pods; needs the images)
	@PYTHONPATH=tools $(PY) tools/demo.py --kubeconfig "$$KUBECONFIG"

bench: $(STAMP)  ## benchmark on the embedded control plane (BENCH_ARGS="--schedules 5000")
	@PYTHONPATH=tools:tests/unit $(PY) tools/bench.py --bin "$$(bash tools/build.sh)" $(BENCH_ARGS)
