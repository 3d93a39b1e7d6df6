/*
 * fuzz_format.c — libFuzzer target for mrt's formatter (core/print.c's
 * vsnprint, through mrt_snprintf): the format is the input.
 *
 * The first byte of the input is the buffer size (0 to 255), the rest the
 * format. Formats with more than 16 '%' are skipped: the call passes 16
 * arguments, each the address of a short string, which every verb can read
 * (the integer verbs read the low bits of a pointer-sized slot, as the
 * amd64, arm64 and riscv64 calling conventions lay them out). The buffer is
 * an exactly sized heap block, so AddressSanitizer stops any write past n.
 * Checks: the result is not negative; the output is NUL-terminated inside
 * the buffer and is the prefix of the untruncated output that the result
 * says it is; the same format gives the same output every time.
 *
 *   ninja -C build-fuzz tests/fuzz/fuzz_format
 *   build-fuzz/tests/fuzz/fuzz_format -dict=tests/fuzz/format.dict \
 *       NEW_CORPUS_DIR tests/fuzz/format
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mrt.h"

#define CHECK(c)                                                                          \
	do {                                                                              \
		if (!(c))                                                                 \
			__builtin_trap();                                                 \
	} while (0)

static const char word[] = "fuzz";
#define A16 word, word, word, word, word, word, word, word, \
            word, word, word, word, word, word, word, word

#pragma GCC diagnostic ignored "-Wformat-security"
#pragma GCC diagnostic ignored "-Wformat-nonliteral"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 4096)
		return 0;
	size_t n = data[0];
	char *fmt = malloc(size);
	if (fmt == NULL)
		return 0;
	memcpy(fmt, data + 1, size - 1);
	fmt[size - 1] = '\0';
	int pct = 0;
	for (const char *p = fmt; *p; p++)
		pct += *p == '%';
	if (pct > 16) {
		free(fmt);
		return 0;
	}
	char *buf = malloc(n ? n : 1);
	static char full[1 << 16], again[1 << 16];
	int r = mrt_snprintf(buf, n, fmt, A16);
	int rf = mrt_snprintf(full, sizeof full, fmt, A16);
	int ra = mrt_snprintf(again, sizeof again, fmt, A16);
	CHECK(r >= 0 && r == rf && ra == rf);
	CHECK(strcmp(full, again) == 0);
	if ((size_t)rf < sizeof full)
		CHECK(strlen(full) == (size_t)rf);
	if (n > 0) {
		size_t len = strnlen(buf, n);
		CHECK(len < n);
		CHECK(len == ((size_t)r < n - 1 ? (size_t)r : n - 1));
		CHECK(memcmp(buf, full, len) == 0);
	}
	free(buf);
	free(fmt);
	return 0;
}
