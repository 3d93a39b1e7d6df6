/*
 * debugvars.c — the MRTDEBUG parser (Go's parsedebugvars, runtime1.go).
 *
 * A pure function with no libc and no global state, so that the reliability
 * suite can fuzz it on its own. Every read is of s[i] with i < n checked
 * first, every write to bad goes through badput, which never passes badn - 1.
 */
#include "debugvars.h"

static const struct debugvar {
	const char *name;
	size_t off;  /* offset of the field in struct debugvars */
	int32_t max; /* values 0..max are accepted; a string: its longest */
	const char *want; /* the accepted values, for the report */
	int str;     /* a string (const char * at off, its length after it) */
} vars[] = {
	{ "mtrace", offsetof(struct debugvars, mtrace), DEBUG_MTRACE_MAX, "0 or 1", 0 },
	{ "schedtrace", offsetof(struct debugvars, schedtrace), DEBUG_SCHEDTRACE_MAX,
	  "milliseconds, 0 to 3600000", 0 },
	{ "threadnames", offsetof(struct debugvars, threadnames), 1, "0 or 1", 0 },
	{ "trace", offsetof(struct debugvars, trace), DEBUG_TRACE_MAX,
	  "a file name, 1 to 1024 bytes", 1 },
	{ "mprotectguards", offsetof(struct debugvars, mprotectguards), 1, "0 or 1", 0 },
};

/* The report being built in bad. */
struct report {
	char *buf;
	size_t n;   /* capacity, NUL included */
	size_t len; /* bytes written, NUL excluded; len < n when n > 0 */
	int full;   /* something did not fit: "..." has been written */
};

enum { quotemax = 40 }; /* bytes of a bad setting quoted before "..." */

static void badput(struct report *r, char c)
{
	if (r->n == 0 || r->full)
		return;
	/* Keep room for "..." and the NUL: when it would be needed, end. */
	if (r->n >= 5 && r->len + 4 >= r->n) {
		r->buf[r->len++] = '.';
		r->buf[r->len++] = '.';
		r->buf[r->len++] = '.';
		r->buf[r->len] = '\0';
		r->full = 1;
		return;
	}
	if (r->len + 1 >= r->n) {
		r->full = 1;
		return;
	}
	r->buf[r->len++] = c;
	r->buf[r->len] = '\0';
}

static void badstr(struct report *r, const char *s)
{
	while (*s != '\0')
		badput(r, *s++);
}

/* Quotes s[0..k) with bytes outside printable ASCII, '"' and '\' as \xNN. */
static void badquote(struct report *r, const char *s, size_t k)
{
	static const char hex[] = "0123456789abcdef";
	badput(r, '"');
	for (size_t i = 0; i < k; i++) {
		if (i == quotemax) {
			badstr(r, "...");
			break;
		}
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
			badput(r, '\\');
			badput(r, 'x');
			badput(r, hex[c >> 4]);
			badput(r, hex[c & 15]);
		} else {
			badput(r, (char)c);
		}
	}
	badput(r, '"');
}

static void badone(struct report *r, int nbad, const char *what, const char *s, size_t k,
                   const char *want)
{
	if (nbad > 0)
		badstr(r, ", ");
	badstr(r, what);
	badput(r, ' ');
	badquote(r, s, k);
	if (want != NULL) {
		badstr(r, " (want ");
		badstr(r, want);
		badput(r, ')');
	}
}

/* Is s[0..k) exactly the NUL-terminated name? */
static int nameis(const char *s, size_t k, const char *name)
{
	size_t i = 0;
	for (; i < k; i++)
		if (name[i] == '\0' || name[i] != s[i])
			return 0;
	return name[i] == '\0';
}

/* Parses s[0..k) as a decimal number in 0..max; -1 if it is not one. */
static int32_t parsenum(const char *s, size_t k, int32_t max)
{
	if (k == 0)
		return -1;
	int64_t v = 0;
	for (size_t i = 0; i < k; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
		if (v > max) /* checked per digit: v never overflows */
			return -1;
	}
	return (int32_t)v;
}

int parsedebugvars(const char *s, size_t n, struct debugvars *dv, char *bad, size_t badn)
{
	struct report r = { bad, bad != NULL ? badn : 0, 0, 0 };
	if (r.n > 0)
		r.buf[0] = '\0';
	if (s == NULL || dv == NULL)
		return 0;
	/* The string ends at n or at its NUL, whichever comes first. */
	size_t end = 0;
	while (end < n && s[end] != '\0')
		end++;

	int nbad = 0;
	size_t i = 0;
	while (i < end) {
		size_t start = i;
		while (i < end && s[i] != ',')
			i++;
		const char *set = s + start;
		size_t k = i - start;
		if (i < end)
			i++; /* the comma */
		if (k == 0)
			continue;

		size_t eq = 0;
		while (eq < k && set[eq] != '=')
			eq++;
		const struct debugvar *v = NULL;
		for (size_t j = 0; j < sizeof vars / sizeof vars[0]; j++)
			if (nameis(set, eq, vars[j].name))
				v = &vars[j];
		if (v == NULL) {
			badone(&r, nbad++, "unknown", set, k, NULL);
			continue;
		}
		if (v->str) {
			/* The value is the rest of the setting, commas having
			 * ended it: s[start + eq + 1, i), inside s[0, end). */
			size_t len = eq < k ? k - eq - 1 : 0;
			if (len == 0 || len > (size_t)v->max) {
				badone(&r, nbad++, "malformed", set, k, v->want);
				continue;
			}
			dv->trace = set + eq + 1;
			dv->tracelen = (int32_t)len;
			continue;
		}
		int32_t val = eq < k ? parsenum(set + eq + 1, k - eq - 1, v->max) : -1;
		if (val < 0) {
			badone(&r, nbad++, "malformed", set, k, v->want);
			continue;
		}
		*(int32_t *)((char *)dv + v->off) = val;
	}
	return nbad;
}
