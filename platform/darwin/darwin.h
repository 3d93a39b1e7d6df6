/*
 * darwin.h — what the files of platform/darwin share.
 */
#ifndef MRT_DARWIN_H
#define MRT_DARWIN_H

#include "runtime.h"

/* Makes s usable (Go's semacreate). */
void semainit(os_sema *s);

#endif
