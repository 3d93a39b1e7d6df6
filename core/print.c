/*
 * print.c — formatted output and fatal errors over raw write(2).
 *
 * Everything here runs on clone-model Ms and in signal handlers, so it uses
 * no libc: a small formatter into a caller's buffer (Go's print, with a
 * printf spelling), and fatal(), which names the M it died on.
 */
#include "runtime.h"

struct out {
	char *buf;
	size_t n;   /* capacity including the terminating NUL */
	size_t len; /* bytes that would have been written */
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->n)
		o->buf[o->len] = c;
	o->len++;
}

static void putpad(struct out *o, char c, int count)
{
	while (count-- > 0)
		put(o, c);
}

/* Puts s (len bytes) right- or left-aligned in width. */
static void putfield(struct out *o, const char *s, size_t len, int width, bool left, char pad)
{
	int padn = width > (int)len ? width - (int)len : 0;
	if (!left) {
		/* Zero padding goes after a sign. */
		if (pad == '0' && len > 0 && s[0] == '-') {
			put(o, '-');
			s++, len--;
		}
		putpad(o, pad, padn);
	}
	for (size_t i = 0; i < len; i++)
		put(o, s[i]);
	if (left)
		putpad(o, ' ', padn);
}

static size_t utoa(char *end, uint64_t v, unsigned base, bool upper)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char *p = end;
	do {
		*--p = digits[v % base];
		v /= base;
	} while (v != 0);
	return (size_t)(end - p);
}

enum { maxwidth = 4096 };

int vsnprint(char *buf, size_t n, const char *fmt, va_list ap)
{
	struct out o = { buf, n, 0 };
	char tmp[24];

	for (const char *f = fmt; *f; f++) {
		if (*f != '%') {
			put(&o, *f);
			continue;
		}
		f++;
		bool left = false;
		char pad = ' ';
		for (;; f++) {
			if (*f == '-')
				left = true;
			else if (*f == '0')
				pad = '0';
			else
				break;
		}
		/* Widths saturate at maxwidth: a format is input too, and a
		 * width of 99999999999 must neither overflow nor spin for
		 * seconds padding (found by tests/fuzz/fuzz_format). */
		int width = 0;
		for (; *f >= '0' && *f <= '9'; f++)
			if (width <= maxwidth)
				width = width * 10 + (*f - '0');
		if (width > maxwidth)
			width = maxwidth;
		int lng = 0; /* 0 int, 1 long-sized (l, ll, z, j, t) */
		while (*f == 'l' || *f == 'z' || *f == 'j' || *f == 't' || *f == 'h') {
			if (*f != 'h')
				lng = 1;
			f++;
		}
		switch (*f) {
		case 'd':
		case 'i': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
			size_t k = utoa(tmp + sizeof tmp, u, 10, false);
			char *s = tmp + sizeof tmp - k;
			if (v < 0)
				*--s = '-', k++;
			putfield(&o, s, k, width, left, pad);
			break;
		}
		case 'u':
		case 'x':
		case 'X': {
			uint64_t v = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
			unsigned base = *f == 'u' ? 10 : 16;
			size_t k = utoa(tmp + sizeof tmp, v, base, *f == 'X');
			putfield(&o, tmp + sizeof tmp - k, k, width, left, pad);
			break;
		}
		case 'p': {
			uintptr_t v = (uintptr_t)va_arg(ap, void *);
			size_t k = utoa(tmp + sizeof tmp, v, 16, false);
			char *s = tmp + sizeof tmp - k;
			*--s = 'x', *--s = '0', k += 2;
			putfield(&o, s, k, width, left, ' ');
			break;
		}
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (s == nil)
				s = "(null)";
			size_t k = 0;
			while (s[k])
				k++;
			putfield(&o, s, k, width, left, ' ');
			break;
		}
		case 'c':
			tmp[0] = (char)va_arg(ap, int);
			putfield(&o, tmp, 1, width, left, ' ');
			break;
		case '%':
			put(&o, '%');
			break;
		case '\0':
			f--; /* a lone % at the end */
			break;
		default: /* unknown verb: print it as written */
			put(&o, '%');
			put(&o, *f);
			break;
		}
	}
	if (n > 0)
		buf[o.len < n ? o.len : n - 1] = '\0';
	return (int)o.len;
}

static int writeall(int fd, const char *p, size_t n)
{
	size_t done = 0;
	while (done < n) {
		int r = oswrite(fd, p + done, n - done);
		if (r == -EINTR)
			continue;
		if (r < 0)
			return r;
		done += (size_t)r;
	}
	return (int)done;
}

static int vprintfd(int fd, const char *fmt, va_list ap)
{
	char buf[512];
	va_list ap2;
	va_copy(ap2, ap);
	int len = vsnprint(buf, sizeof buf, fmt, ap2);
	va_end(ap2);
	/* One write per call keeps lines from different Ms whole. Output
	 * longer than the buffer is truncated, never allocated for, and the
	 * caller learns what was written, not what was formatted. */
	size_t k = len < (int)sizeof buf ? (size_t)len : sizeof buf - 1;
	return writeall(fd, buf, k);
}

int printfd(int fd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vprintfd(fd, fmt, ap);
	va_end(ap);
	return r;
}

MRT_API int mrt_printf(const char *fmt, ...)
{
	if (fmt == nil)
		return -EINVAL;
	va_list ap;
	va_start(ap, fmt);
	int r = vprintfd(1, fmt, ap);
	va_end(ap);
	return r;
}

MRT_API int mrt_dprintf(int fd, const char *fmt, ...)
{
	if (fmt == nil)
		return -EINVAL;
	if (fd < 0)
		return -EBADF;
	va_list ap;
	va_start(ap, fmt);
	int r = vprintfd(fd, fmt, ap);
	va_end(ap);
	return r;
}

MRT_API int mrt_vsnprintf(char *buf, size_t n, const char *fmt, va_list ap)
{
	if (fmt == nil || (buf == nil && n != 0))
		return -EINVAL;
	return vsnprint(buf, n, fmt, ap);
}

MRT_API int mrt_snprintf(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = mrt_vsnprintf(buf, n, fmt, ap);
	va_end(ap);
	return r;
}

/*
 * fatal reports a broken internal invariant and aborts the process. It names
 * the M (or says the thread is not one) because the first question about a
 * crash in a thread runtime is "which thread".
 */
void fatal(const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprint(msg, sizeof msg, fmt, ap);
	va_end(ap);
	m *mp = getm();
	if (mp != nil)
		printfd(2, "mrt: fatal: %s (M%lld, tid %d)\n", msg, (long long)mp->id,
		        (int)osgettid());
	else
		printfd(2, "mrt: fatal: %s (not an M, tid %d)\n", msg, (int)osgettid());
	osabort();
}

void seterrmsg(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprint(mrt_tls.errmsg, sizeof mrt_tls.errmsg, fmt, ap);
	va_end(ap);
}

MRT_API const char *mrt_errmsg(void)
{
	return mrt_tls.errmsg;
}

MRT_API const char *mrt_strerror(int err)
{
	if (err == INT32_MIN)
		return "unknown error"; /* -err would overflow */
	if (err < 0)
		err = -err;
	switch (err) {
	case 0: return "success";
	case EPERM: return "EPERM (operation not permitted)";
	case ESRCH: return "ESRCH (no such M)";
	case EINTR: return "EINTR (interrupted)";
	case EAGAIN: return "EAGAIN (resource temporarily unavailable)";
	case ENOMEM: return "ENOMEM (out of memory)";
	case EBUSY: return "EBUSY (busy)";
	case EINVAL: return "EINVAL (invalid argument)";
	case EDEADLK: return "EDEADLK (would deadlock)";
	case ETIMEDOUT: return "ETIMEDOUT (timed out)";
	case EBADF: return "EBADF (bad file descriptor)";
	case ENOSYS: return "ENOSYS (not supported)";
	case ERANGE: return "ERANGE (out of range)";
	default: return "unknown error";
	}
}
