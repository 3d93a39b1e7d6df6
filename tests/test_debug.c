/*
 * test_debug.c — the debugging aids: the MRTDEBUG parser, the M event trace
 * (mtrace), the periodic summary (schedtrace), mrt_dump and thread names.
 *
 * MRTDEBUG is read once, by mrt_init, so every case that needs mrt runs in a
 * fresh child (run_child) with its own environment; this binary never calls
 * mrt_init itself. The child's fd 2 is what the parent then checks.
 */
#define _GNU_SOURCE
#include "testlib.h"
#include "san.h" /* MRT_TSAN */

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------------------
 * The parser (a pure function: no mrt_init needed)
 * ------------------------------------------------------------------------ */

struct parsecase {
	const char *in;
	int nbad;
	int32_t mtrace, schedtrace;
	const char *bad; /* the report, exactly */
};

static const struct parsecase parsecases[] = {
	{ "", 0, 0, 0, "" },
	{ "mtrace=1", 0, 1, 0, "" },
	{ "mtrace=0", 0, 0, 0, "" },
	{ "schedtrace=1000,mtrace=1", 0, 1, 1000, "" },
	{ ",,mtrace=1,,", 0, 1, 0, "" },
	{ "mtrace=1,mtrace=0", 0, 0, 0, "" }, /* the last one wins */
	{ "schedtrace=0003600000", 0, 0, 3600000, "" },
	{ "schedtrace=3600001", 1, 0, 0,
	  "malformed \"schedtrace=3600001\" (want milliseconds, 0 to 3600000)" },
	{ "schedtrace=99999999999999999999999", 1, 0, 0,
	  "malformed \"schedtrace=99999999999999999999999\" (want milliseconds, 0 to 3600000)" },
	{ "mtrace=2", 1, 0, 0, "malformed \"mtrace=2\" (want 0 or 1)" },
	{ "threadnames=2", 1, 0, 0, "malformed \"threadnames=2\" (want 0 or 1)" },
	{ "mprotectguards=2", 1, 0, 0, "malformed \"mprotectguards=2\" (want 0 or 1)" },
	{ "mtrace=", 1, 0, 0, "malformed \"mtrace=\" (want 0 or 1)" },
	{ "mtrace", 1, 0, 0, "malformed \"mtrace\" (want 0 or 1)" },
	{ "mtrace=-1", 1, 0, 0, "malformed \"mtrace=-1\" (want 0 or 1)" },
	{ "mtrace=+1", 1, 0, 0, "malformed \"mtrace=+1\" (want 0 or 1)" },
	{ "mtrace=1 ", 1, 0, 0, "malformed \"mtrace=1 \" (want 0 or 1)" },
	{ "mtracex=1", 1, 0, 0, "unknown \"mtracex=1\"" },
	{ "mtrac=1", 1, 0, 0, "unknown \"mtrac=1\"" },
	{ "=1", 1, 0, 0, "unknown \"=1\"" },
	{ "MTRACE=1", 1, 0, 0, "unknown \"MTRACE=1\"" },
	{ "foo=1,mtrace=1,bar", 2, 1, 0, "unknown \"foo=1\", unknown \"bar\"" },
	{ "x\"\\\x01\xff=1", 1, 0, 0, "unknown \"x\\x22\\x5c\\x01\\xff=1\"" },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 1, 0, 0,
	  "unknown \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\"" },
};

static void test_parse_settings(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof parsecases / sizeof parsecases[0]; i++) {
		const struct parsecase *c = &parsecases[i];
		struct debugvars dv = { 0 };
		char bad[256];
		memset(bad, 'Z', sizeof bad);
		int n = parsedebugvars(c->in, strlen(c->in) + 1, &dv, bad, sizeof bad);
		if (n != c->nbad || dv.mtrace != c->mtrace || dv.schedtrace != c->schedtrace ||
		    strcmp(bad, c->bad) != 0) {
			print_error("case %zu \"%s\": nbad %d mtrace %d schedtrace %d bad [%s]\n", i,
			            c->in, n, dv.mtrace, dv.schedtrace, bad);
			fail();
		}
	}
	/* NULLs are harmless. */
	struct debugvars dv = { 0 };
	assert_int_equal(parsedebugvars(NULL, 10, &dv, NULL, 0), 0);
	assert_int_equal(parsedebugvars("foo", 3, &dv, NULL, 0), 1);
	assert_int_equal(parsedebugvars("mtrace=1", 8, NULL, NULL, 0), 0);
}

/* trace=<file>: the name is the rest of the setting, pointed at in the
 * string, not copied (#16 item 4). */
static void test_parse_trace(void **state)
{
	(void)state;
	struct debugvars dv = { 0 };
	char bad[256];
	const char *s = "mtrace=1,trace=out/a b.json,schedtrace=5";
	assert_int_equal(parsedebugvars(s, strlen(s), &dv, bad, sizeof bad), 0);
	assert_ptr_equal(dv.trace, s + 15);
	assert_int_equal(dv.tracelen, 12);
	assert_int_equal(dv.mtrace, 1);
	assert_int_equal(dv.schedtrace, 5);
	/* The last one wins; a name may hold '='. */
	s = "trace=x,trace=y=z";
	assert_int_equal(parsedebugvars(s, strlen(s), &dv, bad, sizeof bad), 0);
	assert_ptr_equal(dv.trace, s + 14);
	assert_int_equal(dv.tracelen, 3);
	/* Empty, missing, too long: malformed, and the earlier name stays. */
	assert_int_equal(parsedebugvars("trace=,trace", 12, &dv, bad, sizeof bad), 2);
	assert_string_equal(bad, "malformed \"trace=\" (want a file name, 1 to 1024 bytes), "
	                         "malformed \"trace\" (want a file name, 1 to 1024 bytes)");
	assert_ptr_equal(dv.trace, s + 14);
	char longname[6 + 1025 + 1];
	memcpy(longname, "trace=", 6);
	memset(longname + 6, 'a', 1025);
	longname[6 + 1025] = '\0';
	struct debugvars dv2 = { 0 };
	assert_int_equal(parsedebugvars(longname, sizeof longname, &dv2, NULL, 0), 1);
	assert_null(dv2.trace);
	longname[6 + 1024] = '\0';
	assert_int_equal(parsedebugvars(longname, sizeof longname, &dv2, NULL, 0), 0);
	assert_int_equal(dv2.tracelen, 1024);
}

/* n bounds the string: nothing at or past s[n] is read, even without a NUL.
 * The string ends right before a PROT_NONE page, so one byte too far is a
 * SIGSEGV. A NUL before n ends it too. */
static void test_parse_never_reads_past_n(void **state)
{
	(void)state;
	long pg = sysconf(_SC_PAGESIZE);
	char *map = mmap(NULL, 2 * (size_t)pg, PROT_READ | PROT_WRITE,
	                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(map != MAP_FAILED);
	assert_int_equal(mprotect(map + pg, (size_t)pg, PROT_NONE), 0);
	const char *ins[] = { "mtrace=1", "schedtrace=25", "bogus", "mtrace=", "x,", "," };
	for (size_t i = 0; i < sizeof ins / sizeof ins[0]; i++) {
		size_t k = strlen(ins[i]);
		char *s = map + pg - k;
		memcpy(s, ins[i], k); /* no NUL */
		struct debugvars dv = { 0 };
		char bad[64];
		parsedebugvars(s, k, &dv, bad, sizeof bad);
		if (i == 0)
			assert_int_equal(dv.mtrace, 1);
		if (i == 1)
			assert_int_equal(dv.schedtrace, 25);
	}
	/* A shorter n cuts the setting: "mtrace=1" seen as "mtrace=". */
	struct debugvars dv = { 0 };
	assert_int_equal(parsedebugvars("mtrace=1", 7, &dv, NULL, 0), 1);
	assert_int_equal(dv.mtrace, 0);
	/* The NUL ends the string before n does. */
	assert_int_equal(parsedebugvars("mtrace=1\0bogus", 14, &dv, NULL, 0), 0);
	assert_int_equal(dv.mtrace, 1);
	munmap(map, 2 * (size_t)pg);
}

/* The report never overflows bad, is always terminated, and says when it
 * was cut short; every byte of bad past the NUL is untouched. */
static void test_parse_report_is_bounded(void **state)
{
	(void)state;
	const char *in = "foo=1,bar=2,baz=3,mtrace=9,schedtrace=x";
	char full[512];
	int nfull = parsedebugvars(in, strlen(in), &(struct debugvars){ 0 }, full, sizeof full);
	assert_int_equal(nfull, 5);
	size_t lenfull = strlen(full);
	for (size_t badn = 0; badn <= lenfull + 2; badn++) {
		char buf[600];
		memset(buf, 'Z', sizeof buf);
		struct debugvars dv = { 0 };
		assert_int_equal(parsedebugvars(in, strlen(in), &dv, buf, badn), 5);
		if (badn == 0) {
			assert_int_equal(buf[0], 'Z');
			continue;
		}
		size_t len = strnlen(buf, badn);
		assert_true(len < badn); /* terminated inside */
		for (size_t j = badn; j < sizeof buf; j++)
			assert_int_equal(buf[j], 'Z');
		if (len < lenfull && badn >= 5)
			assert_memory_equal(buf + len - 3, "...", 3);
		if (badn > lenfull + 3)
			assert_string_equal(buf, full);
	}
}

/* ------------------------------------------------------------------------
 * The M event trace
 * ------------------------------------------------------------------------ */

static uint32_t started;

static void park_after_start(void *arg)
{
	(void)arg;
	ev_add(&started, 1);
	mrt_stopm();
}

static void noop(void *arg)
{
	(void)arg;
}

/* What the child expects of M id's trace lines: its tid and stacks, printed
 * with mrt's formatter exactly as the trace prints them. */
static void expect(int64_t id)
{
	struct mrt_minfo want = { .id = -1 };
	for (m *mp = allm; mp != NULL; mp = mp->alllink)
		if (mp->id == id)
			want = (struct mrt_minfo){ .id = id,
				                   .tid = mp->procid,
				                   .g0_lo = mp->g0->stack.lo,
				                   .g0_hi = mp->g0->stack.hi,
				                   .gsignal_lo = mp->gsignal->stack.lo,
				                   .gsignal_hi = mp->gsignal->stack.hi };
	CHILD_CHECK(want.id == id);
	mrt_dprintf(2, "expect M%lld tid=%d g0=[%p,%p) gsignal=[%p,%p)\n", (long long)id,
	            want.tid, (void *)want.g0_lo, (void *)want.g0_hi, (void *)want.gsignal_lo,
	            (void *)want.gsignal_hi);
}

/*
 * The child goes through every event: M a is created, starts, parks, is
 * woken, exits and is reaped; a newm past the thread limit fails before an
 * M exists; a clone that fails fails a created M; an M whose minit fails
 * reports it on itself, exits and is reaped.
 */
static void child_mtrace(void)
{
	setenv("MRTDEBUG", "mtrace=1", 1);
	CHILD_CHECK(mrt_init(NULL) == 0);
	mrt_dprintf(2, "expect model %s\n", mrt_threadmodel());

	int64_t a = mrt_newm(park_after_start, NULL, NULL);
	CHILD_CHECK(a == 1);
	ev_wait(&started, 1);
	wait_idle(1);
	expect(a);
	CHILD_CHECK(mrt_startm(noop, NULL, NULL) == a);
	CHILD_CHECK(mrt_join(a) == 0);

	mrt_setmaxthreads(1);
	CHILD_CHECK(mrt_newm(noop, NULL, NULL) == -EAGAIN);
	mrt_setmaxthreads(100);

	mrt_test_fault(FAULT_NEWOSPROC, 1, -ENOMEM);
	CHILD_CHECK(mrt_newm(noop, NULL, NULL) == -ENOMEM);

	mrt_test_fault(FAULT_SIGALTSTACK, 1, -ENOMEM);
	int64_t c = mrt_newm(noop, NULL, NULL);
	CHILD_CHECK(c == 3);
	CHILD_CHECK(mrt_join(c) == -ENOMEM);
	mrt_dprintf(2, "expect end\n");
}

/* The trace lines of M id, in order: their events, into ev (space-separated). */
static void events_of(const char *out, const char *mid, char *ev, size_t n, char *lines,
                      size_t ln)
{
	ev[0] = lines[0] = '\0';
	char pat[32];
	snprintf(pat, sizeof pat, " %s ", mid);
	for (const char *l = out; l != NULL && *l != '\0';) {
		const char *end = strchr(l, '\n');
		size_t len = end != NULL ? (size_t)(end - l) : strlen(l);
		if (strncmp(l, "mrt mtrace t=", 13) == 0) {
			const char *p = strstr(l, pat);
			if (p != NULL && p < l + len) {
				const char *e = p + strlen(pat);
				size_t k = strcspn(e, " \n");
				if (ev[0] != '\0')
					strncat(ev, " ", n - strlen(ev) - 1);
				strncat(ev, e, k < n - strlen(ev) - 1 ? k : n - strlen(ev) - 1);
				strncat(lines, l, len + 1 < ln - strlen(lines) ? len + 1 : 0);
			}
		}
		l = end != NULL ? end + 1 : NULL;
	}
}

/* The value of key= in line (up to the next space or newline). */
static const char *field(const char *line, const char *key, char *buf, size_t n)
{
	const char *p = strstr(line, key);
	if (p == NULL)
		return "";
	p += strlen(key);
	size_t k = strcspn(p, " \n");
	snprintf(buf, n, "%.*s", (int)(k < n - 1 ? k : n - 1), p);
	return buf;
}

static void test_mtrace_shows_every_event(void **state)
{
	(void)state;
	struct child c;
	run_child(child_mtrace, 60, &c);
	if (!WIFEXITED(c.status) || WEXITSTATUS(c.status) != 0 || !strstr(c.out, "expect end")) {
		print_error("child status 0x%x:\n%s\n", c.status, c.out);
		fail();
	}
	bool clone = strstr(c.out, "expect model clone") != NULL;
	char ev[256], lines[4096], buf[128];

	/* m0 is adopted: it starts, it is never created. */
	events_of(c.out, "M0", ev, sizeof ev, lines, sizeof lines);
	assert_string_equal(ev, "started");

	/* M1: the whole life, each line with its tid and stacks. */
	events_of(c.out, "M1", ev, sizeof ev, lines, sizeof lines);
	if (strcmp(ev, "created started parked woken exiting reaped") != 0) {
		print_error("M1's events: [%s]\n%s\n", ev, c.out);
		fail();
	}
	const char *want = strstr(c.out, "expect M1 ");
	assert_non_null(want);
	char wtid[32], wg0[64], wgs[64];
	field(want, "tid=", wtid, sizeof wtid);
	field(want, "g0=", wg0, sizeof wg0);
	field(want, "gsignal=", wgs, sizeof wgs);
	for (const char *l = lines; *l != '\0'; l = strchr(l, '\n') + 1) {
		bool created = strstr(l, " created ") != NULL && strstr(l, " created ") < strchr(l, '\n');
		/* Before the thread exists its tid is not known; in the pthread
		 * model neither is its g0 (the thread library makes it). */
		assert_string_equal(field(l, "tid=", buf, sizeof buf), created ? "-" : wtid);
		if (!created || clone)
			assert_string_equal(field(l, "g0=", buf, sizeof buf), wg0);
		assert_string_equal(field(l, "gsignal=", buf, sizeof buf), wgs);
		assert_non_null(strstr(l, "t="));
		if (created || strstr(l, " reaped ") != NULL)
			assert_string_equal(field(l, "by=", buf, sizeof buf), "M0");
	}

	/* The thread limit refused an M before it had an id. */
	events_of(c.out, "M-", ev, sizeof ev, lines, sizeof lines);
	assert_string_equal(ev, "failed");
	assert_string_equal(field(lines, "err=", buf, sizeof buf), "EAGAIN");
	assert_non_null(strstr(lines, "why=\"mrt: program exceeds 1-thread limit"));

	/* clone failed: the M was created, then failed; nothing else. */
	events_of(c.out, "M2", ev, sizeof ev, lines, sizeof lines);
	assert_string_equal(ev, "created failed");
	assert_string_equal(field(strstr(lines, " failed "), "err=", buf, sizeof buf), "ENOMEM");
	assert_non_null(strstr(lines, "why=\"mrt: failed to create new OS thread"));

	/* minit failed on the M: it says so itself, exits, is reaped. */
	events_of(c.out, "M3", ev, sizeof ev, lines, sizeof lines);
	assert_string_equal(ev, "created failed exiting reaped");
	assert_string_equal(field(strstr(lines, " failed "), "err=", buf, sizeof buf), "ENOMEM");
	assert_null(strstr(lines, "why="));
}

/* ------------------------------------------------------------------------
 * The trace file (MRTDEBUG=trace=<file>, #16 item 4)
 * ------------------------------------------------------------------------ */

static char tracepath[4096], tracemid[4096];
enum { NSWITCH = 3000 }; /* g switches: several of an M's buffers' worth */

static mrt_g *traceg;

static void back(mrt_g *gp, void *arg)
{
	(void)gp;
	(void)arg;
}

/* On the user g: back to g0 (mcall) NSWITCH times. */
static void gloop(void *arg)
{
	(void)arg;
	for (int i = 0; i < NSWITCH; i++)
		mrt_mcall(back, NULL);
}

/* On the woken M: resume the g until it has ended. */
static void rung(void *arg)
{
	(void)arg;
	while (mrt_gstatus(traceg) != MRT_G_DEAD)
		mrt_gogo(traceg);
}

/* A thread libc made, not an M: creates an M and joins it. */
static void *foreign_newm(void *arg)
{
	int64_t id = mrt_newm(noop, NULL, NULL);
	*(int64_t *)arg = id >= 0 && mrt_join(id) == 0 ? id : -1;
	return NULL;
}

static size_t readfile(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	size_t k = 0;
	ssize_t r;
	while (k < n - 1 && (r = read(fd, buf + k, n - 1 - k)) > 0)
		k += (size_t)r;
	buf[k] = '\0';
	close(fd);
	return k;
}

/*
 * The child: M1 parks; an explicit flush; M1 is woken to run a user g that
 * switches back and forth NSWITCH times (its buffer fills and it writes
 * it out itself, several times), exits and is reaped; M2 lives and dies,
 * made by a thread that is not an M;
 * the thread limit refuses a creation; a fork child makes an M of its own,
 * which must not reach the file; then exit(3), whose handler writes the
 * rest. MRTDEBUG is the parent's: the child only inherits it.
 */
/* M1 held between its park and its sleep (TP_MPARKED) until the flush
 * has read the file: its parked event must be there by then (#16 item 4:
 * it was recorded only after the M was on the idle list, so a flush that
 * saw M1 idle could miss it, as one arm64 run did). */
static uint32_t parkgo;

static void hold_parked(int tp, void *arg)
{
	(void)arg;
	if (tp == TP_MPARKED && ev_get(&parkgo) == 0)
		ev_block(&parkgo, 1);
}

static void child_tracefile(void)
{
	CHILD_CHECK(mrt_init(NULL) == 0);
	mrt_test_pointhook(hold_parked);
	CHILD_CHECK(mrt_malg(&traceg, 65536) == 0 && mrt_gostart(traceg, gloop, NULL) == 0);
	int64_t a = mrt_newm(park_after_start, NULL, NULL);
	CHILD_CHECK(a == 1);
	wait_idle(1);
	/* Parked, its events are published: the flush writes them. */
	CHILD_CHECK(mrt_traceflush() > 0);
	static char buf[1 << 16];
	size_t k = readfile(tracepath, buf, sizeof buf);
	int fd = open(tracemid, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHILD_CHECK(fd >= 0 && write(fd, buf, k) == (ssize_t)k);
	close(fd);
	ev_add(&parkgo, 1);
	mrt_test_pointhook(NULL);

	CHILD_CHECK(mrt_startm(rung, NULL, NULL) == a);
	CHILD_CHECK(mrt_join(a) == 0);
	/* A thread that is not an M creates and reaps M2: its records go to
	 * the buffer such threads share. */
	pthread_t t;
	int64_t b = 0;
	CHILD_CHECK(pthread_create(&t, NULL, foreign_newm, &b) == 0 && pthread_join(t, NULL) == 0);
	CHILD_CHECK(b == 2);
	mrt_setmaxthreads(1);
	CHILD_CHECK(mrt_newm(noop, NULL, NULL) == -EAGAIN);
	mrt_setmaxthreads(100);

	/* Single-threaded again, as far as the kernel says: M1's and M2's
	 * threads may linger a moment after their joins (settle_threads),
	 * and QEMU has trouble with a multi-threaded fork. TSan still counts
	 * them and refuses new threads in the child ("starting new threads
	 * after multi-threaded fork is not supported"): there the child
	 * makes no M, and only its exit handler is held to writing nothing. */
	CHILD_CHECK(settle_threads(expected_threads(0)));
	pid_t pid = fork();
	CHILD_CHECK(pid >= 0);
	if (pid == 0) {
		if (!MRT_TSAN) {
			int64_t c = mrt_newm(noop, NULL, NULL);
			if (c < 0 || mrt_join(c) != 0)
				_exit(3);
		}
		if (mrt_traceflush() != 0)
			_exit(3);
		exit(0); /* the fork child's exit handler must write nothing */
	}
	int st;
	CHILD_CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	mrt_gfree(traceg);
	exit(0); /* the exit handler writes the rest */
}

/* Lines of the trace (one event per line) that contain every one of the
 * patterns. */
static int nlines(const char *buf, const char *p1, const char *p2, const char *p3)
{
	int n = 0;
	for (const char *l = buf; *l != '\0';) {
		const char *e = strchr(l, '\n');
		size_t len = e != NULL ? (size_t)(e - l) : strlen(l);
		char line[512];
		snprintf(line, sizeof line, "%.*s", (int)len, l);
		if (strstr(line, p1) != NULL && (p2 == NULL || strstr(line, p2) != NULL) &&
		    (p3 == NULL || strstr(line, p3) != NULL))
			n++;
		l += len + (e != NULL);
	}
	return n;
}

/* "key":123.456 (microseconds) as nanoseconds. */
static int64_t usfield(const char *line, const char *key)
{
	const char *p = strstr(line, key);
	long long us = 0, frac = 0;
	if (p == NULL || sscanf(p + strlen(key), "%lld.%3lld", &us, &frac) != 2)
		return -1;
	return us * 1000 + frac;
}

struct span {
	int64_t ts, dur;
};

static int cmpspan(const void *a, const void *b)
{
	const struct span *x = a, *y = b;
	return (x->ts > y->ts) - (x->ts < y->ts);
}

static void test_tracefile_records_every_m(void **state)
{
	(void)state;
	snprintf(tracepath, sizeof tracepath, "%s/mrt-trace-%d.json", test_tmpdir(), (int)getpid());
	snprintf(tracemid, sizeof tracemid, "%s/mrt-trace-%d.mid.json", test_tmpdir(), (int)getpid());
	char env[4200];
	snprintf(env, sizeof env, "trace=%s", tracepath);
	setenv("MRTDEBUG", env, 1);
	struct child c;
	run_child(child_tracefile, 120, &c);
	unsetenv("MRTDEBUG");
	static char buf[4 << 20], mid[1 << 16];
	size_t n = readfile(tracepath, buf, sizeof buf);
	readfile(tracemid, mid, sizeof mid);
	unlink(tracepath);
	unlink(tracemid);
	if (!WIFEXITED(c.status) || WEXITSTATUS(c.status) != 0 || c.out[0] != '\0') {
		print_error("child status 0x%x:\n%s\n", c.status, c.out);
		fail();
	}
	/* After the flush and at the end alike: a complete JSON array. */
	assert_true(strncmp(mid, "[\n{\"ph\":\"M\"", 11) == 0);
	assert_true(strlen(mid) > 3 && strcmp(mid + strlen(mid) - 3, "\n]\n") == 0);
	assert_int_equal(nlines(mid, "\"ph\":\"i\"", "\"tid\":1,", "\"name\":\"parked\""), 1);
	assert_true(n > 3 && n < sizeof buf - 1);
	assert_true(strncmp(buf, "[\n{\"ph\":\"M\"", 11) == 0);
	assert_string_equal(buf + n - 3, "\n]\n");

	/* Every event of every M, once; the fork child's M is not there. */
	assert_int_equal(nlines(buf, "\"ph\":\"i\"", "\"name\":\"created\"", NULL), 2);
	assert_int_equal(nlines(buf, "\"ph\":\"i\"", "\"name\":\"started\"", NULL), 3);
	assert_int_equal(nlines(buf, "\"ph\":\"i\"", "\"tid\":1,", "\"name\":\"parked\""), 1);
	assert_int_equal(nlines(buf, "\"ph\":\"i\"", "\"tid\":1,", "\"name\":\"woken\""), 1);
	assert_int_equal(nlines(buf, "\"ph\":\"i\"", "\"name\":\"exiting\"", NULL), 2);
	assert_int_equal(nlines(buf, "\"ph\":\"i\"", "\"name\":\"reaped\"", "\"by\":0"), 1);
	assert_int_equal(nlines(buf, "\"tid\":2,", "\"name\":\"reaped\"", "\"by\":-1"), 1);
	assert_int_equal(nlines(buf, "\"tid\":2,", "\"name\":\"created\"", "\"by\":-1"), 1);
	assert_int_equal(nlines(buf, "\"tid\":0,", "\"name\":\"newm failed\"", "\"EAGAIN\""), 1);
	assert_int_equal(nlines(buf, "\"tid\":3,", NULL, NULL), 0);
	/* Every g switch: the user g ran NSWITCH + 1 times on M1 (its
	 * NSWITCH mcalls, then its end). */
	int ng = nlines(buf, "\"ph\":\"X\"", "\"tid\":1,", "\"cat\":\"g\"");
	assert_int_equal(ng, NSWITCH + 1);
	assert_int_equal(nlines(buf, "\"ph\":\"X\"", "\"tid\":1,", "\"name\":\"parked\""), 1);
	assert_int_equal(nlines(buf, "\"ph\":\"X\"", "\"tid\":1,", "\"name\":\"starting\""), 1);
	/* m0's g0 was still open at exit: the last flush closed it. */
	assert_int_equal(nlines(buf, "\"ph\":\"X\"", "\"tid\":0,", "\"name\":\"g0\""), 1);

	/* M1's slices tile its life: each begins where the one before ended,
	 * from its creation to its end. */
	static struct span sp[2 * NSWITCH + 16];
	int k = 0;
	for (const char *l = buf; *l != '\0' && k < (int)countof(sp);) {
		const char *e = strchr(l, '\n');
		size_t len = e != NULL ? (size_t)(e - l) : strlen(l);
		char line[512];
		snprintf(line, sizeof line, "%.*s", (int)len, l);
		if (strstr(line, "\"ph\":\"X\"") && strstr(line, "\"tid\":1,")) {
			sp[k].ts = usfield(line, "\"ts\":");
			sp[k].dur = usfield(line, "\"dur\":");
			assert_true(sp[k].ts >= 0 && sp[k].dur >= 0);
			k++;
		}
		l += len + (e != NULL);
	}
	/* starting, g0, parked, then g0 and NSWITCH + 1 times g, g0 */
	assert_int_equal(k, 3 + 1 + 2 * (NSWITCH + 1));
	qsort(sp, (size_t)k, sizeof sp[0], cmpspan);
	for (int i = 1; i < k; i++)
		if (sp[i].ts != sp[i - 1].ts + sp[i - 1].dur) {
			print_error("M1's slice %d at %lld ns does not start where slice %d "
			            "(%lld + %lld ns) ended\n", i, (long long)sp[i].ts, i - 1,
			            (long long)sp[i - 1].ts, (long long)sp[i - 1].dur);
			fail();
		}
}

/* A file that cannot be created: said once, nothing recorded, mrt runs. */
static void child_tracefile_bad(void)
{
	CHILD_CHECK(mrt_init(NULL) == 0);
	int64_t a = mrt_newm(noop, NULL, NULL);
	CHILD_CHECK(a > 0 && mrt_join(a) == 0);
	CHILD_CHECK(mrt_traceflush() == 0);
}

static void test_tracefile_uncreatable(void **state)
{
	(void)state;
	setenv("MRTDEBUG", "trace=/nonexistent-dir/t.json", 1);
	struct child c;
	run_child(child_tracefile_bad, 60, &c);
	unsetenv("MRTDEBUG");
	assert_true(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0);
	assert_string_equal(c.out, "mrt: MRTDEBUG: trace: cannot write /nonexistent-dir/t.json: "
	                           "ENOENT (no such file or directory)\n");
}

/* Without MRTDEBUG, nothing is printed. */
static void child_quiet(void)
{
	unsetenv("MRTDEBUG");
	CHILD_CHECK(mrt_init(NULL) == 0);
	int64_t a = mrt_newm(noop, NULL, NULL);
	CHILD_CHECK(a > 0 && mrt_join(a) == 0);
	mrt_setmaxthreads(1);
	CHILD_CHECK(mrt_newm(noop, NULL, NULL) == -EAGAIN);
}

static void test_no_mrtdebug_prints_nothing(void **state)
{
	(void)state;
	struct child c;
	run_child(child_quiet, 30, &c);
	assert_child_ok(&c);
}

/* Unknown and malformed settings are reported once, in one line, and the
 * good ones still apply. */
static void child_badsettings(void)
{
	setenv("MRTDEBUG", "bogus,mtrace=7,schedtrace=1x,mtrace=1,,", 1);
	CHILD_CHECK(mrt_init(NULL) == 0);
	int64_t a = mrt_newm(noop, NULL, NULL);
	CHILD_CHECK(a > 0 && mrt_join(a) == 0);
}

static void test_bad_settings_reported_once(void **state)
{
	(void)state;
	struct child c;
	run_child(child_badsettings, 30, &c);
	assert_true(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0);
	const char *first = strstr(c.out, "mrt: MRTDEBUG: ");
	assert_non_null(first);
	assert_null(strstr(first + 14, "MRTDEBUG"));
	const char *want =
		"mrt: MRTDEBUG: ignoring unknown \"bogus\", malformed \"mtrace=7\" (want 0 or 1), "
		"malformed \"schedtrace=1x\" (want milliseconds, 0 to 3600000)\n";
	if (strncmp(first, want, strlen(want)) != 0) {
		print_error("got:\n%s\n", c.out);
		fail();
	}
	assert_non_null(strstr(c.out, "M1 started"));
}

/* #11 item 9: a setting beyond MRTDEBUG's first 4 KiB still counts: the
 * value used to be cut there without a word. */
static void child_long_mrtdebug(void)
{
	static char v[6000];
	size_t pad = sizeof v - 16;
	memset(v, ',', pad); /* empty settings, skipped */
	strcpy(v + pad, "mtrace=1");
	setenv("MRTDEBUG", v, 1);
	CHILD_CHECK(mrt_init(NULL) == 0);
	int64_t a = mrt_newm(noop, NULL, NULL);
	CHILD_CHECK(a > 0 && mrt_join(a) == 0);
}

static void test_long_mrtdebug_is_read_whole(void **state)
{
	(void)state;
	struct child c;
	run_child(child_long_mrtdebug, 30, &c);
	assert_true(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0);
	if (strstr(c.out, "M1 started") == NULL) {
		print_error("no trace of M1 with mtrace=1 after %d bytes of MRTDEBUG:\n%s\n",
		            (int)(6000 - 16), c.out);
		fail();
	}
	assert_null(strstr(c.out, "ignoring"));
}

/* ------------------------------------------------------------------------
 * schedtrace
 * ------------------------------------------------------------------------ */

/*
 * The child sends its own fd 2 into a pipe and reads it until the monitor M
 * has printed two summaries (no sleeping: the reads block until the lines
 * come; run_child's alarm ends a child that never gets them), then copies
 * what it read to the real fd 2 for the parent.
 */
static void child_schedtrace(void)
{
	int p[2];
	CHILD_CHECK(pipe(p) == 0);
	int real2 = dup(2);
	dup2(p[1], 2);
	setenv("MRTDEBUG", "schedtrace=10", 1);
	CHILD_CHECK(mrt_init(NULL) == 0);
	char buf[4096];
	size_t n = 0;
	int lines = 0;
	while (lines < 2 && n < sizeof buf - 1) {
		ssize_t r = read(p[0], buf + n, sizeof buf - 1 - n);
		CHILD_CHECK(r > 0);
		n += (size_t)r;
		buf[n] = '\0';
		lines = 0;
		for (const char *s = buf; (s = strstr(s, "mrt schedtrace ")) != NULL; s++)
			lines++;
	}
	CHILD_CHECK(write(real2, buf, n) == (ssize_t)n);
}

static void test_schedtrace_prints_summaries(void **state)
{
	(void)state;
	struct child c;
	run_child(child_schedtrace, 60, &c);
	assert_true(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0);
	const char *l = strstr(c.out, "mrt schedtrace t=");
	assert_non_null(l);
	char buf[32];
	/* m0 and the monitor M itself, which is running, printing. */
	assert_string_equal(field(l, "live=", buf, sizeof buf), "2");
	assert_string_equal(field(l, "running=", buf, sizeof buf), "2");
	assert_string_equal(field(l, "idle=", buf, sizeof buf), "0");
	assert_string_equal(field(l, "created=", buf, sizeof buf), "2");
	assert_string_equal(field(l, "exited=", buf, sizeof buf), "0");
	assert_string_equal(field(l, "limit=", buf, sizeof buf), "10000");
	assert_non_null(strstr(l + 1, "mrt schedtrace t="));
}

/* ------------------------------------------------------------------------
 * mrt_dump
 * ------------------------------------------------------------------------ */

static uint32_t gstarted, grelease;

static void spin_g(void *arg)
{
	(void)arg;
	ev_add(&gstarted, 1);
	ev_block(&grelease, 1);
}

static mrt_g *dumpg;

static void run_g(void *arg)
{
	(void)arg;
	mrt_gogo(dumpg);
}

struct row {
	int64_t id;
	int tid;
	char state[16], curg[16];
	uintptr_t g0lo, g0hi, gslo, gshi;
};

/* Parses mrt_dump's output; returns the number of rows. */
static int parse_dump(const char *out, struct row *rows, int max)
{
	int n = 0;
	for (const char *l = out; l != NULL && *l != '\0' && n < max;) {
		struct row *r = &rows[n];
		long long id;
		if (sscanf(l, "  M%lld tid %d %15s g0 [%lx, %lx) gsignal [%lx, %lx) curg %15s", &id,
		           &r->tid, r->state, &r->g0lo, &r->g0hi, &r->gslo, &r->gshi, r->curg) == 8) {
			r->id = id;
			n++;
		}
		l = strchr(l, '\n');
		if (l != NULL)
			l++;
	}
	return n;
}

static void child_dump(void)
{
	CHILD_CHECK(mrt_dump(2) == -EINVAL); /* before mrt_init */
	CHILD_CHECK(mrt_init(NULL) == 0);
	CHILD_CHECK(mrt_dump(-1) == -EBADF);
	CHILD_CHECK(mrt_dump(999) == -EBADF);

	/* M1 parks; M2 runs a user g. */
	int64_t a = mrt_newm(fn_park, NULL, NULL);
	wait_idle(1);
	CHILD_CHECK(mrt_malg(&dumpg, 65536) == 0);
	CHILD_CHECK(mrt_gostart(dumpg, spin_g, NULL) == 0);
	int64_t b = mrt_newm(run_g, NULL, NULL);
	ev_wait(&gstarted, 1);

	char out[4096];
	FILE *f = tmpfile();
	CHILD_CHECK(f != NULL);
	int n = mrt_dump(fileno(f));
	CHILD_CHECK(n == 3);
	rewind(f);
	size_t k = fread(out, 1, sizeof out - 1, f);
	out[k] = '\0';
	fclose(f);
	CHILD_CHECK(strncmp(out, "mrt_dump: every M on allm, newest first (", 41) == 0);

	struct row rows[8];
	CHILD_CHECK(parse_dump(out, rows, 8) == 3);
	int64_t ids[3] = { b, a, 0 };
	const char *states[3] = { "running", "idle", "running" };
	char gname[24];
	snprintf(gname, sizeof gname, "g%lld", (long long)mrt_gid(dumpg));
	const char *curgs[3] = { gname, "g0", "g0" };
	for (int i = 0; i < 3; i++) {
		struct row *r = &rows[i];
		CHILD_CHECK(r->id == ids[i]);
		CHILD_CHECK(r->tid == tid_of(ids[i]) && r->tid > 0);
		CHILD_CHECK(strcmp(r->state, states[i]) == 0);
		CHILD_CHECK(strcmp(r->curg, curgs[i]) == 0);
		m *mp = NULL;
		for (m *x = allm; x != NULL; x = x->alllink)
			if (x->id == ids[i])
				mp = x;
		CHILD_CHECK(mp != NULL);
		CHILD_CHECK(r->g0lo == mp->g0->stack.lo && r->g0hi == mp->g0->stack.hi);
		CHILD_CHECK(r->gslo == mp->gsignal->stack.lo && r->gshi == mp->gsignal->stack.hi);
		CHILD_CHECK(r->g0lo < r->g0hi && r->gslo < r->gshi);
	}
	ev_add(&grelease, 1);
	CHILD_CHECK(mrt_join(b) == 0);
	CHILD_CHECK(mrt_startm(fn_exit, NULL, NULL) == a);
	CHILD_CHECK(mrt_join(a) == 0);
	/* Only m0 is left. */
	f = tmpfile();
	CHILD_CHECK(mrt_dump(fileno(f)) == 1);
	fclose(f);
}

static void test_dump_lists_every_m(void **state)
{
	(void)state;
	struct child c;
	run_child(child_dump, 60, &c);
	assert_child_ok(&c);
}

/* ------------------------------------------------------------------------
 * Thread names
 * ------------------------------------------------------------------------ */

static void read_comm(int32_t tid, char *buf, size_t n)
{
	char path[64];
	if (tid == 0)
		snprintf(path, sizeof path, "/proc/self/comm");
	else
		snprintf(path, sizeof path, "/proc/self/task/%d/comm", tid);
	FILE *f = fopen(path, "r");
	CHILD_CHECK(f != NULL);
	CHILD_CHECK(fgets(buf, (int)n, f) != NULL);
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
}

/* The comm of a new, parked M (then ended). */
static void parked_comm(char *buf, size_t n, int64_t *idp)
{
	int64_t id = mrt_newm(fn_park, NULL, NULL);
	CHILD_CHECK(id > 0);
	wait_idle(1);
	read_comm(tid_of(id), buf, n);
	CHILD_CHECK(mrt_startm(fn_exit, NULL, NULL) == id);
	CHILD_CHECK(mrt_join(id) == 0);
	if (idp != NULL)
		*idp = id;
}

static void child_names_flag(void)
{
	char comm[32], main0[32], want[32];
	read_comm(0, main0, sizeof main0);
	struct mrt_config c = CFG(.flags = MRT_F_THREAD_NAMES);
	CHILD_CHECK(mrt_init(&c) == 0);
	int64_t id;
	parked_comm(comm, sizeof comm, &id);
	snprintf(want, sizeof want, "mrt/M%lld", (long long)id);
	CHILD_CHECK(strcmp(comm, want) == 0);
	/* m0 is the user's thread: its name is left alone. */
	read_comm(0, comm, sizeof comm);
	CHILD_CHECK(strcmp(comm, main0) == 0);
	/* Large ids are cut to the kernel's 15 bytes, never overflow. (The
	 * skipped ids count as failed, so mcount stays right.) */
	lock(&sched.lock);
	sched.nmfailed += 123456789012345 - sched.mnext;
	sched.mnext = 123456789012345;
	unlock(&sched.lock);
	parked_comm(comm, sizeof comm, NULL);
	CHILD_CHECK(strcmp(comm, "mrt/M1234567890") == 0);
}

static void child_names_prefix(void)
{
	char comm[32];
	struct mrt_config c = CFG(.thread_name = "vm-worker-");
	CHILD_CHECK(mrt_init(&c) == 0);
	parked_comm(comm, sizeof comm, NULL);
	CHILD_CHECK(strcmp(comm, "vm-worker-1") == 0);
}

static void child_names_off_by_default(void)
{
	char comm[32], main0[32];
	read_comm(0, main0, sizeof main0);
	CHILD_CHECK(mrt_init(NULL) == 0);
	parked_comm(comm, sizeof comm, NULL);
	/* Unnamed, a thread keeps the name of the thread that made it. */
	CHILD_CHECK(strcmp(comm, main0) == 0);
}

static void child_names_mrtdebug(void)
{
	char comm[32], want[32];
	setenv("MRTDEBUG", "threadnames=1", 1);
	CHILD_CHECK(mrt_init(NULL) == 0);
	int64_t id;
	parked_comm(comm, sizeof comm, &id);
	snprintf(want, sizeof want, "mrt/M%lld", (long long)id);
	CHILD_CHECK(strcmp(comm, want) == 0);
}

static void child_names_toolong(void)
{
	struct mrt_config c = CFG(.thread_name = "0123456789abcdef"); /* 16 bytes */
	CHILD_CHECK(mrt_init(&c) == -EINVAL);
	c.thread_name = "0123456789abcde"; /* 15: fits */
	CHILD_CHECK(mrt_init(&c) == 0);
}

static void test_thread_names(void **state)
{
	(void)state;
	void (*cases[])(void) = { child_names_flag, child_names_prefix, child_names_off_by_default,
		                  child_names_mrtdebug, child_names_toolong };
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct child c;
		run_child(cases[i], 30, &c);
		assert_child_ok(&c);
	}
}

int main(int argc, char **argv)
{
	testlib_init(argc, argv);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_settings),
		cmocka_unit_test(test_parse_trace),
		cmocka_unit_test(test_parse_never_reads_past_n),
		cmocka_unit_test(test_parse_report_is_bounded),
		cmocka_unit_test(test_mtrace_shows_every_event),
		cmocka_unit_test(test_tracefile_records_every_m),
		cmocka_unit_test(test_tracefile_uncreatable),
		cmocka_unit_test(test_no_mrtdebug_prints_nothing),
		cmocka_unit_test(test_bad_settings_reported_once),
		cmocka_unit_test(test_long_mrtdebug_is_read_whole),
		cmocka_unit_test(test_schedtrace_prints_summaries),
		cmocka_unit_test(test_dump_lists_every_m),
		cmocka_unit_test(test_thread_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
