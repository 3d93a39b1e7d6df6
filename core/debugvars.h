/*
 * debugvars.h — MRTDEBUG, mrt's GODEBUG: the settings and their parser.
 *
 * Self-contained on purpose (no runtime.h, no libc): core/debugvars.c is a
 * pure function that a fuzzer can build on its own.
 */
#ifndef MRT_DEBUGVARS_H
#define MRT_DEBUGVARS_H

#include <stddef.h>
#include <stdint.h>

struct debugvars {
	int32_t mtrace;     /* 1: print every M event to fd 2 */
	int32_t schedtrace; /* > 0: a monitor M prints a summary every this many ms */
	int32_t threadnames; /* 1: name every M's thread (MRT_F_THREAD_NAMES) */
	/* trace=<file>: record every M event and g switch into file
	 * (core/tracefile.c). The name is s[trace .. trace + tracelen) of the
	 * parsed string, not NUL-terminated; trace is NULL when not set. */
	const char *trace;
	int32_t tracelen;
	int32_t mprotectguards; /* 1: guard pages by mprotect, never the kernel's
	                           guard regions (for gdb's gcore: see mrt.h) */
};

/* Upper bounds of the values: anything above is malformed. */
#define DEBUG_MTRACE_MAX 1
#define DEBUG_SCHEDTRACE_MAX 3600000 /* one hour */
#define DEBUG_TRACE_MAX 1024 /* bytes of a trace file's name */

/*
 * parsedebugvars parses the comma-separated settings in s: at most n bytes,
 * fewer if a NUL comes first; nothing at or past s[n] is ever read. Each
 * setting is name=value with value a decimal number in range, or for
 * trace a file name of 1 to DEBUG_TRACE_MAX bytes (anything but a comma,
 * which ends the setting); a known name sets its field in *dv (a later
 * setting of the same name wins), and empty settings (",,", a trailing
 * comma) are skipped, as GODEBUG does.
 *
 * Unknown or malformed settings are skipped too, and described in bad
 * (badn bytes, always NUL-terminated when badn > 0; cut short with "..."
 * when it does not fit), each quoted with non-printable bytes escaped, so
 * that the caller can report all of them in one line. Returns how many
 * settings were skipped. s may be NULL (n is then ignored; nothing is
 * parsed, as when dv is NULL); bad may be NULL when badn is 0.
 */
int parsedebugvars(const char *s, size_t n, struct debugvars *dv, char *bad, size_t badn);

#endif
