/*
 * vdso_linux.c — a symbol of the vDSO, the shared object Linux maps into
 * every process (Go's vdso_linux.go, in C).
 *
 * The kernel hands each process the address of an ELF image it mapped, the
 * vDSO, in the auxiliary vector (AT_SYSINFO_EHDR). Its functions run in
 * user space: clock_gettime there reads the kernel's timekeeping data from a
 * shared page, with no system call (about 25 ns here against 170 for the
 * system call). mrt finds the symbol itself, as Go does, rather than through
 * the dynamic linker: a static program has none, and the image is small and
 * made by the kernel. What the kernel gives is a complete shared object:
 * program headers (the first PT_LOAD gives the load bias, PT_DYNAMIC the
 * dynamic section), a dynamic symbol table with its string table, a hash
 * table (GNU, SysV or both) and symbol versions (DT_VERSYM, DT_VERDEF).
 * The version is checked as the kernel's documentation asks
 * (Documentation/ABI/stable/vdso): a symbol is looked up by name and
 * version, and one of another version is not it.
 *
 * Read once, by osinit on m0, before any M exists; nothing here runs on
 * the M path. Only 64-bit little-endian images are parsed: every CPU mrt
 * supports. Anything that does not look like one gives no symbol, and mrt
 * makes the system call instead — as under QEMU user mode, which maps no
 * vDSO for its guests (AT_SYSINFO_EHDR is 0).
 */
#include "linux.h"

/* The ELF64 structures and constants this reads (the ELF gABI). */
typedef struct {
	unsigned char ident[16];
	uint16_t type, machine;
	uint32_t version;
	uint64_t entry, phoff, shoff;
	uint32_t flags;
	uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
} elf64ehdr;

typedef struct {
	uint32_t type, flags;
	uint64_t offset, vaddr, paddr, filesz, memsz, align;
} elf64phdr;

typedef struct {
	int64_t tag;
	uint64_t val;
} elf64dyn;

typedef struct {
	uint32_t name;
	unsigned char info, other;
	uint16_t shndx;
	uint64_t value, size;
} elf64sym;

typedef struct {
	uint16_t version, flags, ndx, cnt;
	uint32_t hash, aux, next;
} elf64verdef;

typedef struct {
	uint32_t name, next;
} elf64verdaux;

enum {
	PT_LOAD_ = 1,
	PT_DYNAMIC_ = 2,
	DT_NULL_ = 0,
	DT_HASH_ = 4,
	DT_STRTAB_ = 5,
	DT_SYMTAB_ = 6,
	DT_GNU_HASH_ = 0x6ffffef5,
	DT_VERSYM_ = 0x6ffffff0,
	DT_VERDEF_ = 0x6ffffffc,
	STT_NOTYPE_ = 0,
	STT_FUNC_ = 2,
	STB_GLOBAL_ = 1,
	STB_WEAK_ = 2,
	SHN_UNDEF_ = 0,
	VER_FLG_BASE_ = 1,
	EI_CLASS_ = 4,
	EI_DATA_ = 5,
	ELFCLASS64_ = 2,
	ELFDATA2LSB_ = 1,
	L_AT_SYSINFO_EHDR = 33,
};

/* glibc's: the auxiliary vector (as for AT_PAGESZ in os_linux.c). */
extern unsigned long getauxval(unsigned long type);

static bool streq(const char *a, const char *b)
{
	while (*a != '\0' && *a == *b)
		a++, b++;
	return *a == *b;
}

/* The SysV ELF hash: DT_HASH's buckets and verdef's vd_hash. */
static uint32_t elfhash(const char *s)
{
	uint32_t h = 0;
	for (; *s != '\0'; s++) {
		h = (h << 4) + (unsigned char)*s;
		uint32_t g = h & 0xf0000000u;
		if (g != 0)
			h ^= g >> 24;
		h &= ~g;
	}
	return h;
}

/* The GNU hash (DT_GNU_HASH: h * 33 + c from 5381). */
static uint32_t gnuhash(const char *s)
{
	uint32_t h = 5381;
	for (; *s != '\0'; s++)
		h = h * 33 + (unsigned char)*s;
	return h;
}

/* What the dynamic section says, the addresses biased already. */
struct vdso {
	uintptr_t bias;
	const char *str;
	const elf64sym *sym;
	const uint32_t *hash, *gnu;
	const uint16_t *versym;
	const elf64verdef *verdef;
};

static bool vdsoparse(uintptr_t base, struct vdso *v)
{
	const elf64ehdr *eh = (const elf64ehdr *)base;
	if (eh->ident[0] != 0x7f || eh->ident[1] != 'E' || eh->ident[2] != 'L' ||
	    eh->ident[3] != 'F' || eh->ident[EI_CLASS_] != ELFCLASS64_ ||
	    eh->ident[EI_DATA_] != ELFDATA2LSB_ || eh->phentsize != sizeof(elf64phdr))
		return false;
	/* The first PT_LOAD gives the bias (the image's offsets against its
	 * link addresses); PT_DYNAMIC the dynamic section, by file offset. */
	const elf64dyn *dyn = nil;
	bool load = false;
	for (uint16_t i = 0; i < eh->phnum; i++) {
		const elf64phdr *ph = (const elf64phdr *)(base + eh->phoff) + i;
		if (ph->type == PT_LOAD_ && !load) {
			load = true;
			v->bias = base + (uintptr_t)ph->offset - (uintptr_t)ph->vaddr;
		} else if (ph->type == PT_DYNAMIC_) {
			dyn = (const elf64dyn *)(base + (uintptr_t)ph->offset);
		}
	}
	if (!load || dyn == nil)
		return false;
	for (; dyn->tag != DT_NULL_; dyn++) {
		uintptr_t p = v->bias + (uintptr_t)dyn->val;
		switch (dyn->tag) {
		case DT_STRTAB_: v->str = (const char *)p; break;
		case DT_SYMTAB_: v->sym = (const elf64sym *)p; break;
		case DT_HASH_: v->hash = (const uint32_t *)p; break;
		case DT_GNU_HASH_: v->gnu = (const uint32_t *)p; break;
		case DT_VERSYM_: v->versym = (const uint16_t *)p; break;
		case DT_VERDEF_: v->verdef = (const elf64verdef *)p; break;
		}
	}
	if (v->verdef == nil)
		v->versym = nil; /* versions without their definitions: ignore them */
	return v->str != nil && v->sym != nil && (v->hash != nil || v->gnu != nil);
}

/* The index of version `version` among the image's definitions: 0 when
 * the image defines none (every symbol then matches), -1 when it does not
 * define this one (no symbol matches). */
static int vdsoversion(const struct vdso *v, const char *version)
{
	if (v->versym == nil)
		return 0;
	uint32_t h = elfhash(version);
	for (const elf64verdef *d = v->verdef;;
	     d = (const elf64verdef *)((uintptr_t)d + d->next)) {
		if ((d->flags & VER_FLG_BASE_) == 0 && d->hash == h) {
			const elf64verdaux *a = (const elf64verdaux *)((uintptr_t)d + d->aux);
			if (streq(v->str + a->name, version))
				return d->ndx & 0x7fff;
		}
		if (d->next == 0)
			return -1;
	}
}

/* Whether symbol i is the function name of version ver. */
static bool vdsomatch(const struct vdso *v, uint32_t i, const char *name, int ver)
{
	const elf64sym *s = &v->sym[i];
	unsigned type = s->info & 0xf, bind = s->info >> 4;
	if ((type != STT_FUNC_ && type != STT_NOTYPE_) || (bind != STB_GLOBAL_ && bind != STB_WEAK_) ||
	    s->shndx == SHN_UNDEF_ || !streq(v->str + s->name, name))
		return false;
	return v->versym == nil || ver == 0 || (v->versym[i] & 0x7fff) == ver;
}

/*
 * vdsosym is the address of function `name` of version `version` in the
 * vDSO, or nil: no vDSO, no such symbol, or an image that does not parse.
 * On m0, at osinit.
 */
void *vdsosym(const char *name, const char *version)
{
	uintptr_t base = (uintptr_t)getauxval(L_AT_SYSINFO_EHDR);
	struct vdso v = { 0 };
	if (base == 0 || !vdsoparse(base, &v))
		return nil;
	int ver = vdsoversion(&v, version);
	if (ver < 0)
		return nil;
	uint32_t i = UINT32_MAX;
	if (v.gnu != nil) {
		/* nbucket, symoffset, bloom words (64-bit), shift; the bloom
		 * filter, the buckets, then a hash per symbol from symoffset
		 * (bit 0 set at the end of a chain). */
		uint32_t nbucket = v.gnu[0], symoff = v.gnu[1], nbloom = v.gnu[2];
		const uint32_t *bucket = v.gnu + 4 + 2 * nbloom;
		const uint32_t *chain = bucket + nbucket;
		uint32_t h = gnuhash(name);
		if (nbucket == 0)
			return nil;
		for (uint32_t k = bucket[h % nbucket]; k >= symoff; k++) {
			uint32_t hk = chain[k - symoff];
			if ((hk | 1) == (h | 1) && vdsomatch(&v, k, name, ver)) {
				i = k;
				break;
			}
			if (hk & 1)
				break;
		}
	} else {
		/* nbucket, nchain, the buckets, the chains: symbol indexes, 0
		 * ends a chain. */
		uint32_t nbucket = v.hash[0];
		const uint32_t *bucket = v.hash + 2, *chain = bucket + nbucket;
		if (nbucket == 0)
			return nil;
		for (uint32_t k = bucket[elfhash(name) % nbucket]; k != 0; k = chain[k]) {
			if (vdsomatch(&v, k, name, ver)) {
				i = k;
				break;
			}
		}
	}
	if (i == UINT32_MAX)
		return nil;
	return (void *)(v.bias + (uintptr_t)v.sym[i].value);
}
