/*-------------------------------------------------------------------------
 *
 * dap_schema.c
 *		  Canvas Data 2 table schemas as PostgreSQL columns
 *
 * Pure C on jansson (no PostgreSQL headers, so jansson's json_object()
 * meets no SQL function of that name): it is unit-tested on its own.  See
 * dap_schema.h for the type mapping.  Sources: the VersionedSchema and
 * TableList components of the DAP Query API's OpenAPI document (0.9.0) and
 * the record layout of the data-formats page (key, value, meta).
 *
 * IDENTIFICATION
 *		  src/dap_schema.c
 *
 *-------------------------------------------------------------------------
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dap_schema.h"

#if defined(__GNUC__)
static void set_error(char *errbuf, size_t errlen, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));
#endif

static void
set_error(char *errbuf, size_t errlen, const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
}

static char *
dup_string(const char *s)
{
	size_t		n = strlen(s) + 1;
	char	   *d = malloc(n);

	if (d)
		memcpy(d, s, n);
	return d;
}

/* a schema that may be null: the other member of [t, "null"] or oneOf/anyOf */
static json_t *
non_null_schema(json_t *prop, const char **type)
{
	json_t	   *t = json_object_get(prop, "type");
	const char *alts[] = {"oneOf", "anyOf"};
	size_t		i;

	*type = NULL;
	if (json_is_string(t))
	{
		*type = json_string_value(t);
		return prop;
	}
	if (json_is_array(t))
	{
		json_t	   *v;
		size_t		k;

		json_array_foreach(t, k, v)
			if (json_is_string(v) && strcmp(json_string_value(v), "null") != 0)
				*type = json_string_value(v);
		return prop;
	}
	for (i = 0; i < 2; i++)
	{
		json_t	   *list = json_object_get(prop, alts[i]);
		json_t	   *v;
		json_t	   *other = NULL;
		size_t		k;
		int			n = 0;

		if (!json_is_array(list))
			continue;
		json_array_foreach(list, k, v)
		{
			json_t	   *vt = json_object_get(v, "type");

			if (json_is_string(vt) && strcmp(json_string_value(vt), "null") == 0)
				continue;
			other = v;
			n++;
		}
		if (n == 1)
			return non_null_schema(other, type);
	}
	return prop;
}

/* The PostgreSQL type of one property's schema. */
static const char *
pg_type_of(json_t *prop, char *numbuf, size_t numlen)
{
	const char *type;
	const char *format;
	json_t	   *p = non_null_schema(prop, &type);

	format = json_string_value(json_object_get(p, "format"));
	if (format == NULL)
		format = "";
	if (type == NULL)
		return json_object_get(p, "enum") ? "text" : "jsonb";
	if (strcmp(type, "integer") == 0)
	{
		if (strcmp(format, "int16") == 0)
			return "smallint";
		if (strcmp(format, "int32") == 0)
			return "integer";
		return "bigint";
	}
	if (strcmp(type, "number") == 0)
	{
		json_t	   *prec = json_object_get(p, "x-precision");
		json_t	   *scale = json_object_get(p, "x-scale");

		if (strcmp(format, "float32") == 0 || strcmp(format, "float") == 0)
			return "real";
		if (strcmp(format, "float64") == 0 || strcmp(format, "double") == 0)
			return "double precision";
		if (json_is_integer(prec) && json_integer_value(prec) > 0 &&
			json_integer_value(prec) <= 1000)
		{
			long long	s = json_is_integer(scale) ? json_integer_value(scale) : 0;

			if (s < 0 || s > json_integer_value(prec))
				s = 0;
			snprintf(numbuf, numlen, "numeric(%lld,%lld)",
					 (long long) json_integer_value(prec), s);
			return numbuf;
		}
		return "numeric";
	}
	if (strcmp(type, "string") == 0)
	{
		if (strcmp(format, "date-time") == 0)
			return "timestamp with time zone";
		if (strcmp(format, "date") == 0)
			return "date";
		if (strcmp(format, "time") == 0)
			return "time without time zone";
		return "text";
	}
	if (strcmp(type, "boolean") == 0)
		return "boolean";
	return "jsonb";				/* object, array, anything newer */
}

static bool
is_required(json_t *obj, const char *name)
{
	json_t	   *req = json_object_get(obj, "required");
	json_t	   *v;
	size_t		k;

	json_array_foreach(req, k, v)
		if (json_is_string(v) && strcmp(json_string_value(v), name) == 0)
			return true;
	return false;
}

/* Append the properties of schema.properties.<part> as columns. */
static bool
add_part(DapSchema *s, json_t *props, const char *part, const char *const *only,
		 char *errbuf, size_t errlen)
{
	json_t	   *obj = json_object_get(props, part);
	json_t	   *inner;
	const char *name;
	json_t	   *prop;
	const char *t;

	obj = non_null_schema(obj, &t);
	inner = json_object_get(obj, "properties");
	if (!json_is_object(inner))
	{
		if (strcmp(part, "key") == 0)
		{
			set_error(errbuf, errlen, "the schema has no properties of \"key\"");
			return false;
		}
		return true;
	}
	json_object_foreach(inner, name, prop)
	{
		DapColumn  *c;
		char		numbuf[48];
		const char *type;
		const char *const *o;
		bool		wanted = only == NULL;

		for (o = only; o && *o; o++)
			if (strcmp(*o, name) == 0)
				wanted = true;
		if (!wanted)
			continue;
		type = pg_type_of(prop, numbuf, sizeof(numbuf));
		c = &s->columns[s->ncolumns];
		c->name = dup_string(name);
		c->path = malloc(strlen(part) + strlen(name) + 2);
		c->type = dup_string(type);
		if (c->name == NULL || c->path == NULL || c->type == NULL)
		{
			set_error(errbuf, errlen, "out of memory");
			return false;
		}
		sprintf(c->path, "%s.%s", part, name);
		c->is_key = strcmp(part, "key") == 0;
		c->required = is_required(obj, name);
		s->ncolumns++;
	}
	return true;
}

static size_t
count_props(json_t *props, const char *part)
{
	json_t	   *inner = json_object_get(json_object_get(props, part), "properties");
	size_t		n = json_object_size(inner);
	json_t	   *alt;
	size_t		k;
	json_t	   *v;

	/* a nullable part: count its alternatives' properties too */
	alt = json_object_get(json_object_get(props, part), "oneOf");
	json_array_foreach(alt, k, v)
		n += json_object_size(json_object_get(v, "properties"));
	return n;
}

DapSchema *
dap_schema_parse(const char *text, size_t len, char *errbuf, size_t errlen)
{
	static const char *const meta_fields[] = {"action", "ts", NULL};
	json_error_t jerr;
	json_t	   *doc = json_loadb(text, len, 0, &jerr);
	json_t	   *schema;
	json_t	   *props;
	json_t	   *version;
	DapSchema  *s;
	const char *title;

	if (doc == NULL)
	{
		set_error(errbuf, errlen, "not JSON: %s at offset %d", jerr.text, jerr.position);
		return NULL;
	}
	schema = json_object_get(doc, "schema");
	version = json_object_get(doc, "version");
	props = json_object_get(schema, "properties");
	if (!json_is_object(props) || !json_is_integer(version))
	{
		set_error(errbuf, errlen, "not a versioned schema (an object with \"schema\" and an integer \"version\")");
		json_decref(doc);
		return NULL;
	}
	s = calloc(1, sizeof(DapSchema));
	if (s)
		s->columns = calloc(count_props(props, "key") + count_props(props, "value") + 3,
							sizeof(DapColumn));
	if (s == NULL || s->columns == NULL)
	{
		set_error(errbuf, errlen, "out of memory");
		free(s);
		json_decref(doc);
		return NULL;
	}
	s->version = (long) json_integer_value(version);
	title = json_string_value(json_object_get(schema, "title"));
	if (title == NULL)
		title = json_string_value(json_object_get(schema, "description"));
	s->title = title ? dup_string(title) : NULL;
	if (!add_part(s, props, "key", NULL, errbuf, errlen) ||
		!add_part(s, props, "value", NULL, errbuf, errlen) ||
		!add_part(s, props, "meta", meta_fields, errbuf, errlen))
	{
		dap_schema_free(s);
		json_decref(doc);
		return NULL;
	}
	json_decref(doc);
	if (s->ncolumns == 0 || !s->columns[0].is_key)
	{
		set_error(errbuf, errlen, "the schema has no key columns");
		dap_schema_free(s);
		return NULL;
	}
	return s;
}

void
dap_schema_free(DapSchema *s)
{
	int			i;

	if (s == NULL)
		return;
	for (i = 0; i < s->ncolumns; i++)
	{
		free(s->columns[i].name);
		free(s->columns[i].path);
		free(s->columns[i].type);
	}
	free(s->columns);
	free(s->title);
	free(s);
}

char	  **
dap_table_list_parse(const char *text, size_t len, char *errbuf, size_t errlen)
{
	json_error_t jerr;
	json_t	   *doc = json_loadb(text, len, 0, &jerr);
	json_t	   *tables = json_object_get(doc, "tables");
	json_t	   *v;
	size_t		k;
	char	  **out;

	if (!json_is_array(tables))
	{
		set_error(errbuf, errlen, doc ? "not a table list (an object with a \"tables\" array)" : "not JSON");
		json_decref(doc);
		return NULL;
	}
	out = calloc(json_array_size(tables) + 1, sizeof(char *));
	if (out == NULL)
	{
		set_error(errbuf, errlen, "out of memory");
		json_decref(doc);
		return NULL;
	}
	json_array_foreach(tables, k, v)
	{
		if (!json_is_string(v) || (out[k] = dup_string(json_string_value(v))) == NULL)
		{
			set_error(errbuf, errlen, json_is_string(v) ? "out of memory" : "a table name is not a string");
			json_decref(doc);
			dap_table_list_free(out);
			return NULL;
		}
	}
	json_decref(doc);
	return out;
}

void
dap_table_list_free(char **tables)
{
	char	  **p;

	if (tables == NULL)
		return;
	for (p = tables; *p; p++)
		free(*p);
	free(tables);
}
