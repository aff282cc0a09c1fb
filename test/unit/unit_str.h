/*
 * unit_str.h
 *		A growable, always NUL-terminated string for rendering results in
 *		lms_fdw's C unit tests.
 */
#ifndef LMS_UNIT_STR_H
#define LMS_UNIT_STR_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Str
{
	char	   *data;
	size_t		len;
	size_t		cap;
} Str;

static inline void
str_addn(Str *s, const char *p, size_t n)
{
	if (s->len + n + 1 > s->cap)
	{
		size_t		cap = s->cap ? s->cap : 256;

		while (cap < s->len + n + 1)
			cap *= 2;
		s->data = realloc(s->data, cap);
		if (s->data == NULL)
		{
			fprintf(stderr, "out of memory\n");
			exit(2);
		}
		s->cap = cap;
	}
	if (n > 0)
		memcpy(s->data + s->len, p, n);
	s->len += n;
	s->data[s->len] = '\0';
}

static inline void
str_adds(Str *s, const char *p)
{
	str_addn(s, p, strlen(p));
}

static inline void
str_addc(Str *s, char c)
{
	str_addn(s, &c, 1);
}

#endif
