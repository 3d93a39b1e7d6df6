/*
 * runtime2.c — mrt's global state, defined in one place (Go declares the
 * same in runtime2.go): the scheduler's state, allm, m0, the settings
 * mrt_init fixes, and the CPU count. Only data lives here, so that every
 * file of core may use it without depending on the files that change it
 * (proc.c sets the settings; m.c keeps allm and the counts).
 */
#include "runtime.h"
#include "fixalloc.h"

struct schedt sched = { .maxmcount = 10000 };
m *allm;
m m0;
struct mrtconfig cfg;
/* Set by osinit: spinning on a lock only pays off when another CPU can
 * release it. */
int32_t ncpu = 1;
/* The monitor M (core/sysmon.c): its function, set before the M is made,
 * and its id once made (-1: none). Here, not in sysmon.c, so that trace.c
 * names the monitor without depending on the file whose events it prints. */
mrt_fn sysmonfn;
int64_t sysmonid = -1;

/* The g pool (g.c), here because fork.c locks it too: g.c, whose gs'
 * end may end an M (#14 item 2), depends on proc.c, which depends on
 * fork.c. */
fixalloc gpool = FIXALLOC_INIT(g);

/* The template thread's state (template.c; Go's newmHandoff), and what
 * mrt_allthreadssyscall shares with the M path (allthreads.c): here so that
 * newm, mexit and a fork child reach them without depending on those
 * files (runtime.h says why). */
struct newmhandofft newmHandoff;
uint32_t allthreadspending;
uint32_t allthreadsran;
/* Set by osinit: the kernel's page size (stacks, guards and slabs are made
 * of whole pages). */
uintptr_t pagesize = 4096;
