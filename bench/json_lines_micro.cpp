/*-------------------------------------------------------------------------
 *
 * json_lines_micro.cpp
 *		  Micro-benchmark of JSON lines parsers on one file, single thread
 *
 * The same JSON lines file (bench/gen_export.py's grade rows) is read in
 * memory, then parsed by each candidate extracting 0 (count(*)), 1, 5 and
 * all 21 fields, as a foreign table scan does for the columns a query
 * references:
 *
 *	 yajl			src/json_reader.c, today's reader (yajl 2 events)
 *	 jsonl_reader	src/jsonl_reader.cpp, simdjson On-Demand one line at a
 *					time with a full validating walk (the candidate; with
 *					no field wanted, simdjson's DOM parser validates)
 *	 iterate_many	simdjson On-Demand iterate_many, reading only the wanted
 *					fields: no validation of the rest, so not a reader lms_fdw
 *					could use; the upper bound of what simdjson gives
 *	 jansson		json_loadb() per line (a DOM parser, already linked)
 *
 * The readers are fed 128 kB at a time, as the scan feeds them.  Each run
 * sums the bytes of the extracted values, and the sums must agree (all
 * candidates extract the same text; jansson keeps no number text).  The
 * candidates take turns in each repetition, so that they share whatever
 * else the machine does.  Prints the median of the repetitions, MB/s and
 * the speed-up over yajl.
 *
 *	 make -C bench json_lines_micro
 *	 bench/json_lines_micro FILE.jsonl [reps [only]]   (only: a parser's name
 *	 begins so, e.g. "simdjson jsonl")
 *
 * IDENTIFICATION
 *		  bench/json_lines_micro.cpp
 *
 *-------------------------------------------------------------------------
 */
#include "jsonl_reader.h"

#include <jansson.h>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

static const char *const kFields[21] = {
	"student name", "student id", "student sis", "course", "course id",
	"course sis", "section", "section id", "section sis", "term", "term id",
	"term sis", "current score", "final score", "enrollment state",
	"unposted current score", "unposted final score", "current grade",
	"final grade", "unposted current grade", "unposted final grade"
};
/* which of them a 1-, 5- and 21-column query reads */
static const int kPick1[] = {12};
static const int kPick5[] = {1, 4, 12, 13, 14};

struct Cols
{
	const char *label;
	std::vector<int> idx;
};

static const size_t kChunk = 128 * 1024;

/* the column name as tuple.c asks for it: the loose match of the key */
static std::vector<std::string>
column_names(const Cols &c)
{
	std::vector<std::string> names;

	for (int i : c.idx)
	{
		std::string n = kFields[i];

		std::replace(n.begin(), n.end(), ' ', '_');
		names.push_back(n);
	}
	return names;
}

template <typename Reader, typename Create, typename Feed, typename Finish,
		  typename Next, typename Free>
static size_t
run_reader(const std::string &data, const Cols &c, Create create, Feed feed,
		   Finish finish, Next next, Free destroy)
{
	std::vector<std::string> names = column_names(c);
	std::vector<JsonWantedPath> wanted;
	size_t		sum = 0,
				pos = 0;
	bool		done = false;

	for (const std::string &n : names)
		wanted.push_back({n.c_str(), true});
	Reader	   *r = create(wanted.data(), (int) wanted.size());
	while (!done)
	{
		const ReaderField *f;
		int			n;

		switch (next(r, &f, &n))
		{
			case READER_RECORD:
				for (int i = 0; i < n; i++)
					sum += f[i].len;
				break;
			case READER_NEED_MORE:
				if (pos < data.size())
				{
					size_t		k = std::min(kChunk, data.size() - pos);

					feed(r, data.data() + pos, k);
					pos += k;
				}
				else
					finish(r);
				break;
			case READER_EOF:
				done = true;
				break;
			case READER_ERROR:
				fprintf(stderr, "reader error\n");
				exit(1);
		}
	}
	destroy(r);
	return sum;
}

static size_t
run_yajl(const std::string &data, const Cols &c)
{
	return run_reader<JsonReader>(
		data, c,
		[](const JsonWantedPath *w, int n) {
			return json_reader_create(JSON_FORMAT_LINES, nullptr, w, n, 64 << 20);
		},
		json_reader_feed, json_reader_finish, json_reader_next, json_reader_free);
}

static size_t
run_jsonl(const std::string &data, const Cols &c)
{
	return run_reader<JsonlReader>(
		data, c,
		[](const JsonWantedPath *w, int n) {
			return jsonl_reader_create(w, n, 64 << 20);
		},
		jsonl_reader_feed, jsonl_reader_finish, jsonl_reader_next,
		jsonl_reader_free);
}

/* the file with simdjson's padding, made once, outside the timings */
static simdjson::padded_string *padded;

/* iterate_many over the whole file, reading only the wanted fields */
static size_t
run_iterate_many(const std::string &data, const Cols &c)
{
	simdjson::ondemand::parser parser;
	simdjson::ondemand::document_stream docs;
	size_t		sum = 0;

	(void) data;
	parser.threaded = false;
	if (parser.iterate_many(*padded, 1 << 20).get(docs))
		exit(1);
	for (auto doc : docs)
	{
		simdjson::ondemand::object obj;

		if (doc.get_object().get(obj))
			exit(1);
		for (int i : c.idx)
		{
			simdjson::ondemand::value v;
			std::string_view s;

			if (obj.find_field_unordered(kFields[i]).get(v) ||
				v.type() == simdjson::ondemand::json_type::null)
				continue;
			if (v.type() == simdjson::ondemand::json_type::string)
				sum += v.get_string().value_unsafe().size();
			else
			{
				s = v.raw_json_token();
				while (!s.empty() && (s.back() == ' ' || s.back() == '\n'))
					s.remove_suffix(1);
				sum += s.size();
			}
		}
	}
	return sum;
}

/* jansson, one line at a time */
static size_t
run_jansson(const std::string &data, const Cols &c)
{
	size_t		sum = 0,
				pos = 0;

	while (pos < data.size())
	{
		const char *start = data.data() + pos;
		const char *nl = (const char *) memchr(start, '\n', data.size() - pos);
		size_t		len = nl ? (size_t) (nl - start) : data.size() - pos;
		json_error_t err;
		json_t	   *obj = json_loadb(start, len, JSON_DECODE_ANY, &err);

		if (obj == nullptr)
			exit(1);
		for (int i : c.idx)
		{
			json_t	   *v = json_object_get(obj, kFields[i]);

			if (v == nullptr || json_is_null(v))
				continue;
			/* jansson keeps no number text (a double): not exact */
			if (json_is_string(v))
				sum += json_string_length(v);
			else if (json_is_number(v))
				sum += json_number_value(v) != 0;
		}
		json_decref(obj);
		pos += len + 1;
	}
	return sum;
}

int
main(int argc, char **argv)
{
	if (argc < 2)
	{
		fprintf(stderr, "usage: %s FILE.jsonl [reps]\n", argv[0]);
		return 2;
	}
	int			reps = argc > 2 ? atoi(argv[2]) : 3;
	FILE	   *f = fopen(argv[1], "rb");
	std::string data;
	char		buf[1 << 16];
	size_t		n;

	if (f == nullptr)
	{
		perror(argv[1]);
		return 1;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		data.append(buf, n);
	fclose(f);
	padded = new simdjson::padded_string(data);

	Cols		cols[4] = {{"0 (count)", {}},
						   {"1 field", {kPick1, kPick1 + 1}},
						   {"5 fields", {kPick5, kPick5 + 5}},
						   {"21 fields", {}}};

	for (int i = 0; i < 21; i++)
		cols[3].idx.push_back(i);

	struct Candidate
	{
		const char *name;
		size_t		(*run) (const std::string &, const Cols &);
		bool		exact;		/* extracts the number text */
	}			cands[] = {
		{"yajl (json_reader.c)", run_yajl, true},
		{"simdjson jsonl_reader.cpp", run_jsonl, true},
		{"simdjson iterate_many, no validation", run_iterate_many, true},
		{"jansson json_loadb per line", run_jansson, false},
	};

	printf("JSON lines parsers, %s: %.0f MB, median of %d, one thread\n",
		   argv[1], data.size() / 1e6, reps);
	printf("%-38s %-10s %9s %9s %8s\n", "parser", "columns", "seconds", "MB/s",
		   "vs yajl");
	/* the candidates take turns within each repetition: they share the load */
	for (const Cols &c : cols)
	{
		size_t		ncand = sizeof(cands) / sizeof(cands[0]);
		std::vector<std::vector<double>> t(ncand);
		std::vector<size_t> sum(ncand);

		for (int r = 0; r < reps; r++)
			for (size_t i = 0; i < ncand; i++)
			{
				if (argc > 3 && strncmp(cands[i].name, argv[3], strlen(argv[3])) != 0)
					continue;

				auto		t0 = std::chrono::steady_clock::now();

				sum[i] = cands[i].run(data, c);
				t[i].push_back(std::chrono::duration<double>(
												  std::chrono::steady_clock::now() - t0).count());
			}
		double		base = 0;
		size_t		first = ncand;

		for (size_t i = 0; i < ncand; i++)
		{
			if (t[i].empty())
				continue;
			if (first == ncand)
				first = i;
			std::sort(t[i].begin(), t[i].end());

			double		med = t[i][t[i].size() / 2];

			if (base == 0)
				base = med;
			printf("%-38s %-10s %9.3f %9.0f %7.2fx%s\n", cands[i].name, c.label,
				   med, data.size() / med / 1e6, base / med,
				   cands[i].exact && sum[i] != sum[first] ? "  (VALUES DIFFER)" : "");
		}
	}
	return 0;
}
