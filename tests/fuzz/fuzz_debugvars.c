/*
 * fuzz_debugvars.c — libFuzzer target for the MRTDEBUG parser
 * (core/debugvars.c), checked against a model written independently here.
 *
 * The input is the variable's value, not NUL-terminated, in a heap block of
 * exactly its size: AddressSanitizer stops any read past n. The report
 * buffer is also exactly sized, its size taken from the input's length, so
 * every capacity from 0 up is tried. Checks: the result equals the model's
 * (the fields set and the number of settings skipped); every field is unset
 * or in range; the report is NUL-terminated inside its buffer, empty when
 * nothing was skipped and not when something was (if it had room); the
 * parser is a pure function (a second run gives the same).
 *
 *   ninja -C build-fuzz tests/fuzz/fuzz_debugvars
 *   build-fuzz/tests/fuzz/fuzz_debugvars -dict=tests/fuzz/debugvars.dict \
 *       NEW_CORPUS_DIR tests/fuzz/debugvars
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "debugvars.h"

#define CHECK(c)                                                                          \
	do {                                                                              \
		if (!(c))                                                                 \
			__builtin_trap();                                                 \
	} while (0)

/* The model: the grammar as the header states it, written without looking
 * at the parser. */
static int model(const char *s, size_t n, struct debugvars *dv)
{
	static const struct {
		const char *name;
		size_t off;
		long max;
	} names[] = {
		{ "mtrace", offsetof(struct debugvars, mtrace), DEBUG_MTRACE_MAX },
		{ "schedtrace", offsetof(struct debugvars, schedtrace), DEBUG_SCHEDTRACE_MAX },
		{ "threadnames", offsetof(struct debugvars, threadnames), 1 },
		{ "mprotectguards", offsetof(struct debugvars, mprotectguards), 1 },
	};
	size_t end = strnlen(s, n);
	int bad = 0;
	size_t i = 0;
	while (i < end) {
		const char *set = s + i;
		const char *comma = memchr(set, ',', end - i);
		size_t k = comma != NULL ? (size_t)(comma - set) : end - i;
		i += k + (comma != NULL);
		if (k == 0)
			continue; /* empty settings are skipped silently */
		const char *eq = memchr(set, '=', k);
		size_t namelen = eq != NULL ? (size_t)(eq - set) : k;
		/* trace=<file>: the rest of the setting, 1 to DEBUG_TRACE_MAX
		 * bytes of anything. */
		if (namelen == 5 && memcmp(set, "trace", 5) == 0) {
			size_t vl = eq != NULL ? k - 6 : 0;
			if (vl == 0 || vl > DEBUG_TRACE_MAX) {
				bad++;
				continue;
			}
			dv->trace = eq + 1;
			dv->tracelen = (int32_t)vl;
			continue;
		}
		int which = -1;
		for (int j = 0; j < (int)(sizeof names / sizeof names[0]); j++)
			if (strlen(names[j].name) == namelen && memcmp(set, names[j].name, namelen) == 0)
				which = j;
		if (which < 0 || eq == NULL) {
			bad++; /* unknown, or known without a value */
			continue;
		}
		const char *v = eq + 1;
		size_t vl = k - namelen - 1, d = 0, z = 0;
		while (d < vl && v[d] >= '0' && v[d] <= '9')
			d++;
		while (z < vl && v[z] == '0')
			z++;
		if (vl == 0 || d != vl || vl - z > 10) {
			bad++; /* empty, not decimal, or far too big */
			continue;
		}
		long val = 0;
		for (size_t j = z; j < vl; j++)
			val = val * 10 + (v[j] - '0');
		if (val > names[which].max) {
			bad++;
			continue;
		}
		*(int32_t *)((char *)dv + names[which].off) = (int32_t)val;
	}
	return bad;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size ? size : 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	size_t badn = (size * 7) % 131;
	char *bad = badn ? malloc(badn) : NULL;
	if (bad != NULL)
		memset(bad, 'X', badn);

	struct debugvars dv, dv2, want;
	memset(&dv, 0xff, sizeof dv); /* every field "unset": -1, or all ones */
	memcpy(&dv2, &dv, sizeof dv);
	memcpy(&want, &dv, sizeof dv);
	const struct debugvars unset = dv;
	int nbad = parsedebugvars(s, size, &dv, bad, badn);
	int nbad2 = parsedebugvars(s, size, &dv2, NULL, 0);
	int wantbad = model(s, size, &want);

	CHECK(nbad == wantbad && nbad2 == nbad);
	CHECK(memcmp(&dv, &want, sizeof dv) == 0 && memcmp(&dv2, &dv, sizeof dv) == 0);
	CHECK(dv.mtrace == -1 || (dv.mtrace >= 0 && dv.mtrace <= DEBUG_MTRACE_MAX));
	CHECK(dv.schedtrace == -1 || (dv.schedtrace >= 0 && dv.schedtrace <= DEBUG_SCHEDTRACE_MAX));
	CHECK(dv.threadnames == -1 || (dv.threadnames >= 0 && dv.threadnames <= 1));
	/* The trace file's name lies inside the input, before its end. */
	CHECK((dv.trace == unset.trace && dv.tracelen == -1) ||
	      (dv.trace > s && dv.tracelen >= 1 && dv.tracelen <= DEBUG_TRACE_MAX &&
	       (size_t)(dv.trace - s) + (size_t)dv.tracelen <= strnlen(s, size) &&
	       memchr(dv.trace, ',', (size_t)dv.tracelen) == NULL));
	CHECK(dv.mprotectguards == -1 || (dv.mprotectguards >= 0 && dv.mprotectguards <= 1));
	if (badn > 0) {
		size_t len = strnlen(bad, badn);
		CHECK(len < badn);
		CHECK(nbad == 0 ? len == 0 : (badn < 2 || len > 0));
	}
	/* NULL string or NULL settings: nothing parsed, report emptied. */
	CHECK(parsedebugvars(NULL, size, &dv, bad, badn) == 0);
	CHECK(badn == 0 || bad[0] == '\0');
	CHECK(parsedebugvars(s, size, NULL, NULL, 0) == 0);
	free(bad);
	free(s);
	return 0;
}
