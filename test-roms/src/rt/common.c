/* printf-lite, checks and mem* helpers: shared by the bare-metal and the HOST build. */
#include "rt.h"

u32 rt_passed, rt_failed;

void rt_puts(const char *s) { while (*s) rt_putc(*s++); }

/* Formatted output to a sink: %d %u %x %X %s %c %%, with optional '0' flag and width. */
struct sink { char *buf; int size, len; };

static void sink_put(struct sink *k, char c)
{
	if (!k->buf) rt_putc(c);
	else if (k->len < k->size - 1) k->buf[k->len] = c;
	k->len++;
}

static void format(struct sink *k, const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		if (*fmt != '%') { sink_put(k, *fmt); continue; }
		fmt++;
		char pad = ' ';
		int width = 0;
		if (*fmt == '0') { pad = '0'; fmt++; }
		while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (*fmt++ - '0');
		char tmp[12];
		int n = 0, neg = 0;
		u32 v;
		switch (*fmt) {
		case 'd': {
			s32 sv = va_arg(ap, s32);
			neg = sv < 0;
			v = neg ? 0u - (u32)sv : (u32)sv;
			do { tmp[n++] = '0' + v % 10; v /= 10; } while (v);
			break;
		}
		case 'u':
			v = va_arg(ap, u32);
			do { tmp[n++] = '0' + v % 10; v /= 10; } while (v);
			break;
		case 'x': case 'X':
			v = va_arg(ap, u32);
			do { tmp[n++] = "0123456789abcdef"[v & 15]; v >>= 4; } while (v);
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			while (*s) sink_put(k, *s++);
			continue;
		}
		case 'c':
			sink_put(k, (char)va_arg(ap, int));
			continue;
		default:
			sink_put(k, *fmt);
			continue;
		}
		if (neg) {
			if (pad == '0') sink_put(k, '-');
			width--;
		}
		for (int i = n; i < width; i++) sink_put(k, pad);
		if (neg && pad != '0') sink_put(k, '-');
		while (n) sink_put(k, tmp[--n]);
	}
}

void rt_vprintf(const char *fmt, va_list ap)
{
	struct sink k = { 0, 0, 0 };
	format(&k, fmt, ap);
}

void rt_printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	rt_vprintf(fmt, ap);
	va_end(ap);
}

int rt_snprintf(char *buf, int size, const char *fmt, ...)
{
	struct sink k = { buf, size, 0 };
	va_list ap;
	va_start(ap, fmt);
	format(&k, fmt, ap);
	va_end(ap);
	if (size > 0) buf[k.len < size ? k.len : size - 1] = 0;
	return k.len;
}

int rt_check(u32 got, u32 expected, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	rt_puts(got == expected ? "PASS " : "FAIL ");
	rt_vprintf(fmt, ap);
	va_end(ap);
	if (got == expected) {
		rt_passed++;
		rt_putc('\n');
		return 1;
	}
	rt_failed++;
	rt_printf(": got 0x%x expected 0x%x\n", got, expected);
	return 0;
}

int rt_check_rf(u32 got_res, u32 got_fl, u32 exp_res, u32 exp_fl, const char *fmt, ...)
{
	int ok = got_res == exp_res && got_fl == exp_fl;
	va_list ap;
	va_start(ap, fmt);
	rt_puts(ok ? "PASS " : "FAIL ");
	rt_vprintf(fmt, ap);
	va_end(ap);
	if (ok) {
		rt_passed++;
		rt_putc('\n');
		return 1;
	}
	rt_failed++;
	rt_printf(": got 0x%x flags 0x%x expected 0x%x flags 0x%x\n", got_res, got_fl, exp_res, exp_fl);
	return 0;
}

void rt_finish(const char *name)
{
	rt_printf("SUMMARY %s: %u passed, %u failed\n", name, rt_passed, rt_failed);
	rt_exit(rt_failed ? 1 : 0);
}

void *memset(void *d, int c, unsigned n)
{
	u8 *p = d;
	while (n--) *p++ = (u8)c;
	return d;
}

void *memcpy(void *d, const void *s, unsigned n)
{
	u8 *p = d;
	const u8 *q = s;
	while (n--) *p++ = *q++;
	return d;
}

int memcmp(const void *a, const void *b, unsigned n)
{
	const u8 *p = a, *q = b;
	for (; n; n--, p++, q++)
		if (*p != *q) return *p - *q;
	return 0;
}
