/*
 * tracefile.c — MRTDEBUG=trace=<file>: a picture of the Ms over time.
 *
 * Every M event (the MTRACE points) and every g switch an M makes (g.c's
 * TRACEGSWITCH) is recorded, and written to the file as Chrome/Perfetto
 * trace-event JSON (the JSON array format), which Perfetto's UI,
 * chrome://tracing and tools/mrt-trace open. Each M is a lane (the event's
 * "tid" is the M's id): its states are complete slices ("ph":"X") —
 * starting (created, its thread not running yet), g0, a user g ("g12"),
 * parked, and a blocking section ("syscall", nested in the g that made the
 * call) — and its events are instants ("ph":"i"): created, started, parked,
 * woken, exiting, reaped, failed, retaken, handedoff. A slice is recorded
 * when it ends, by the M itself: the M knows when its state began, so no
 * reader has to pair a begin with an end across buffers.
 *
 * Off, recording costs the M path nothing it did not pay before: MTRACE's
 * branch is the same one, and a g switch tests `tracing` (one load and a
 * predictable branch). On, it is freestanding like the rest of the M path:
 * no libc, mrt's own memory and lock, raw system calls; a record costs a
 * clock read and a 40-byte store.
 *
 * Where records go. Each M records into a buffer of its own (64 KiB of
 * mrt's memory, from sysalloc), without a lock: it writes the record, then
 * publishes it by advancing the buffer's count with a release store. Under
 * trace.lock, a buffer is formatted into one static output buffer and
 * pwritten to the file: by its M when it is full (that M then waits for
 * the write), and every buffer by mrt_traceflush and at exit. A flusher
 * reads up to the count (acquire) and remembers how far it wrote (done);
 * only the owning M empties its buffer again, and only under the lock, so a
 * flusher never reads a record being written. An M gives its buffer back at
 * its end, unwritten records and all, to a free list that the next M takes
 * from; what a flush walks is the list of every buffer made (buffers are
 * never freed). Threads that are not Ms (a foreign thread that creates an
 * M) share one buffer, under the lock.
 *
 * The file is valid JSON after every flush: it is written with pwrite at an
 * offset the trace keeps, each flush ends with the closing "]", and the
 * next flush writes over that "]". At exit (libc's atexit, registered by
 * mrt_init on m0: the handler runs on the thread that calls exit(3), which
 * is libc's) the last flush also closes the slices still open, each M's
 * current state up to that moment, and recording stops. A process that
 * ends another way (_exit, a signal, exec) keeps what was flushed before
 * it: mrt_traceflush is for that. A fork child records nothing: its copy of
 * the buffers and of the file offset is the parent's.
 */
#include "runtime.h"

uint32_t tracing;

/* The events' names, in the file and in mtrace's lines (trace.c). */
const char *const mtracenames[NMTEVENT] = {
	[MT_CREATED] = "created", [MT_STARTED] = "started", [MT_PARKED] = "parked",
	[MT_WOKEN] = "woken",     [MT_EXITING] = "exiting", [MT_REAPED] = "reaped",
	[MT_FAILED] = "failed",   [MT_ATTACHED] = "attached", [MT_DROPPED] = "dropped",
	[MT_ENTERSYSCALL] = "entersyscall",
	[MT_EXITSYSCALL] = "exitsyscall", [MT_RETAKEN] = "retaken",
	[MT_HANDEDOFF] = "handedoff",
};

/* A slice's state, or (below TS_G) an event's MT_ number. */
enum { TS_NONE = 0, TS_G = 100, TS_STARTING, TS_PARKED, TS_SYSCALL };

struct tracerec {
	int64_t ts;   /* ns since mrt_init (cfg.t0) */
	int64_t dur;  /* a slice's length; -1 for an event */
	int64_t mid;  /* the lane: an M's id (for "newm failed", the creator's) */
	int64_t arg;  /* a slice's g; an event's word: by, err, retired */
	int32_t kind; /* a TS_ state (a slice) or an MT_ event */
	int32_t aux;  /* an event's tid; 1 on a "syscall" slice whose P was
	                 lost; -1 on an MT_FAILED that had no M */
};

enum { tracebufsize = 64 << 10 };

struct tracebuf {
	struct tracebuf *alllink;  /* every buffer made (tr.all) */
	struct tracebuf *freelink; /* tr.free */
	uint32_t n;                /* records published (owner: release) */
	uint32_t done;             /* records written out (tr.lock) */
	struct tracerec rec[];
};
#define TRACEBUFCAP ((uint32_t)((tracebufsize - sizeof(struct tracebuf)) / sizeof(struct tracerec)))

static struct {
	/* Protects everything below, every buffer's done, and the emptying
	 * of a buffer. Taken after sched.lock, never before it. */
	mutex lock;
	int fd;
	bool on;          /* the file exists */
	bool closed;      /* the last flush ran (or a fork child): write nothing */
	int64_t off;      /* where the next write goes: over the closing "]" */
	int err;          /* the first failed write's -errno */
	uint64_t nout;    /* records written so far */
	int32_t pid;
	struct tracebuf *all, *free, *shared;
	uint64_t lost;    /* records dropped: no memory for a buffer (atomic) */
	size_t outn;
	char out[32 << 10];
} tr;

static int64_t now(void)
{
	int64_t t = nanotime() - cfg.t0;
	return t > 0 ? t : 1; /* 0 means "not in a blocking section" */
}

/* ------------------------------------------------------------------------
 * The JSON writer: tr.lock held
 * ------------------------------------------------------------------------ */

static void outflush(void)
{
	size_t w = 0;
	while (w < tr.outn) {
		int r = ospwrite(tr.fd, tr.out + w, tr.outn - w, tr.off);
		if (r <= 0) {
			if (tr.err == 0)
				tr.err = r < 0 ? r : -EIO;
			break;
		}
		w += (size_t)r;
		tr.off += r;
	}
	tr.outn = 0;
}

static void outc(char c)
{
	if (tr.outn == sizeof tr.out)
		outflush();
	tr.out[tr.outn++] = c;
}

static void outs(const char *s)
{
	while (*s != '\0')
		outc(*s++);
}

static void outi(int64_t v)
{
	char b[24];
	int n = 0;
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
	do
		b[n++] = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		outc('-');
	while (n > 0)
		outc(b[--n]);
}

/* Nanoseconds as the format's microseconds, to the nanosecond. */
static void outus(int64_t ns)
{
	outi(ns / 1000);
	outc('.');
	int f = (int)(ns % 1000);
	outc((char)('0' + f / 100));
	outc((char)('0' + f / 10 % 10));
	outc((char)('0' + f % 10));
}

/* The fields every event has, after the separator from the one before. */
static void outhead(const char *ph, int64_t mid, int64_t ts)
{
	outs(",\n{\"ph\":\"");
	outs(ph);
	outs("\",\"pid\":");
	outi(tr.pid);
	outs(",\"tid\":");
	outi(mid);
	if (ts >= 0) {
		outs(",\"ts\":");
		outus(ts);
	}
}

/* The first word of mrt_strerror's text: "EAGAIN". */
static void outerr(int err)
{
	const char *s = mrt_strerror(err);
	outc('"');
	for (; *s != '\0' && *s != ' ' && *s != '"' && *s != '\\'; s++)
		outc(*s);
	outc('"');
}

/* A lane's name and place, at its creation and its start (m0 has no
 * creation): Perfetto and chrome://tracing show "M3", in id order. */
static void outlane(int64_t mid)
{
	outhead("M", mid, -1);
	outs(",\"name\":\"thread_name\",\"args\":{\"name\":\"M");
	outi(mid);
	outs("\"}}");
	outhead("M", mid, -1);
	outs(",\"name\":\"thread_sort_index\",\"args\":{\"sort_index\":");
	outi(mid);
	outs("}}");
}

static void outrec(const struct tracerec *r)
{
	if (r->dur >= 0) {
		outhead("X", r->mid, r->ts);
		outs(",\"dur\":");
		outus(r->dur);
		switch (r->kind) {
		case TS_G:
			outs(r->arg == 0 ? ",\"name\":\"g0\",\"cat\":\"g0\"" : ",\"name\":\"g");
			if (r->arg != 0) {
				outi(r->arg);
				outs("\",\"cat\":\"g\"");
			}
			outs(",\"args\":{\"g\":");
			outi(r->arg);
			outc('}');
			break;
		case TS_STARTING:
			outs(",\"name\":\"starting\",\"cat\":\"starting\"");
			break;
		case TS_PARKED:
			outs(",\"name\":\"parked\",\"cat\":\"parked\"");
			break;
		case TS_SYSCALL:
			outs(",\"name\":\"syscall\",\"cat\":\"syscall\",\"args\":{\"g\":");
			outi(r->arg);
			outs(",\"lostp\":");
			outi(r->aux);
			outc('}');
			break;
		}
		outc('}');
		tr.nout++;
		return;
	}
	if (r->kind == MT_CREATED || r->kind == MT_STARTED)
		outlane(r->mid);
	outhead("i", r->mid, r->ts);
	const char *name = r->kind >= 0 && r->kind < NMTEVENT ? mtracenames[r->kind] : nil;
	if (r->kind == MT_FAILED && r->aux < 0)
		name = "newm failed"; /* on the creator's lane: no M to fail */
	outs(",\"s\":\"t\",\"cat\":\"m\",\"name\":\"");
	outs(name != nil ? name : "?");
	outs("\",\"args\":{");
	switch (r->kind) {
	case MT_CREATED:
	case MT_REAPED:
		outs("\"by\":"); /* the M that did it; -1: a thread that is not one */
		outi(r->arg);
		break;
	case MT_STARTED:
	case MT_ATTACHED:
		outs("\"tid\":");
		outi(r->aux);
		break;
	case MT_EXITING:
	case MT_DROPPED:
		outs("\"why\":"); /* MT_WHY_*: 0 its function ended, 1 idle, 2 thread ended */
		outi(r->arg);
		break;
	case MT_FAILED:
	case MT_HANDEDOFF:
		outs("\"err\":");
		outi(r->arg);
		if (r->arg != 0) {
			outs(",\"error\":");
			outerr((int)r->arg);
		}
		break;
	}
	outs("}}");
	tr.nout++;
}

/* The closing "]" after what has been written, to be written over by the
 * next flush: the file is a complete JSON array between flushes. */
static void outclose(void)
{
	outs("\n]\n");
	outflush();
	tr.off -= 3;
}

/* ------------------------------------------------------------------------
 * Buffers
 * ------------------------------------------------------------------------ */

/* A buffer for one thread to record into: a free one, or a new one.
 * tr.lock held. nil when there is no memory: the records are lost and
 * counted. */
static struct tracebuf *bufget(void)
{
	struct tracebuf *b = tr.free;
	if (b != nil) {
		tr.free = b->freelink;
		return b;
	}
	b = sysalloc(tracebufsize);
	if (b == nil)
		return nil;
	b->alllink = tr.all;
	tr.all = b;
	return b;
}

/* Writes out what b holds and has not been written. tr.lock held. */
static void bufflush(struct tracebuf *b)
{
	uint32_t n = load_acquire(&b->n);
	if (!tr.closed)
		for (uint32_t i = b->done; i < n; i++)
			outrec(&b->rec[i]);
	b->done = n;
}

/*
 * put appends r to the buffer of the calling thread, self (nil: not an M).
 * An M's own buffer needs no lock: it alone appends, and the count's
 * release store publishes the record to flushers. A full buffer is written
 * out and emptied by its M under the lock, which is also what flushers
 * read it under.
 */
static void put(m *self, const struct tracerec *r)
{
	if (self == nil) {
		lock(&tr.lock);
		struct tracebuf *b = tr.shared;
		if (b == nil)
			b = tr.shared = bufget();
		if (b != nil) {
			if (b->n == TRACEBUFCAP) {
				bufflush(b);
				b->n = b->done = 0;
			}
			b->rec[b->n] = *r;
			store_release(&b->n, b->n + 1);
		} else {
			__atomic_fetch_add(&tr.lost, 1, __ATOMIC_RELAXED);
		}
		unlock(&tr.lock);
		return;
	}
	struct tracebuf *b = self->tracebuf;
	if (b == nil) {
		lock(&tr.lock);
		b = bufget();
		unlock(&tr.lock);
		if (b == nil) {
			__atomic_fetch_add(&tr.lost, 1, __ATOMIC_RELAXED);
			return;
		}
		self->tracebuf = b;
	}
	uint32_t n = load_relaxed(&b->n);
	if (n == TRACEBUFCAP) {
		lock(&tr.lock);
		bufflush(b);
		outclose();
		b->done = 0;
		store_relaxed(&b->n, 0);
		unlock(&tr.lock);
		n = 0;
	}
	b->rec[n] = *r;
	store_release(&b->n, n + 1);
}

/* At the M's end: its buffer back to the free list, records and all. */
static void bufrelease(m *self)
{
	struct tracebuf *b = self->tracebuf;
	if (b == nil)
		return;
	self->tracebuf = nil;
	lock(&tr.lock);
	b->freelink = tr.free;
	tr.free = b;
	unlock(&tr.lock);
}

/* Everything recorded so far to the file, closed with "]". tr.lock held. */
static void flushall(void)
{
	for (struct tracebuf *b = tr.all; b != nil; b = b->alllink)
		bufflush(b);
	outclose();
}

/* ------------------------------------------------------------------------
 * States and events
 * ------------------------------------------------------------------------ */

/*
 * An M's state (tracestate, tracearg: its g, tracesince) is written by the
 * M itself, and before its thread exists by its creator; the last flush
 * reads it from another thread to close what is still open, hence the
 * atomics (relaxed: a state read mid-change at exit is off by one switch).
 */
static void setstate(m *mp, int64_t st, int64_t arg, int64_t t)
{
	store_relaxed(&mp->tracestate, st);
	store_relaxed(&mp->tracearg, arg);
	store_relaxed(&mp->tracesince, t);
}

/* The slice of mp's current state ends at t: recorded by self. */
static void endstate(m *self, m *mp, int64_t t)
{
	int64_t st = load_relaxed(&mp->tracestate);
	if (st == TS_NONE)
		return;
	int64_t since = load_relaxed(&mp->tracesince);
	struct tracerec r = { .ts = since, .dur = t - since, .mid = mp->id,
		              .arg = load_relaxed(&mp->tracearg), .kind = (int32_t)st };
	put(self, &r);
}

/*
 * The recording on an M is not re-entrant (its buffer, tr.lock), and a
 * signal handler may record on the M it interrupted: a blocking section
 * may be entered in a handler (core/syscall.c). So every entry on an M
 * marks it busy, and an entry that finds it busy is the handler's: its
 * record is dropped and counted lost (the file's mrt_lost_records). The
 * flag is the thread's own, so compiler fences order it against the
 * handler, which runs on the same thread. Off an M (self nil) there is no
 * re-entry to fear: those records go under tr.lock, which no handler of
 * mrt's takes.
 */
static bool tracebegin(m *self)
{
	if (self == nil)
		return true;
	if (self->tracebusy) {
		__atomic_fetch_add(&tr.lost, 1, __ATOMIC_RELAXED);
		return false;
	}
	self->tracebusy = 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	return true;
}

static void traceend(m *self)
{
	if (self == nil)
		return;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	self->tracebusy = 0;
}

/* On mp, from a g to `to` (g.c): the g's slice ends, to's begins. */
void tracegswitch(m *mp, g *to)
{
	if (!tracebegin(mp))
		return;
	int64_t t = now();
	endstate(mp, mp, t);
	setstate(mp, TS_G, to == mp->g0 ? 0 : to->goid, t);
	traceend(mp);
}

/*
 * traceevent records one M event (mtrace calls it with TRACE_FILE): an
 * instant on mp's lane, after the slice the event ends, and sets the state
 * it begins. mp is nil for a creation that failed before it had an M.
 */
static void traceevent1(int ev, m *mp, int err, m *self);

void traceevent(int ev, m *mp, int err)
{
	m *self = getm();
	if (!tracebegin(self))
		return;
	traceevent1(ev, mp, err, self);
	traceend(self);
}

static void traceevent1(int ev, m *mp, int err, m *self)
{
	int64_t t = now();
	struct tracerec r = { .ts = t, .dur = -1, .mid = mp != nil ? mp->id : -1, .kind = ev };
	switch (ev) {
	case MT_CREATED:
		/* The thread does not exist yet: the creator starts its lane. */
		r.arg = self != nil ? self->id : -1;
		setstate(mp, TS_STARTING, 0, t);
		break;
	case MT_STARTED:
	case MT_ATTACHED: /* a thread mrt did not make, an M from here on: on g0 */
		r.aux = load_relaxed(&mp->procid);
		endstate(self, mp, t); /* starting (m0, an attached M: none) */
		setstate(mp, TS_G, 0, t);
		break;
	case MT_PARKED:
		endstate(self, mp, t);
		setstate(mp, TS_PARKED, 0, t);
		break;
	case MT_WOKEN:
		endstate(self, mp, t);
		setstate(mp, TS_G, 0, t);
		break;
	case MT_EXITING:
	case MT_DROPPED: /* the end of an attached M: its thread goes on without it */
		r.arg = err;
		endstate(self, mp, t);
		setstate(mp, TS_NONE, 0, t);
		put(self, &r);
		/* Its last record: the buffer goes to the next M. */
		if (self == mp)
			bufrelease(self);
		return;
	case MT_REAPED:
		r.arg = self != nil ? self->id : -1;
		break;
	case MT_FAILED:
		r.arg = err;
		if (mp == nil) {
			r.mid = self != nil ? self->id : -1;
			r.aux = -1;
			break;
		}
		/* On the creator (the thread never ran) or on the M (its
		 * setup failed): either way its starting slice ends here. */
		endstate(self, mp, t);
		setstate(mp, TS_NONE, 0, t);
		break;
	case MT_ENTERSYSCALL:
		store_relaxed(&mp->tracesys, t);
		return; /* a slice, recorded when the section ends */
	case MT_EXITSYSCALL: {
		int64_t since = load_relaxed(&mp->tracesys);
		if (since == 0)
			return;
		g *gp = load_relaxed(&mp->curg);
		struct tracerec s = { .ts = since, .dur = t - since, .mid = mp->id,
			              .arg = gp == nil || gp == mp->g0 ? 0 : gp->goid,
			              .kind = TS_SYSCALL, .aux = err != 0 };
		store_relaxed(&mp->tracesys, 0);
		put(self, &s);
		return;
	}
	case MT_RETAKEN:
		break;
	case MT_HANDEDOFF:
		r.arg = err;
		break;
	}
	put(self, &r);
}

/* ------------------------------------------------------------------------
 * The file: created at mrt_init, flushed on demand and at exit
 * ------------------------------------------------------------------------ */

/*
 * The last flush (atexit): every buffer, then the slices still open — each
 * M's state and blocking section, up to now — and no more recording. Other
 * Ms may still be running: what they record from here on is not written.
 * The walk of allm is the lock-free one (walkbegin), so that it neither
 * takes sched.lock under tr.lock nor reads a recycled m.
 */
static void tracefinal(void)
{
	if (!(load_relaxed(&tracing) & TRACE_FILE))
		return;
	lock(&tr.lock);
	if (tr.closed) {
		unlock(&tr.lock);
		return;
	}
	for (struct tracebuf *b = tr.all; b != nil; b = b->alllink)
		bufflush(b);
	int64_t t = now();
	walkbegin();
	for (m *mp = load_acquire(&allm); mp != nil; mp = load_acquire(&mp->alllink)) {
		int64_t st = load_relaxed(&mp->tracestate), since = load_relaxed(&mp->tracesince);
		if (st != TS_NONE && since < t) {
			struct tracerec r = { .ts = since, .dur = t - since, .mid = mp->id,
				              .arg = load_relaxed(&mp->tracearg), .kind = (int32_t)st };
			outrec(&r);
		}
		int64_t sys = load_relaxed(&mp->tracesys);
		if (sys != 0 && sys < t) {
			struct tracerec r = { .ts = sys, .dur = t - sys, .mid = mp->id, .kind = TS_SYSCALL };
			outrec(&r);
		}
	}
	walkend();
	uint64_t lost = __atomic_load_n(&tr.lost, __ATOMIC_RELAXED);
	if (lost > 0) {
		outhead("M", -1, -1);
		outs(",\"name\":\"mrt_lost_records\",\"args\":{\"lost\":");
		outi((int64_t)lost);
		outs("}}");
	}
	outclose();
	tr.closed = true;
	__atomic_and_fetch(&tracing, ~(uint32_t)TRACE_FILE, __ATOMIC_RELAXED);
	unlock(&tr.lock);
}

/*
 * traceinit creates the file MRTDEBUG=trace names (n bytes of path, not
 * NUL-terminated) and turns recording on: from debuginit, on m0 at
 * mrt_init, before the first M event. The exit handler is registered
 * first: it does nothing while there is no file. A file that cannot be
 * created is reported on fd 2 and nothing is recorded; mrt_init goes on.
 */
void traceinit(const char *path, size_t n)
{
	if (tr.on)
		return; /* mrt_init again, after a failure */
	char name[DEBUG_TRACE_MAX + 1];
	if (n > DEBUG_TRACE_MAX)
		n = DEBUG_TRACE_MAX;
	__builtin_memcpy(name, path, n);
	name[n] = '\0';
	static bool exithandler;
	int r = exithandler ? 0 : osatexit(tracefinal);
	if (r == 0) {
		exithandler = true;
		r = oscreate(name);
	}
	if (r < 0) {
		printfd(2, "mrt: MRTDEBUG: trace: cannot write %s: %s\n", name, mrt_strerror(r));
		return;
	}
	tr.fd = r;
	tr.pid = osgettid();
	tr.on = true;
	lock(&tr.lock);
	outs("[\n{\"ph\":\"M\",\"pid\":");
	outi(tr.pid);
	outs(",\"name\":\"process_name\",\"args\":{\"name\":\"mrt (" OS_THREAD_MODEL " model)\"}}");
	outclose();
	unlock(&tr.lock);
	__atomic_or_fetch(&tracing, TRACE_FILE, __ATOMIC_RELAXED);
}

/* fork.c's child handler: the parent's buffers and file offset are not the
 * child's to write. No lock is taken: another thread may have held it. */
void traceforkchild(void)
{
	tr.closed = true;
	__atomic_and_fetch(&tracing, ~(uint32_t)TRACE_FILE, __ATOMIC_RELAXED);
}

MRT_API int mrt_traceflush(void)
{
	if (!(load_relaxed(&tracing) & TRACE_FILE))
		return 0;
	m *self = getm();
	if (!tracebegin(self))
		return -EBUSY; /* from a handler that interrupted a recording */
	lock(&tr.lock);
	uint64_t before = tr.nout;
	if (!tr.closed)
		flushall();
	uint64_t n = tr.nout - before;
	int err = tr.err;
	unlock(&tr.lock);
	traceend(self);
	if (err != 0)
		return err;
	return n > INT32_MAX ? INT32_MAX : (int)n;
}
