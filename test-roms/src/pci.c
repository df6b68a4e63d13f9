/* pci: PCI configuration mechanism #1 (CONFIG_ADDRESS at 0xCF8, data at 0xCFC-0xCFF) as Linux's
 * arch/x86/pci/direct.c probes it, and the two functions of QEMU's `-M pc` the kernel finds first: the
 * i440FX host bridge at 00:00.0 and the PIIX3 PCI-to-ISA bridge at 00:01.0. IDs, class, revision, header
 * type, subsystem IDs; byte, word and dword reads at every offset of the data window; read-only registers
 * ignoring writes; the command register's writable bits; interrupt line and a device-specific register
 * (PIIX3 PIRQA routing) written and read back; absent devices and functions reading all-ones; the data
 * window with CONFIG_ADDRESS bit 31 clear; the PIIX3 reset control register at 0xCF9 (bit 1 only, as a
 * byte; a dword at 0xCF8 still reaches CONFIG_ADDRESS). Registers the firmware programs (command, PAM,
 * PIRQ routing) are never printed as found: they are written first. */
#include "rt.h"

#define CONFIG_ADDRESS 0xcf8
#define CONFIG_DATA 0xcfc

static inline void outl(u16 port, u32 v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline u32 inl(u16 port) { u32 v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline void outw(u16 port, u16 v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline u16 inw(u16 port) { u16 v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static u32 addr(u32 bus, u32 dev, u32 fn, u32 reg) { return 0x80000000u | bus << 16 | dev << 11 | fn << 8 | (reg & 0xfc); }

static u32 cfg_read32(u32 bus, u32 dev, u32 fn, u32 reg) { outl(CONFIG_ADDRESS, addr(bus, dev, fn, reg)); return inl(CONFIG_DATA); }
static u32 cfg_read16(u32 dev, u32 fn, u32 reg) { outl(CONFIG_ADDRESS, addr(0, dev, fn, reg)); return inw(CONFIG_DATA + (reg & 2)); }
static u32 cfg_read8(u32 dev, u32 fn, u32 reg) { outl(CONFIG_ADDRESS, addr(0, dev, fn, reg)); return inb(CONFIG_DATA + (reg & 3)); }
static void cfg_write32(u32 dev, u32 fn, u32 reg, u32 v) { outl(CONFIG_ADDRESS, addr(0, dev, fn, reg)); outl(CONFIG_DATA, v); }
static void cfg_write16(u32 dev, u32 fn, u32 reg, u32 v) { outl(CONFIG_ADDRESS, addr(0, dev, fn, reg)); outw(CONFIG_DATA + (reg & 2), (u16)v); }
static void cfg_write8(u32 dev, u32 fn, u32 reg, u32 v) { outl(CONFIG_ADDRESS, addr(0, dev, fn, reg)); outb(CONFIG_DATA + (reg & 3), (u8)v); }

/* The fixed identity registers of one function, and that writes do not change them. */
static void identity(u32 dev, const char *name, u32 ids, u32 class_rev, u32 header, u32 subsys)
{
	CHECK(cfg_read32(0, dev, 0, 0x00), ids, "%s: vendor and device ID", name);
	CHECK(cfg_read32(0, dev, 0, 0x08), class_rev, "%s: class code and revision", name);
	CHECK(cfg_read8(dev, 0, 0x0e), header, "%s: header type", name);
	CHECK(cfg_read32(0, dev, 0, 0x2c), subsys, "%s: subsystem vendor and ID", name);
	CHECK(cfg_read16(dev, 0, 0x00), ids & 0xffff, "%s: vendor ID as a word", name);
	CHECK(cfg_read16(dev, 0, 0x02), ids >> 16, "%s: device ID as a word at 0xCFE", name);
	CHECK(cfg_read8(dev, 0, 0x01), (ids >> 8) & 0xff, "%s: vendor ID high byte at 0xCFD", name);
	CHECK(cfg_read8(dev, 0, 0x03), ids >> 24, "%s: device ID high byte at 0xCFF", name);
	CHECK(cfg_read8(dev, 0, 0x0b), class_rev >> 24, "%s: base class as a byte", name);
	cfg_write32(dev, 0, 0x00, 0);
	cfg_write32(dev, 0, 0x08, 0xffffffffu);
	cfg_write8(dev, 0, 0x0e, 0x7f);
	cfg_write32(dev, 0, 0x2c, 0x12345678);
	cfg_write32(dev, 0, 0x10, 0xffffffffu);
	CHECK(cfg_read32(0, dev, 0, 0x00), ids, "%s: IDs ignore writes", name);
	CHECK(cfg_read32(0, dev, 0, 0x08), class_rev, "%s: class and revision ignore writes", name);
	CHECK(cfg_read8(dev, 0, 0x0e), header, "%s: header type ignores writes", name);
	CHECK(cfg_read32(0, dev, 0, 0x2c), subsys, "%s: subsystem IDs ignore writes", name);
	CHECK(cfg_read32(0, dev, 0, 0x10), 0, "%s: no BAR 0", name);
	CHECK(cfg_read32(0, dev, 0, 0x34), 0, "%s: no capabilities pointer", name);
	CHECK(cfg_read8(dev, 0, 0x3d), 0, "%s: no interrupt pin", name);
}

/* Writable bits of the command register, the status register, the interrupt line. */
static void registers(u32 dev, const char *name, u32 status)
{
	u32 cmd = cfg_read16(dev, 0, 0x04);
	cfg_write16(dev, 0, 0x04, 0xffff);
	CHECK(cfg_read16(dev, 0, 0x04), 0x0507, "%s: command register writable bits (I/O, memory, master, SERR, INTx disable)", name);
	cfg_write16(dev, 0, 0x04, 0);
	CHECK(cfg_read16(dev, 0, 0x04), 0, "%s: command register cleared", name);
	cfg_write16(dev, 0, 0x04, cmd);
	CHECK(cfg_read16(dev, 0, 0x06), status, "%s: status register", name);
	cfg_write16(dev, 0, 0x06, 0xffff);
	CHECK(cfg_read16(dev, 0, 0x06), status, "%s: status unchanged by writing ones (no error bits to clear)", name);
	u32 line = cfg_read8(dev, 0, 0x3c);
	cfg_write8(dev, 0, 0x3c, 0x5a);
	CHECK(cfg_read8(dev, 0, 0x3c), 0x5a, "%s: interrupt line is writable", name);
	cfg_write8(dev, 0, 0x3c, line);
	cfg_write8(dev, 0, 0x0d, 0x40);
	CHECK(cfg_read8(dev, 0, 0x0d), 0, "%s: latency timer reads 0", name);
}

void test_main(void)
{
	/* Linux's pci_check_type1(): a byte write to 0xCFB, then CONFIG_ADDRESS must keep 0x80000000. */
	u32 saved = inl(CONFIG_ADDRESS);
	outb(0xcfb, 0x01);
	outl(CONFIG_ADDRESS, 0x80000000u);
	CHECK(inl(CONFIG_ADDRESS), 0x80000000u, "mechanism #1: CONFIG_ADDRESS holds 0x80000000");
	outl(CONFIG_ADDRESS, 0x12345678);
	CHECK(inl(CONFIG_ADDRESS), 0x12345678, "CONFIG_ADDRESS holds any dword");
	outl(CONFIG_ADDRESS, 0x80000000u);
	outb(0xcfb, 0x00);
	outb(0xcf8, 0x00);
	outb(0xcfa, 0x00);
	CHECK(inl(CONFIG_ADDRESS), 0x80000000u, "byte writes to 0xCF8 and 0xCFA/0xCFB leave it alone");
	outl(CONFIG_ADDRESS, saved);

	identity(0, "00:00.0 i440FX", 0x12378086, 0x06000002, 0x00, 0x11001af4);
	identity(1, "00:01.0 PIIX3", 0x70008086, 0x06010000, 0x80, 0x11001af4);
	registers(0, "00:00.0 i440FX", 0x0000);
	registers(1, "00:01.0 PIIX3", 0x0200);

	u32 pirq = cfg_read8(1, 0, 0x60);
	cfg_write8(1, 0, 0x60, 0x8b);
	CHECK(cfg_read8(1, 0, 0x60), 0x8b, "PIIX3 PIRQA route register is writable");
	cfg_write8(1, 0, 0x60, pirq);
	u32 smram = cfg_read8(0, 0, 0x72);
	cfg_write8(0, 0, 0x72, 0x0a);
	CHECK(cfg_read8(0, 0, 0x72), 0x0a, "i440FX SMRAM register is writable");
	cfg_write8(0, 0, 0x72, smram);

	CHECK(cfg_read32(0, 5, 0, 0x00), 0xffffffffu, "00:05.0 absent: all ones");
	CHECK(cfg_read32(0, 31, 0, 0x08), 0xffffffffu, "00:1f.0 absent: all ones");
	CHECK(cfg_read32(0, 0, 1, 0x00), 0xffffffffu, "00:00.1 absent (the host bridge is single-function)");
	CHECK(cfg_read32(0, 1, 7, 0x00), 0xffffffffu, "00:01.7 absent");
	CHECK(cfg_read32(1, 0, 0, 0x00), 0xffffffffu, "bus 1 absent");
	CHECK(cfg_read16(5, 0, 0x02), 0xffff, "absent device: word read");
	CHECK(cfg_read8(5, 0, 0x0e), 0xff, "absent device: byte read");
	outl(CONFIG_ADDRESS, 0x00000000);
	CHECK(inl(CONFIG_DATA), 0xffffffffu, "data window with CONFIG_ADDRESS bit 31 clear: all ones");

	/* The PIIX3 reset control register at 0xCF9 keeps only bit 1 (bit 2 would reset the machine). */
	u8 rcr = inb(0xcf9);
	outb(0xcf9, 0x0b);
	CHECK(inb(0xcf9), 0x02, "reset control register 0xCF9 keeps bit 1");
	outb(0xcf9, rcr);
	outl(CONFIG_ADDRESS, 0x80000008u);
	CHECK(inl(CONFIG_ADDRESS), 0x80000008u, "a dword at 0xCF8 is still CONFIG_ADDRESS");
	CHECK(inl(CONFIG_DATA), 0x06000002, "and selects a register");
	outl(CONFIG_ADDRESS, saved);
	rt_finish("pci");
}
