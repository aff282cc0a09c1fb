/*-------------------------------------------------------------------------
 *
 * jsonl_reader.cpp
 *		  JSON lines reader on simdjson, with the yajl reader as its fallback
 *		  (C++; C interface in jsonl_reader.h; no PostgreSQL headers)
 *
 * Why C++.  simdjson parses JSON several times faster than yajl, and it is
 * a C++ library.  This file is the only C++ of lms_fdw: it calls no
 * PostgreSQL function, so nothing here can raise an ERROR, and every entry
 * point catches every exception (std::bad_alloc from the library's
 * containers) before it could unwind into C frames: out of memory becomes
 * the reader's sticky "out of memory" error, as in the C readers.  All
 * memory is owned by the reader and released by jsonl_reader_free(), which
 * the caller runs from a memory context reset callback, so an ERROR raised
 * by the caller between two calls leaks nothing.
 *
 * Flow.  jsonl_reader_feed() appends to an input buffer that always keeps
 * SIMDJSON_PADDING spare bytes after the data, as simdjson requires.
 * jsonl_reader_next() finds the next newline and parses that line with the
 * On-Demand API as one document (a whole line at a time: simdjson needs a
 * document's bytes complete; a line is the JSON lines unit; and the bytes
 * of one record are known exactly, which the hand-over below relies on).
 * It then walks the whole object: On-Demand checks only what is read, so
 * every value is read, strings checked for escapes (unescaped only when
 * they have one), numbers and literals checked against the JSON grammar,
 * so that nothing yajl refuses is accepted here.  Strings and literals are
 * also consumed, never left for On-Demand to skip: its skipping does not
 * check the structure it passes over (a string value followed by ':'
 * passes for a key).  A number may be skipped: what follows it is checked.
 * Wanted values are matched and extracted during that walk with the rules
 * of json_reader.c: a trie of key segments, exact or loose, first match in
 * document order, numbers as their JSON text (never through a double),
 * wanted objects and arrays re-serialized compactly, nested wanted values
 * kept on their own too.  JSON lines records repeat their keys in the same
 * order, so the match of each root member is remembered by its ordinal,
 * with its key: a member whose key has the same bytes reuses it.  A value
 * without escapes (a string with no backslash, a number, a literal) is
 * returned where it is written: once the walk has succeeded, the byte after
 * it (a quote, comma, brace or whitespace, part of no other value) becomes
 * its NUL; only bytes of the record returned are written, never those the
 * hand-over would feed to yajl.  Other values are copied into an arena.
 * simdjson checked the whole line as UTF-8, so the values need no further
 * check (jsonl_reader_values_utf8()) unless one holds a NUL from \u0000.
 *
 * No field wanted (count(*)).  Then a line need only be valid JSON, and
 * simdjson's DOM parser, which checks all of it (grammar, escapes, UTF-8,
 * nothing after the value), does that faster than the walk; lines longer
 * than kDomLine still take the walk (the DOM parser's memory is about ten
 * times the line).  It is no more lenient than yajl: what it refuses (also
 * numbers beyond a double or a 64-bit integer, lone surrogates, \v) is
 * handed over as below.
 *
 * Hand-over.  The fast path never reports an error itself.  At anything it
 * does not take (a line that is not one whole object: malformed, a record
 * spanning lines, two records on a line; a line longer than the limits;
 * input simdjson refuses but yajl may accept, such as \v as whitespace or
 * a lone surrogate escape), it creates the yajl reader, tells it how many
 * records were returned (json_reader_continue_after()) and feeds it every
 * byte from the end of the last returned record on; the yajl reader reads
 * the rest of the stream.  It starts in the state yajl has after a
 * top-level value, so it returns what it would have returned reading the
 * stream from its start: the same records, the same error with the same
 * record number and message.  Where the limits could be reached
 * (max_record: bytes of extracted values per record, and bytes between two
 * token ends) the check here is conservative (a record or blank stretch
 * longer than max_record is handed over), and yajl decides.
 *
 * Early records.  yajl returns a record as soon as its '}' arrives; so that
 * records come at the same points of the input, a line still without its
 * newline that ends in '}' is tried (up to kEarlyLine bytes): if it does
 * not parse yet, more bytes may complete it.
 *
 * IDENTIFICATION
 *		  src/jsonl_reader.cpp
 *
 *-------------------------------------------------------------------------
 */
#include "jsonl_reader.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <simdjson.h>

namespace od = simdjson::ondemand;

namespace
{

/* lines longer than this (without a max_record limit) go to yajl */
constexpr size_t kMaxLine = 16 * 1024 * 1024;
constexpr size_t kInitialBuffer = 64 * 1024;
/* records nested deeper go to yajl (the walk below recurses) */
constexpr int kMaxDepth = 64;
/* a line still without its newline is tried as a record up to this long */
constexpr size_t kEarlyLine = 64 * 1024;
/* lines validated by the DOM parser (memory: about ten times this) */
constexpr size_t kDomLine = 1024 * 1024;
/* root members whose match is remembered, by ordinal */
constexpr size_t kRootSlots = 256;

/* A trie node: the key segment leading to it and what hangs below. */
struct Node
{
	std::string seg;			/* by the name rule when loose */
	bool		loose = false;
	std::vector<int> children;
	/* children by segment length: exact ones, loose ones */
	std::vector<std::vector<int>> by_len;
	std::vector<std::vector<int>> by_nlen;
	size_t		min_nlen = SIZE_MAX;	/* of the loose ones */
	std::vector<int> fields;	/* wanted fields ending here */
};

/*
 * The match of the root member at one ordinal, as last computed: JSON
 * lines records repeat their keys in the same order.
 */
struct RootSlot
{
	bool		ok = false;		/* key is set */
	std::string key;			/* as written: no escape */
	std::vector<int> fields;	/* every field ending at it, first-match aside */
	std::vector<int> kids;		/* the nodes with children it leads to */
};

/* Where an extracted value is. */
enum EntryKind : unsigned char
{
	kNull,
	kArena,						/* at off in the arena */
	kInput						/* at off in the input line, as written */
};

/* One extracted value of the current record. */
struct Entry
{
	int			field;
	EntryKind	kind;
	size_t		off;
	size_t		len;
};

/* A wanted object or array being written into ser. */
struct Capture
{
	int			field;
	size_t		start;
	size_t		end;
};

/*
 * The name rule on one byte (json_reader.c's), as a table: ASCII letters
 * lower-cased, other ASCII bytes that are not letters or digits dropped
 * (0), other bytes kept.
 */
struct NormTable
{
	unsigned char map[256];

	constexpr NormTable() : map()
	{
		for (int c = 0; c < 256; c++)
			map[c] = (unsigned char) ((c >= 0x80 || (c >= 'a' && c <= 'z') ||
									   (c >= '0' && c <= '9')) ? c :
									  (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : 0);
	}
};
constexpr NormTable kNorm;

inline unsigned char
norm(unsigned char c)
{
	return kNorm.map[c];
}

inline bool
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Does key (nkey: by the name rule) match segment nd, of the same length? */
inline bool
seg_match(const Node &nd, std::string_view key, const char *nkey)
{
	return memcmp(nd.loose ? nkey : key.data(), nd.seg.data(),
				  nd.seg.size()) == 0;
}

/*
 * The first '"' or '\\' at or after p, eight bytes at a time (a word with
 * no such byte has no zero byte after the XOR).  It may read up to seven
 * bytes past the one it returns: the input buffer's padding covers them.
 */
inline const char *
quote_or_backslash(const char *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	while (*p != '"' && *p != '\\')
		p++;
	return p;
#else
	const uint64_t ones = 0x0101010101010101ULL;
	const uint64_t highs = 0x8080808080808080ULL;

	for (;; p += 8)
	{
		uint64_t	w,
					a,
					b,
					hit;

		memcpy(&w, p, 8);
		a = w ^ (ones * '"');
		b = w ^ (ones * '\\');
		hit = ((a - ones) & ~a & highs) | ((b - ones) & ~b & highs);
		if (hit)
			return p + (__builtin_ctzll(hit) >> 3);
	}
#endif
}

/* Does s hold a backslash?  Most strings are short: a loop beats memchr. */
inline bool
has_backslash(std::string_view s)
{
	if (s.size() > 32)
		return memchr(s.data(), '\\', s.size()) != nullptr;
	for (char c : s)
		if (c == '\\')
			return true;
	return false;
}

/* The JSON grammar of a number, on its whole token. */
bool
valid_number(std::string_view s)
{
	size_t		i = 0,
				n = s.size(),
				d;

	if (i < n && s[i] == '-')
		i++;
	if (i < n && s[i] == '0')
		i++;
	else if (i < n && s[i] >= '1' && s[i] <= '9')
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	else
		return false;
	if (i < n && s[i] == '.')
	{
		d = ++i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == d)
			return false;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E'))
	{
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		d = i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == d)
			return false;
	}
	return i == n;
}

}								/* namespace */

struct JsonlReader
{
	/* wanted fields, kept for the yajl reader */
	std::vector<std::string> paths;
	std::vector<JsonWantedPath> wanted;
	size_t		max_record = 0; /* as given: 0 is no limit */
	size_t		limit = SIZE_MAX;
	std::vector<Node> nodes;	/* nodes[0] is the root */

	/* input: in[keep ..) is what yajl would get; lines start at pos */
	char	   *in = nullptr;
	size_t		in_cap = 0;
	size_t		in_len = 0;
	size_t		keep = 0;
	size_t		pos = 0;
	size_t		scan = 0;		/* the newline search resumes here */

	bool		bom_done = false;
	bool		finished = false;
	bool		eof = false;
	bool		failed = false; /* out of memory */
	uint64_t	nrecords = 0;	/* records returned */
	JsonReader *yajl = nullptr; /* the rest of the stream, once handed over */

	od::parser	parser;
	simdjson::dom::parser dom;	/* when no field is wanted */

	/* the record being read */
	std::vector<uint64_t> field_rec;	/* parse that set the field */
	uint64_t	attempt = 0;	/* parse_line() calls */
	std::vector<int> stack;		/* fields and nodes of the open keys */
	std::vector<int> pend;		/* scratch: nodes matched by one key */
	std::vector<int> mf;		/* scratch: fields matched by one key */
	std::vector<RootSlot> root_cache;	/* by member ordinal */
	const char *line_end = nullptr; /* of the line being parsed */
	std::string nkey;			/* scratch: a key by the name rule */
	size_t		nkey_len = 0;
	std::vector<Entry> entries; /* one per wanted field at most */
	size_t		nentries = 0;
	std::string arena;
	size_t		stored = 0;		/* bytes of values, as yajl counts them */
	bool		nul_value = false;	/* a value holds a NUL byte */
	std::string ser;
	bool		in_ser = false;
	std::vector<Capture> caps;
	std::vector<ReaderField> out;

	/* keys of the first record */
	std::vector<std::string> fk;
	std::vector<const char *> fk_ptrs;

	~JsonlReader()
	{
		free(in);
		if (yajl)
			json_reader_free(yajl);
	}

	void		add_path(int field, const char *path, bool loose);
	bool		append(const char *data, size_t len);
	void		hand_over();
	ReaderStatus	next(const ReaderField **fields, int *nfields);
	ReaderStatus	record(size_t first, size_t last, size_t next_pos,
					   const ReaderField **fields, int *nfields);
	bool		trim(size_t start, size_t end, size_t *first, size_t *last);
	bool		parse_line(size_t start, size_t end);
	void		match_key(std::string_view key, size_t act, int nact,
						  std::vector<int> &flds, std::vector<int> &kids);
	bool		walk_object(od::object obj, size_t act, int nact, int depth);
	bool		walk_array(od::array arr, int depth);
	bool		walk_value(od::value &v, size_t flds, int nflds, size_t act,
						   int nact, int depth);
	void		store(const char *s, size_t len, size_t flds, int nflds);
	void		store_input(const char *s, size_t len, size_t flds, int nflds);
	void		ser_string(std::string_view s);
	void		first_keys(const char *doc, size_t len);
};

/* ---------------------------------------------------------------- */
/* Matching and extraction */

void
JsonlReader::add_path(int field, const char *path, bool loose)
{
	int			cur = 0;
	const char *p = path;

	for (;;)
	{
		const char *dot = strchr(p, '.');
		std::string seg(p, dot ? (size_t) (dot - p) : strlen(p));
		int			found = -1;

		if (loose)
		{
			size_t		k = 0;

			for (char c : seg)
				if (norm((unsigned char) c) != 0)
					seg[k++] = (char) norm((unsigned char) c);
			seg.resize(k);
		}
		for (int c : nodes[cur].children)
			if (nodes[c].loose == loose && nodes[c].seg == seg)
				found = c;
		if (found < 0)
		{
			found = (int) nodes.size();
			nodes.emplace_back();
			nodes.back().seg = std::move(seg);
			nodes.back().loose = loose;
			nodes[cur].children.push_back(found);
			{
				std::vector<std::vector<int>> &b =
					loose ? nodes[cur].by_nlen : nodes[cur].by_len;
				size_t		n = nodes[found].seg.size();

				if (b.size() <= n)
					b.resize(n + 1);
				b[n].push_back(found);
				if (loose && n < nodes[cur].min_nlen)
					nodes[cur].min_nlen = n;
			}
		}
		cur = found;
		if (dot == nullptr)
			break;
		p = dot + 1;
	}
	nodes[cur].fields.push_back(field);
}

/* Value bytes for fields stack[flds .. flds + nflds), copied. */
void
JsonlReader::store(const char *s, size_t len, size_t flds, int nflds)
{
	size_t		off = arena.size();

	arena.append(s, len);
	arena.push_back('\0');
	stored += len;
	for (int i = 0; i < nflds; i++)
		entries[nentries++] = {stack[flds + i], kArena, off, len};
}

/*
 * Value bytes for fields stack[flds .. flds + nflds) that are the line's
 * own bytes: the value points there, and record() ends it with a NUL in
 * place of the byte after it (a quote, a comma, a brace or whitespace,
 * which no other value holds), once the walk is over.
 */
void
JsonlReader::store_input(const char *s, size_t len, size_t flds, int nflds)
{
	size_t		off = (size_t) (s - in);

	stored += len;
	for (int i = 0; i < nflds; i++)
		entries[nentries++] = {stack[flds + i], kInput, off, len};
}

/* s as a JSON string literal, escaped as json_reader.c writes it. */
void
JsonlReader::ser_string(std::string_view s)
{
	static const char hex[] = "0123456789abcdef";

	ser.push_back('"');
	for (unsigned char c : s)
	{
		if (c >= 0x20 && c != '"' && c != '\\')
		{
			ser.push_back((char) c);
			continue;
		}
		ser.push_back('\\');
		switch (c)
		{
			case '"':
				ser.push_back('"');
				break;
			case '\\':
				ser.push_back('\\');
				break;
			case '\b':
				ser.push_back('b');
				break;
			case '\f':
				ser.push_back('f');
				break;
			case '\n':
				ser.push_back('n');
				break;
			case '\r':
				ser.push_back('r');
				break;
			case '\t':
				ser.push_back('t');
				break;
			default:
				ser.append("u00");
				ser.push_back(hex[c >> 4]);
				ser.push_back(hex[c & 15]);
				break;
		}
	}
	ser.push_back('"');
}

/*
 * The wanted fields ending at key below the active trie nodes
 * stack[act .. act + nact), into flds, and the nodes it leads to that have
 * children, into kids, in the order of the walk.
 */
void
JsonlReader::match_key(std::string_view key, size_t act, int nact,
					   std::vector<int> &flds, std::vector<int> &kids)
{
	bool		normalized = false;

	for (int i = 0; i < nact; i++)
	{
		const Node &parent = nodes[stack[act + i]];

		for (int loose = 0; loose < 2; loose++)
		{
			const std::vector<std::vector<int>> &b =
				loose ? parent.by_nlen : parent.by_len;

			if (b.empty())
				continue;
			/* a key shorter than every loose segment cannot match one */
			if (loose && key.size() < parent.min_nlen)
				continue;
			/* the key by the name rule, once, for the loose segments */
			if (loose && !normalized)
			{
				size_t		j = 0;

				if (nkey.size() < key.size())
					nkey.resize(key.size());
				for (unsigned char ch : key)
				{
					nkey[j] = (char) norm(ch);
					j += nkey[j] != 0;
				}
				nkey_len = j;
				normalized = true;
			}

			size_t		n = loose ? nkey_len : key.size();

			if (n >= b.size())
				continue;
			for (int c : b[n])
			{
				const Node &nd = nodes[c];

				if (!seg_match(nd, key, nkey.data()))
					continue;
				flds.insert(flds.end(), nd.fields.begin(), nd.fields.end());
				if (!nd.children.empty())
					kids.push_back(c);
			}
		}
	}
}

/*
 * The members of obj; the trie nodes stack[act .. act + nact) are active in
 * it.  false: not taken (hand over).
 */
bool
JsonlReader::walk_object(od::object obj, size_t act, int nact, int depth)
{
	bool		first = true;
	uint64_t	rec = attempt;
	/* the root's members are matched through root_cache */
	bool		root = depth == 1 && nact > 0;
	size_t		ord = 0;

	if (in_ser)
		ser.push_back('{');
	for (auto res : obj)
	{
		std::string_view key;
		size_t		base = stack.size();
		int			nflds = 0,
					nnodes = 0;
		bool		ok;
		const std::vector<int> *cand,
				   *kids;
		RootSlot   *slot = nullptr;

		if (res.error())
			return false;

		od::field  &f = res.value_unsafe();
		const char *k = (const char *) f.key().raw();

		if (root && ord < kRootSlots)
			slot = &root_cache[ord];
		ord++;

		/*
		 * At the root, the key the same member had last time, when these
		 * bytes are that key (which has no '"' or '\\') and a quote ends
		 * them: its match is known.
		 */
		if (slot != nullptr && slot->ok &&
			(size_t) (line_end - k) > slot->key.size() &&
			k[slot->key.size()] == '"' &&
			memcmp(k, slot->key.data(), slot->key.size()) == 0)
		{
			key = std::string_view(k, slot->key.size());
			cand = &slot->fields;
			kids = &slot->kids;
		}
		else
		{
			/*
			 * The key as written when it has no escape, else unescaped.
			 * simdjson found the closing quote: the search ends in the
			 * line.
			 */
			const char *q = quote_or_backslash(k);

			if (*q == '"')
				key = std::string_view(k, q - k);
			else if (f.unescaped_key().get(key))
				return false;
			/* the fields this member's value is for, the nodes inside it */
			if (slot != nullptr)
			{
				slot->ok = false;
				slot->fields.clear();
				slot->kids.clear();
				match_key(key, act, nact, slot->fields, slot->kids);
				if (*q == '"')
				{
					slot->key.assign(key.data(), key.size());
					slot->ok = true;
				}
				cand = &slot->fields;
				kids = &slot->kids;
			}
			else
			{
				mf.clear();
				pend.clear();
				match_key(key, act, nact, mf, pend);
				cand = &mf;
				kids = &pend;
			}
		}
		/* the first key matching a field in the record takes it */
		for (int fl : *cand)
			if (field_rec[fl] != rec)
			{
				field_rec[fl] = rec;
				stack.push_back(fl);
				nflds++;
			}
		/* behind the fields: the nodes active inside the value */
		nnodes = (int) kids->size();
		stack.insert(stack.end(), kids->begin(), kids->end());
		if (in_ser)
		{
			if (!first)
				ser.push_back(',');
			ser_string(key);
			ser.push_back(':');
		}
		first = false;
		ok = walk_value(f.value(), base, nflds, base + nflds, nnodes, depth);
		stack.resize(base);
		if (!ok)
			return false;
	}
	if (in_ser)
		ser.push_back('}');
	return true;
}

bool
JsonlReader::walk_array(od::array arr, int depth)
{
	bool		first = true;

	if (in_ser)
		ser.push_back('[');
	for (auto res : arr)
	{
		if (res.error())
			return false;

		od::value  &v = res.value_unsafe();

		if (in_ser && !first)
			ser.push_back(',');
		first = false;
		if (!walk_value(v, 0, 0, 0, 0, depth))
			return false;
	}
	if (in_ser)
		ser.push_back(']');
	return true;
}

/*
 * A value; it is wanted by fields stack[flds ..+nflds), and nodes
 * stack[act ..+nact) are active inside it when it is an object.
 */
bool
JsonlReader::walk_value(od::value &v, size_t flds, int nflds, size_t act,
						int nact, int depth)
{
	std::string_view tok = v.raw_json_token();

	/* the token's first byte tells the type (what type() does) */
	while (!tok.empty() && is_ws(tok.back()))
		tok.remove_suffix(1);
	if (tok.empty())
		return false;
	switch (tok[0])
	{
		case '{':
		case '[':
			{
				bool		outer = nflds > 0 && !in_ser;
				size_t		first_cap = caps.size();
				bool		ok;

				/* the walk recurses: deep nesting goes to yajl */
				if (depth >= kMaxDepth)
					return false;

				if (outer)
				{
					in_ser = true;
					ser.clear();
				}
				for (int i = 0; i < nflds; i++)
					caps.push_back({stack[flds + i], ser.size(), 0});
				if (tok[0] == '{')
				{
					od::object	o;

					ok = !v.get_object().get(o) && walk_object(o, act, nact, depth + 1);
				}
				else
				{
					od::array	a;

					ok = !v.get_array().get(a) && walk_array(a, depth + 1);
				}
				if (!ok)
					return false;
				for (size_t i = first_cap; i < first_cap + (size_t) nflds; i++)
					caps[i].end = ser.size();
				if (outer)
				{
					/* keep the captures; one copy of each distinct range */
					size_t		ps = SIZE_MAX,
								pe = 0,
								off = 0;

					for (const Capture &cp : caps)
					{
						size_t		len = cp.end - cp.start;

						if (cp.start != ps || cp.end != pe)
						{
							off = arena.size();
							arena.append(ser, cp.start, len);
							arena.push_back('\0');
							stored += len;
							ps = cp.start;
							pe = cp.end;
						}
						entries[nentries++] = {cp.field, kArena, off, len};
					}
					caps.clear();
					in_ser = false;
				}
				return true;
			}
		case '"':
			{
				std::string_view s;

				/*
				 * Without a backslash the text between the quotes is the
				 * value (simdjson checked UTF-8 and control characters for
				 * the whole line); otherwise unescaping checks the escapes.
				 */
				od::raw_json_string raw;

				if (tok.size() < 2 || tok.back() != '"' ||
					v.get_raw_json_string().get(raw))
					return false;
				s = tok.substr(1, tok.size() - 2);
				if (has_backslash(s))
				{
					if (v.get_string().get(s))
						return false;
					if (nflds > 0)
					{
						/* \u0000: a value PostgreSQL's text refuses */
						if (memchr(s.data(), '\0', s.size()) != nullptr)
							nul_value = true;
						store(s.data(), s.size(), flds, nflds);
					}
				}
				else if (nflds > 0)
					store_input(s.data(), s.size(), flds, nflds);
				if (in_ser)
					ser_string(s);
				return true;
			}
		case 't':
		case 'f':
			{
				bool		b;

				if ((tok != "true" && tok != "false") || v.get_bool().get(b))
					return false;
			}
			break;
		case 'n':
			{
				bool		is_null = false;

				if (tok != "null" || v.is_null().get(is_null) || !is_null)
					return false;
			}
			if (in_ser)
				ser.append(tok);
			for (int i = 0; i < nflds; i++)
				entries[nentries++] = {stack[flds + i], kNull, 0, 0};
			return true;
		default:
			/* left for On-Demand to skip: it checks what follows a number */
			if (!valid_number(tok))
				return false;
			break;
	}
	if (in_ser)
		ser.append(tok);
	if (nflds > 0)
		store_input(tok.data(), tok.size(), flds, nflds);
	return true;
}

/* ---------------------------------------------------------------- */
/* Lines */

/* The keys of the first record, as the yajl reader lists them. */
void
JsonlReader::first_keys(const char *doc, size_t len)
{
	JsonReader *y = json_reader_create(JSON_FORMAT_LINES, nullptr, nullptr,
									   0, 0);
	const ReaderField *f;
	const char *const *names;
	int			n;

	if (y == nullptr)
		return;
	if (json_reader_feed(y, doc, len))
	{
		json_reader_finish(y);
		if (json_reader_next(y, &f, &n) == READER_RECORD)
		{
			json_reader_first_keys(y, &names, &n);
			for (int i = 0; i < n; i++)
				fk.emplace_back(names[i]);
		}
	}
	json_reader_free(y);
}

/*
 * Parse in[start .. end), a line with a '{' at start and no whitespace
 * before end, as one record.  false: not taken.
 */
bool
JsonlReader::parse_line(size_t start, size_t end)
{
	od::document doc;
	od::object	obj;
	size_t		root = 0;

	char		after = in[end];
	bool		ok;

	nentries = 0;
	arena.clear();
	caps.clear();
	stack.clear();
	in_ser = false;
	stored = 0;
	nul_value = false;
	attempt++;
	if (!nodes[0].children.empty())
		stack.push_back(root);

	/*
	 * simdjson reads the byte after the document as its end mark: it must
	 * be a NUL (as in simdjson's own padding), or an unclosed object could
	 * pass for closed by a '}' that follows.
	 */
	in[end] = '\0';
	line_end = in + end;
	if (nodes[0].children.empty() && end - start <= kDomLine)
	{
		/*
		 * Nothing wanted: the line need only be valid JSON, and the DOM
		 * parser checks all of it (grammar, escapes, UTF-8, nothing after
		 * the value) in one go, faster than the walk below.  What it
		 * refuses goes to yajl as ever.  The line begins with '{': valid,
		 * it is an object.
		 */
		simdjson::dom::element e;

		ok = !dom.parse(in + start, end - start, false).get(e) &&
			e.type() == simdjson::dom::element_type::OBJECT;
		in[end] = after;
		return ok;
	}
	ok = !parser.iterate(in + start, end - start, in_cap - start).get(doc) &&
		!doc.get_object().get(obj) &&
		walk_object(obj, 0, (int) stack.size(), 1) &&
	/* nothing after the object (its end is the line's last token) */
		doc.current_location().error() == simdjson::OUT_OF_BOUNDS;
	in[end] = after;
	return ok && stored <= limit;
}

/* Append bytes, dropping those before keep when room is needed. */
bool
JsonlReader::append(const char *data, size_t len)
{
	size_t		pad = simdjson::SIMDJSON_PADDING;

	if (len > in_cap - in_len || in_cap - in_len - len < pad)
	{
		size_t		used = in_len - keep;
		size_t		need;

		if (len > SIZE_MAX - used - pad - 1)
			return false;
		need = used + len + pad;
		if (need <= in_cap && keep > 0)
			memmove(in, in + keep, used);
		else
		{
			size_t		cap = in_cap ? in_cap : kInitialBuffer;
			char	   *n;

			while (cap < need)
				cap = (cap > SIZE_MAX / 2) ? need : cap * 2;
			n = (char *) malloc(cap);
			if (n == nullptr)
				return false;
			if (used > 0)
				memcpy(n, in + keep, used);
			free(in);
			in = n;
			in_cap = cap;
		}
		pos -= keep;
		scan -= keep;
		in_len = used;
		keep = 0;
	}
	memcpy(in + in_len, data, len);
	in_len += len;
	return true;
}

/* Give the rest of the stream, from keep on, to the yajl reader. */
void
JsonlReader::hand_over()
{
	yajl = json_reader_create(JSON_FORMAT_LINES, nullptr,
							  wanted.empty() ? nullptr : wanted.data(),
							  (int) wanted.size(), max_record);
	if (yajl == nullptr)
	{
		failed = true;
		return;
	}
	json_reader_continue_after(yajl, nrecords);
	/* a failed feed leaves the yajl reader in its out-of-memory error */
	if (in_len > keep)
		(void) json_reader_feed(yajl, in + keep, in_len - keep);
	if (finished)
		json_reader_finish(yajl);
	free(in);
	in = nullptr;
	in_cap = in_len = keep = pos = scan = 0;
}

ReaderStatus
JsonlReader::next(const ReaderField **fields, int *nfields)
{
	for (;;)
	{
		const char *nl;
		size_t		end,
					next_pos,
					first = 0,
					last = 0;

		if (yajl)
			return json_reader_next(yajl, fields, nfields);
		if (failed)
			return READER_ERROR;
		if (eof)
			return READER_EOF;

		if (!bom_done)
		{
			size_t		avail = in_len - pos;

			if (avail < 3 && !finished &&
				(avail == 0 || memcmp(in + pos, "\xEF\xBB\xBF", avail) == 0))
				return READER_NEED_MORE;
			if (avail >= 3 && memcmp(in + pos, "\xEF\xBB\xBF", 3) == 0)
				pos = scan = pos + 3;
			bom_done = true;
		}

		nl = (const char *) memchr(in + scan, '\n', in_len - scan);
		if (nl == nullptr)
		{
			scan = in_len;
			if (!finished)
			{
				/* a stretch yajl could refuse, or a very long line */
				if (in_len - keep > limit || in_len - pos > kMaxLine)
				{
					hand_over();
					continue;
				}

				/*
				 * A record may be complete before its newline comes (yajl
				 * returns it then): try a short line that ends in '}'; if
				 * it does not parse yet, more bytes may complete it.
				 */
				if (in_len - pos <= kEarlyLine && trim(pos, in_len, &first, &last) &&
					in[first] == '{' && in[last - 1] == '}' &&
					last - keep <= limit && parse_line(first, last))
					return record(first, last, last, fields, nfields);
				return READER_NEED_MORE;
			}
			end = next_pos = in_len;
		}
		else
		{
			end = (size_t) (nl - in);
			next_pos = end + 1;
		}

		if (!trim(pos, end, &first, &last))
		{
			/* a blank line */
			if (next_pos - keep > limit)
			{
				hand_over();
				continue;
			}
			pos = scan = next_pos;
			if (nl == nullptr)
				eof = true;
			continue;
		}
		if (in[first] != '{' || in[last - 1] != '}' || last - keep > limit ||
			end - pos > kMaxLine || !parse_line(first, last))
		{
			hand_over();
			continue;
		}
		return record(first, last, next_pos, fields, nfields);
	}
}

/* in[start .. end) without the whitespace around it; false if blank. */
bool
JsonlReader::trim(size_t start, size_t end, size_t *first, size_t *last)
{
	while (start < end && is_ws(in[start]))
		start++;
	while (end > start && is_ws(in[end - 1]))
		end--;
	*first = start;
	*last = end;
	return start < end;
}

/* Return the record just parsed from in[first .. last); go on at next_pos. */
ReaderStatus
JsonlReader::record(size_t first, size_t last, size_t next_pos,
					const ReaderField **fields, int *nfields)
{
	nrecords++;
	if (nrecords == 1)
		first_keys(in + first, last - first);
	for (ReaderField &f : out)
		f = {"", 0, true};
	/* the line's bytes are no longer read: values in it end in a NUL */
	for (size_t i = 0; i < nentries; i++)
	{
		const Entry &e = entries[i];

		switch (e.kind)
		{
			case kNull:
				out[e.field] = {"", 0, true};
				break;
			case kArena:
				out[e.field] = {arena.data() + e.off, e.len, false};
				break;
			case kInput:
				in[e.off + e.len] = '\0';
				out[e.field] = {in + e.off, e.len, false};
				break;
		}
	}
	keep = last;
	pos = next_pos;
	if (scan < pos)
		scan = pos;
	*fields = out.data();
	*nfields = (int) wanted.size();
	return READER_RECORD;
}

/* ---------------------------------------------------------------- */
/* The C interface: no exception leaves these functions */

extern "C" JsonlReader *
jsonl_reader_create(const JsonWantedPath *wanted, int nwanted,
					size_t max_record)
{
	JsonlReader *r = nullptr;

	if (nwanted < 0 || (nwanted > 0 && wanted == nullptr))
		return nullptr;
	for (int i = 0; i < nwanted; i++)
		if (wanted[i].path == nullptr)
			return nullptr;
	try
	{
		r = new JsonlReader();
		r->parser.threaded = false;
		r->max_record = max_record;
		r->limit = max_record ? max_record : SIZE_MAX;
		r->nodes.emplace_back();
		r->paths.reserve((size_t) nwanted);
		for (int i = 0; i < nwanted; i++)
		{
			r->paths.emplace_back(wanted[i].path);
			r->add_path(i, wanted[i].path, wanted[i].loose);
		}
		for (int i = 0; i < nwanted; i++)
			r->wanted.push_back({r->paths[i].c_str(), wanted[i].loose});
		r->field_rec.assign((size_t) nwanted, 0);
		r->root_cache.resize(kRootSlots);
		r->entries.resize((size_t) nwanted);
		r->out.resize((size_t) nwanted);
		r->out.reserve((size_t) nwanted + 1);	/* data() never NULL */
		if (!r->append("", 0))
			throw std::bad_alloc();
		return r;
	}
	catch (...)
	{
		delete r;
		return nullptr;
	}
}

extern "C" void
jsonl_reader_free(JsonlReader *r)
{
	delete r;
}

extern "C" bool
jsonl_reader_feed(JsonlReader *r, const char *data, size_t len)
{
	try
	{
		if (r->yajl)
			return json_reader_feed(r->yajl, data, len);
		if (r->failed)
			return false;
		if (r->finished)
		{
			/* the yajl reader reports it, as it does */
			r->hand_over();
			return r->yajl ? json_reader_feed(r->yajl, data, len) : false;
		}
		if (!r->append(data, len))
		{
			r->failed = true;
			return false;
		}
		return true;
	}
	catch (...)
	{
		r->failed = true;
		return false;
	}
}

extern "C" void
jsonl_reader_finish(JsonlReader *r)
{
	r->finished = true;
	if (r->yajl)
		json_reader_finish(r->yajl);
}

extern "C" ReaderStatus
jsonl_reader_next(JsonlReader *r, const ReaderField **fields, int *nfields)
{
	*fields = nullptr;
	*nfields = 0;
	try
	{
		return r->next(fields, nfields);
	}
	catch (...)
	{
		r->failed = true;
		return READER_ERROR;
	}
}

extern "C" const char *
jsonl_reader_error(const JsonlReader *r)
{
	if (r->yajl)
		return json_reader_error(r->yajl);
	return r->failed ? "out of memory" : "no error";
}

extern "C" uint64_t
jsonl_reader_record_number(const JsonlReader *r)
{
	uint64_t	n = r->yajl ? json_reader_record_number(r->yajl) : 0;

	return n ? n : r->nrecords;
}

extern "C" void
jsonl_reader_first_keys(JsonlReader *r, const char *const **names,
						int *nnames)
{
	*names = nullptr;
	*nnames = 0;
	if (r->yajl && r->nrecords == 0)
	{
		json_reader_first_keys(r->yajl, names, nnames);
		return;
	}
	try
	{
		r->fk_ptrs.clear();
		for (const std::string &k : r->fk)
			r->fk_ptrs.push_back(k.c_str());
		r->fk_ptrs.push_back(nullptr);
		*names = r->fk_ptrs.data();
		*nnames = (int) r->fk.size();
	}
	catch (...)
	{
	}
}

extern "C" bool
jsonl_reader_values_utf8(const JsonlReader *r)
{
	/* until the hand-over, every record came from the simdjson path */
	return r->yajl == nullptr && !r->nul_value;
}

extern "C" bool
jsonl_reader_fell_back(const JsonlReader *r)
{
	return r->yajl != nullptr;
}
