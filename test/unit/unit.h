/*
 * unit.h
 *		Minimal assertion helpers for lms_fdw's C unit tests.
 *
 * Each test program calls UNIT_CHECK for every assertion and ends with
 * UNIT_DONE(), which prints "N passed, N failed" and sets the exit status.
 */
#ifndef LMS_UNIT_H
#define LMS_UNIT_H

#include <stdio.h>

static int	unit_passed;
static int	unit_failed;

#define UNIT_CHECK(cond, ...) \
	do { \
		if (cond) \
			unit_passed++; \
		else \
		{ \
			unit_failed++; \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__); \
			fputc('\n', stderr); \
		} \
	} while (0)

#define UNIT_DONE(name) \
	do { \
		printf("%s: %d passed, %d failed\n", (name), unit_passed, unit_failed); \
		return unit_failed == 0 ? 0 : 1; \
	} while (0)

#endif
