# subq: one library (ops/ baselines/ datasets/ bench/), one binary (subq), one Criterion test binary.
# `make` builds the optimised binary; `make test` runs the tests; `make test-asan` runs them under
# AddressSanitizer + UBSan; `make reproduce [PROFILE=smoke|default|paper] [ONLY=experiment]` runs the suite.

CC       ?= gcc
PROFILE  ?= default
ONLY     ?=
DEB_PKGS := libfftw3-dev libopenblas-openmp-dev libhdf5-dev hdf5-tools libpng-dev libjpeg62-turbo-dev \
            gnuplot-nox libcriterion-dev pkg-config libopenmpi-dev openmpi-bin
# Link the OpenMP build of OpenBLAS explicitly (Debian's alternatives may point at the pthread one).
BLAS_DIR := /usr/lib/x86_64-linux-gnu/openblas-openmp
PKGS     := fftw3f hdf5-serial libpng libjpeg ompi-c

WARN     := -Wall -Wextra -Wshadow -Wno-unused-parameter
# -fno-math-errno: nothing reads errno after a math call, and with errno sqrtf keeps a branch that stops loops
# from vectorising (AdamW's update, for one). Results are unchanged: only errno setting is dropped.
BENCH_DIRS := bench/cli bench/experiments bench/harness bench/io bench/report bench/train
BASE     := -std=c11 -D_GNU_SOURCE -fopenmp -fno-math-errno $(WARN) -Iops -Ibaselines -Idatasets \
            $(addprefix -I,$(BENCH_DIRS)) \
            -I/usr/include/x86_64-linux-gnu/openblas-openmp $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
OPT      := -O2 -march=native -g
ASAN     := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDLIBS   := -L$(BLAS_DIR) -Wl,-rpath,$(BLAS_DIR) -lopenblas $(shell pkg-config --libs $(PKGS) 2>/dev/null) \
            -lhdf5_hl -lmvec -lm -fopenmp

LIB_SRC  := $(wildcard ops/*.c baselines/*.c datasets/*.c) \
            $(filter-out bench/cli/main.c,$(wildcard $(addsuffix /*.c,$(BENCH_DIRS))))
TEST_SRC := $(wildcard tests/*.c)
HDRS     := $(wildcard ops/*.h baselines/*.h datasets/*.h $(addsuffix /*.h,$(BENCH_DIRS)) tests/*.h)

OPT_OBJ  := $(LIB_SRC:%.c=build/opt/%.o)
ASAN_OBJ := $(LIB_SRC:%.c=build/asan/%.o)

.PHONY: all deps check-deps test test-asan mutation datasets reproduce figures bench perf-check perf-reference \
        determinism golden peers fuzz clean
.DEFAULT_GOAL := all

all: subq

build/opt/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(OPT) -DSUBQ_BUILD_FLAGS='"$(OPT)"' -c $< -o $@

build/asan/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(BASE) $(ASAN) -DSUBQ_BUILD_FLAGS='"$(ASAN)"' -c $< -o $@

subq: build/opt/bench/cli/main.o $(OPT_OBJ)
	$(CC) $(OPT) $^ -o $@ $(LDLIBS)

build/opt/test_subq: $(TEST_SRC:%.c=build/opt/%.o) $(OPT_OBJ)
	$(CC) $(OPT) $^ -o $@ $(LDLIBS) -lcriterion

build/asan/test_subq: $(TEST_SRC:%.c=build/asan/%.o) $(ASAN_OBJ)
	$(CC) $(ASAN) $^ -o $@ $(LDLIBS) -lcriterion

# Installs the Debian packages when root, otherwise prints the command and fails.
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: all Debian packages present"; exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "deps: installing$$missing"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; }; \
	else \
	  echo "deps: missing packages; run: sudo apt-get update && sudo apt-get install -y$$missing" >&2; exit 1; \
	fi

check-deps: deps

test: check-deps
	@$(MAKE) --no-print-directory build/opt/test_subq subq
	./build/opt/test_subq --jobs 2

test-asan: check-deps
	@$(MAKE) --no-print-directory build/asan/test_subq
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ./build/asan/test_subq --jobs 2

# The data sets the experiments read, into datasets/cache (verified): the cache, else a mirror directory
# (SUBQ_DATA_MIRROR, default ../shared/datasets), else the public source.
datasets: check-deps
	@$(MAKE) --no-print-directory subq
	./subq data fetch all

# RANKS=N runs the experiments that train N at a time under mpirun (docs/DESIGN.md section 10); the default,
# one process, needs no launcher.
RANKS ?= 1
MPIRUN = mpirun $(if $(filter 0,$(shell id -u)),--allow-run-as-root) --oversubscribe -np $(RANKS)
reproduce: check-deps
	@$(MAKE) --no-print-directory subq
	@$(MAKE) --no-print-directory datasets
	$(if $(filter-out 1,$(RANKS)),$(MPIRUN) )./subq reproduce --profile $(PROFILE) $(if $(ONLY),--only $(ONLY))
	@$(MAKE) --no-print-directory figures

# Re-renders every figure from the results files present: series exported as text, then gnuplot.
figures: subq
	@mkdir -p results/figures
	@for f in results/*.h5; do \
	  [ -e "$$f" ] || continue; n=$$(basename $$f .h5); \
	  [ -f plots/$$n.gp ] || continue; \
	  rm -rf results/data/$$n && mkdir -p results/data/$$n && ./subq results export $$f results/data/$$n || exit 1; \
	  if ! ls results/data/$$n/*.dat >/dev/null 2>&1; then echo "figures: $$n has no series (skipped)"; continue; fi; \
	  gnuplot -e "datadir='results/data/$$n'; outdir='results/figures'" plots/$$n.gp && \
	  echo "figures: results/figures/$$n.png" || exit 1; \
	done
	@if [ -f results/lm_shakespeare.h5 ]; then \
	  ./subq results heatmap results/lm_shakespeare.h5 runs/hyena/filter_layer0 results/figures/hyena_filters.png && \
	  echo "figures: results/figures/hyena_filters.png"; fi
	./subq report

bench: check-deps
	@$(MAKE) --no-print-directory subq
	./subq bench op --op ffn --config d_model=768,d_hidden=3072 --batch 1 --seq-len 4096
	./subq bench op --op attention --config d_model=768,n_heads=12,impl=naive --batch 1 --seq-len 4096
	./subq bench op --op attention --config d_model=768,n_heads=12,impl=tiled --batch 1 --seq-len 4096

# Determinism: the training experiments run twice in the smoke profile with the same seed and thread
# count must give bitwise identical metrics (losses, accuracies, curves; timings excluded).
DETERMINISM_EXPERIMENTS ?= lm_shakespeare assoc_recall
determinism: check-deps
	@$(MAKE) --no-print-directory subq
	@mkdir -p build/determinism/a build/determinism/b
	@for e in $(DETERMINISM_EXPERIMENTS); do \
	  for run in a b; do \
	    ./subq reproduce --profile smoke --only $$e --results-dir build/determinism/$$run --force --quiet || exit 1; \
	  done; \
	  echo "determinism: $$e"; \
	  ./subq compare --identical build/determinism/a/$$e.h5 build/determinism/b/$$e.h5 || exit 1; \
	done

# Known mutations of ops/ (a += turned into =, a dropped bias, an off-by-one causal mask, a wrong scale, a
# dropped skip term, a wrong FLOP formula), each applied alone to a copy of the tree: the suite must fail on
# every one (tests/mutation.sh).
mutation: check-deps
	@$(MAKE) --no-print-directory build/opt/test_subq subq
	tests/mutation.sh

# Timing regression check (DESIGN.md section 6): an A/B of the base commit (PERF_BASE, default HEAD~1, or HEAD
# when the tree has changes) built beside this tree, both timed in alternating rounds on this machine
# (bench/harness/perf_check.sh). A committed reference of the same CPU model is only the fallback when no base builds.
# perf-reference writes that reference for this machine's CPU model (on an idle machine; then commit it).
PERF_REPEAT ?= 3
PERF_THRESHOLD ?= 0.25
perf-check: check-deps
	@$(MAKE) --no-print-directory subq
	PERF_REPEAT=$(PERF_REPEAT) PERF_THRESHOLD=$(PERF_THRESHOLD) PERF_BASE=$(PERF_BASE) bench/harness/perf_check.sh

perf-reference: check-deps
	@$(MAKE) --no-print-directory subq
	mkdir -p build/perf/ref results/reference/perf
	./subq reproduce --profile smoke --only ops_core --results-dir build/perf/ref --force --quiet
	cp build/perf/ref/ops_core.h5 "results/reference/perf/$$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1 | tr -c 'A-Za-z0-9\n' '_').h5"

# Fuzzes the CIFAR, text and manifest loaders for FUZZ_SECONDS per target (libFuzzer with clang, else the gcc
# mutation driver; ASan + UBSan). Crash inputs go to build/fuzz/; fixed ones are kept in tests/fuzz_regressions/.
FUZZ_SECONDS ?= 60
fuzz:
	tests/fuzz/run.sh $(FUZZ_SECONDS)

# Regenerates tests/golden/*.h5 from the PyTorch reference (needs Debian's python3-torch and python3-h5py).
golden:
	/usr/bin/python3 baselines/torch/make_golden.py tests/golden
	/usr/bin/python3 baselines/torch/golden_hyena.py tests/golden
	/usr/bin/python3 baselines/torch/golden_s4d.py tests/golden
	/usr/bin/python3 baselines/torch/golden_fff.py tests/golden
	/usr/bin/python3 baselines/torch/golden_moe.py tests/golden
	/usr/bin/python3 baselines/torch/golden_vision.py tests/golden

# The PyTorch peer (experiment `peers`): the current PyPI release, CPU, in a git-ignored virtual environment.
peers:
	test -x .venv/bin/python || python3 -m venv .venv
	.venv/bin/pip install -q --upgrade torch numpy
	.venv/bin/python -c 'import torch; print("peers: torch", torch.__version__)'

clean:
	rm -rf build subq
