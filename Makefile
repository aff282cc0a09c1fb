# lms_fdw: a foreign-data wrapper for LMS bulk exports (PGXS build)

MODULE_big = lms_fdw
OBJS = \
	$(WIN32RES) \
	lms_fdw.o \
	src/options.o \
	src/connection.o \
	src/http.o \
	src/schedule.o \
	src/url.o \
	src/address.o \
	src/job.o \
	src/jobset.o \
	src/reuse.o \
	src/params.o \
	src/document.o \
	src/providers/provider.o \
	src/providers/canvas.o \
	src/providers/canvas_dap.o \
	src/providers/canvas_dap_import.o \
	src/providers/brightspace.o \
	src/providers/generic.o \
	src/stream.o \
	src/gunzip.o \
	src/reader.o \
	src/csv_reader.o \
	src/tsv_reader.o \
	src/json_reader.o \
	src/jsonl_reader.o \
	src/tuple.o \
	src/import.o \
	src/dap_schema.o \
	src/shared.o \
	src/oauth.o \
	src/token_store.o \
	src/history.o \
	src/activity.o \
	src/budget.o

EXTENSION = lms_fdw
DATA = sql/lms_fdw--1.0.sql sql/lms_fdw--1.1.sql sql/lms_fdw--1.0--1.1.sql
PGFILEDESC = "lms_fdw - foreign-data wrapper for LMS bulk exports"

PG_CPPFLAGS = -I$(srcdir)/src $(shell pkg-config --cflags libcurl jansson zlib libarchive)
PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare
# src/jsonl_reader.cpp: the one C++ file (simdjson; see its header comment).
# simdjson's library is built with threads, so its classes must be declared
# alike here; the reader starts none.
PG_CXXFLAGS = -std=c++17 -Wextra -Wno-unused-parameter -DSIMDJSON_THREADS_ENABLED=1
SHLIB_LINK = $(shell pkg-config --libs libcurl jansson zlib libarchive) -lyajl -lsimdjson -lstdc++ -lm

# pg_regress suites in sql/ (they need the mock LMS: see test/run_tests.sh)
REGRESS = options explain import select scan
TAP_TESTS = 1
PROVE_FLAGS = -I $(srcdir)/t

EXTRA_CLEAN = test/unit/test_csv_reader test/unit/test_schedule

# no LLVM bitcode: nothing here benefits from JIT inlining
override with_llvm := no

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# C unit tests of the pure modules (no server needed)
unit:
	$(MAKE) -C test/unit check

.PHONY: unit

# the streaming benchmark (as root; not part of the tests)
bench:
	bash bench/run.sh

.PHONY: bench

# PGXS tracks no header dependencies: every object depends on every header
$(OBJS): $(wildcard $(srcdir)/src/*.h)
