/*
 * template.c — the template thread (#14 item 3; Go's newmHandoff,
 * startTemplateThread and templateThread): an M kept in a known-clean state
 * whose one job is to create Ms for threads that must not be cloned.
 *
 * Why. clone(2) copies the calling thread's CPU affinity, its scheduling
 * policy and priority, its credentials and namespaces, and its fs (cwd,
 * root, umask) once unshare(CLONE_FS) has made it the thread's own. A
 * thread that may have changed any of these (mnoclone in runtime.h: an M
 * with a g locked to it, which is how a program says "this thread is
 * special", a tainted M, an attached foreign thread, and since an
 * mrt_allthreadssyscall a thread that is not an M, which took no part in
 * it) would pass the change to every M it creates: newm hands the creation
 * to the template thread instead, which was cloned while it was clean and
 * never runs anything else, so the M it makes is like any other.
 *
 * When. It is started the first time it may be needed, by a thread that is
 * still clean at that moment: the first mrt_lockosthread and the first
 * mrt_mtaint (which the program calls before it changes the thread, as Go's
 * LockOSThread starts it "while we're in a known-good state"), and the
 * first mrt_allthreadssyscall (the template takes part in the call like
 * every M). A thread that is not clean never starts it — that is what it
 * would clone — so a creation handed off before any clean thread started
 * it is refused (-EPERM, proc.c). A program whose attached threads (mrt_needm)
 * ask for Ms starts it early instead, with mrt_starttemplatethread, as Go's
 * main starts it at once when cgo may bring threads in from C.
 *
 * How. A request lives on the requester's stack: the creation's arguments,
 * and once it is made the result and the message mrt_errmsg would have
 * given on the template's thread, which the requester makes its own. The
 * template takes requests off newmHandoff and makes each with newm, the
 * births and exec locks as for any creation, then wakes the requester's
 * note. Go hands over an m that allocm made on the locked thread; mrt hands
 * over the whole creation, so that every error of it — the limit, memory,
 * clone — reaches the caller alike.
 *
 * It is an M like any other: counted in mrt_mstats and the thread limit, on
 * allm, reached by mrt_allthreadssyscall, named "template" by mtrace,
 * mrt_dump and info mrt. It never exits (a join of it waits for ever). A
 * fork child has no template thread: forkchild resets newmHandoff, and the
 * next need starts one.
 */
#include "runtime.h"

struct handoffreq {
	struct handoffreq *next;
	mrt_fn fn;
	void *arg, *p;
	int64_t result;
	note done;
	char errmsg[sizeof mrt_tls.errmsg];
};

/* The requester's side (newmHandoff.handoff): queue, wake the template,
 * sleep until the creation is made. */
static int64_t templatehandoff(mrt_fn fn, void *arg, void *p)
{
	struct handoffreq r = { .fn = fn, .arg = arg, .p = p };
	noteclear(&r.done);
	lock(&newmHandoff.lock);
	r.next = newmHandoff.newm;
	newmHandoff.newm = &r;
	bool wake = newmHandoff.waiting;
	newmHandoff.waiting = false;
	unlock(&newmHandoff.lock);
	if (wake)
		notewakeup(&newmHandoff.wake);
	notesleep(&r.done);
	__builtin_memcpy(mrt_tlsp_()->errmsg, r.errmsg, sizeof r.errmsg);
	return r.result;
}

/* The template thread's function: make what is handed over, sleep, again. */
static void templatethread(void *arg)
{
	(void)arg;
	for (;;) {
		lock(&newmHandoff.lock);
		struct handoffreq *r = newmHandoff.newm;
		if (r == nil) {
			/* Cleared before the requester can see that we wait: its
			 * wake is the one this sleep takes. */
			newmHandoff.waiting = true;
			noteclear(&newmHandoff.wake);
			unlock(&newmHandoff.lock);
			notesleep(&newmHandoff.wake);
			continue;
		}
		newmHandoff.newm = r->next;
		unlock(&newmHandoff.lock);
		struct mrt_tls *t = mrt_tlsp_();
		t->errmsg[0] = '\0';
		r->result = newm(r->fn, r->arg, r->p);
		__builtin_memcpy(r->errmsg, t->errmsg, sizeof r->errmsg);
		/* r is the requester's from here: it may return at once. */
		notewakeup(&r->done);
	}
}

int templatestart(void)
{
	if (load_acquire(&newmHandoff.handoff) != nil)
		return 0;
	/* Never cloned from a thread that is not clean: with no template
	 * thread, that thread's creations are refused instead (proc.c). */
	if (mnoclone(getm()))
		return 0;
	int64_t id = 0;
	lock(&newmHandoff.startlock);
	if (newmHandoff.handoff == nil) {
		store_relaxed(&newmHandoff.fn, templatethread);
		id = newm(templatethread, nil, nil);
		/* The queue may fill before the thread runs: it empties it
		 * first thing. */
		if (id >= 0)
			store_release(&newmHandoff.handoff, templatehandoff);
	}
	unlock(&newmHandoff.startlock);
	return id < 0 ? (int)id : 0;
}

MRT_API int mrt_starttemplatethread(void)
{
	if (!load_acquire(&cfg.inited))
		return -EINVAL;
	m *mp = getm();
	if (mp == nil)
		return -EPERM;
	if (load_acquire(&newmHandoff.handoff) == nil && mnoclone(mp)) {
		seterrmsg("mrt: M%lld must not be cloned (a locked g, mrt_mtaint, an attached "
		          "thread): it cannot start the template thread",
		          (long long)mp->id);
		return -EPERM;
	}
	return templatestart();
}
