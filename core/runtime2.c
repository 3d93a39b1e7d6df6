/*
 * runtime2.c — mrt's global state, defined in one place (Go declares the
 * same in runtime2.go): the scheduler's state, allm, m0, the settings
 * mrt_init fixes, and the CPU count. Only data lives here, so that every
 * file of core may use it without depending on the files that change it
 * (proc.c sets the settings; m.c keeps allm and the counts).
 */
#include "runtime.h"

struct schedt sched = { .maxmcount = 10000 };
m *allm;
m m0;
struct mrtconfig cfg;
/* Set by osinit: spinning on a lock only pays off when another CPU can
 * release it. */
int32_t ncpu = 1;
/* Set by osinit: the kernel's page size (stacks, guards and slabs are made
 * of whole pages). */
uintptr_t pagesize = 4096;
