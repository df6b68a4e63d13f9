/* i8042-pci: the devices a booting Linux kernel probes on the PC board.
 *
 * The 8042 keyboard controller at ports 0x60/0x64 and the PS/2 keyboard and mouse behind it, probed the
 * way Linux's i8042 and atkbd/psmouse drivers probe them. Controller: self-test (0x55, status SYS flag),
 * command byte round trip (0x20/0x60), interface tests (0xAB, 0xA9), input and output port (0xC0, 0xD0,
 * 0xD1), writes to the output buffer as if from the keyboard or the mouse (0xD2, 0xD3: AUXDATA status
 * bit), interface disable/enable in the command byte (0xAD/0xAE, 0xA7/0xA8), an empty output buffer
 * reading the last byte again. Keyboard: reset (ACK, BAT 0xAA), identify (translated ID), echo, LEDs,
 * typematic rate, scancode set (and its query, translated or not), enable/disable, an unknown command.
 * Mouse (through 0xD4): reset (ACK, 0xAA, ID 0), identify, status request, sample rate and resolution,
 * wrap mode, an unknown command (no reply). Keyboard and mouse bytes waiting together. Interrupts: none
 * while the command byte disables them; IRQ1 for keyboard data, IRQ12 (through the slave PIC) for mouse
 * data, each seen by its handler with the right status bits.
 *
 * PCI configuration mechanism #1 (CONFIG_ADDRESS at 0xCF8, data at 0xCFC-0xCFF) as Linux's
 * arch/x86/pci/direct.c probes it, and the two functions of QEMU's `-M pc` the kernel finds first: the
 * i440FX host bridge at 00:00.0 and the PIIX3 PCI-to-ISA bridge at 00:01.0. IDs, class, revision, header
 * type, subsystem IDs; byte, word and dword reads at every offset of the data window; read-only registers
 * ignoring writes; the command register's writable bits; interrupt line and device-specific registers
 * (PIIX3 PIRQA routing, i440FX SMRAM) written and read back; absent devices, functions and buses reading
 * all-ones; the data window with CONFIG_ADDRESS bit 31 clear; the PIIX3 reset control register at 0xCF9
 * (bit 1 only, as a byte; a dword at 0xCF8 still reaches CONFIG_ADDRESS).
 *
 * The state the firmware leaves (SeaBIOS under QEMU; x86jit's loader imitates part of it) is never
 * printed: the ROM writes every register before it reads it. */
#include "rt.h"

#define KBD_DATA 0x60
#define KBD_STATUS 0x64
#define STAT_OBF 0x01
#define STAT_IBF 0x02
#define STAT_SYS 0x04
#define STAT_AUXDATA 0x20
#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xa0
#define PIC2_DATA 0xa1
#define SPIN_LIMIT 1000000u
#define TIMEOUT 0x100u         /* what read_byte returns when no byte comes */
#define AUX 0x200u             /* read_tagged: the byte came with AUXDATA set */

static void wait_input_empty(void)
{
	for (u32 i = 0; i < SPIN_LIMIT && (inb(KBD_STATUS) & STAT_IBF); i++) ;
}

static void command(u8 c) { wait_input_empty(); outb(KBD_STATUS, c); }
static void write_data(u8 d) { wait_input_empty(); outb(KBD_DATA, d); }

/* The next byte of the output buffer with AUX added if the status said it came from the mouse, or TIMEOUT. */
static u32 read_tagged(void)
{
	for (u32 i = 0; i < SPIN_LIMIT; i++) {
		u8 st = inb(KBD_STATUS);
		if (st & STAT_OBF) return inb(KBD_DATA) | (st & STAT_AUXDATA ? AUX : 0);
	}
	return TIMEOUT;
}

static u32 read_byte(void) { u32 v = read_tagged(); return v == TIMEOUT ? v : v & 0xff; }

static void flush(void)
{
	for (u32 i = 0; i < 64 && (inb(KBD_STATUS) & STAT_OBF); i++) {
		(void)inb(KBD_DATA);
		for (volatile u32 j = 0; j < 100; j++) ;
	}
}

static void write_ctr(u8 v) { command(0x60); write_data(v); }
static u32 read_ctr(void) { command(0x20); return read_byte(); }

/* A keyboard command and its replies, as one number (first reply in the high byte). */
static u32 kbd(u8 c, int replies)
{
	write_data(c);
	u32 v = 0;
	for (int i = 0; i < replies; i++) v = v << 8 | read_byte();
	return v;
}

/* A mouse command through 0xD4; every reply must carry AUXDATA, else the result has bit 31 set. */
static u32 aux(u8 c, int replies)
{
	command(0xd4);
	write_data(c);
	u32 v = 0, bad = 0;
	for (int i = 0; i < replies; i++) {
		u32 b = read_tagged();
		if (!(b & AUX)) bad = 0x80000000u;
		v = v << 8 | (b & 0xff);
	}
	return v | bad;
}

static inline void sti_spin_cli(void)
{
	__asm__ volatile("sti" ::: "memory");
	for (volatile u32 i = 0; i < 1000; i++) ;
	__asm__ volatile("cli" ::: "memory");
}

volatile u32 irq1_count, irq1_status, irq1_data, irq12_count, irq12_status, irq12_data;

static void irq1(struct frame *f)
{
	(void)f;
	irq1_count++;
	irq1_status = inb(KBD_STATUS);
	irq1_data = inb(KBD_DATA);
	outb(PIC1_CMD, 0x20);
}

static void irq12(struct frame *f)
{
	(void)f;
	irq12_count++;
	irq12_status = inb(KBD_STATUS);
	irq12_data = inb(KBD_DATA);
	outb(PIC2_CMD, 0x20);
	outb(PIC1_CMD, 0x20);
}

static void pic_init(void)
{
	outb(PIC1_CMD, 0x11); outb(PIC2_CMD, 0x11);
	outb(PIC1_DATA, 0x20); outb(PIC2_DATA, 0x28);
	outb(PIC1_DATA, 0x04); outb(PIC2_DATA, 0x02);
	outb(PIC1_DATA, 0x01); outb(PIC2_DATA, 0x01);
	outb(PIC1_DATA, 0xff); outb(PIC2_DATA, 0xff);
}

static void test_i8042(void)
{
	/* Quiet both ports, interrupts off, then empty whatever the firmware left. */
	command(0xad);
	command(0xa7);
	flush();
	write_ctr(0x74);
	flush();

	command(0xaa);
	CHECK(inb(KBD_STATUS) & (STAT_OBF | STAT_SYS | STAT_AUXDATA), STAT_OBF | STAT_SYS, "self-test: output buffer full, SYS flag set");
	CHECK(read_byte(), 0x55, "self-test (0xAA) replies 0x55");
	CHECK(inb(KBD_STATUS) & (STAT_OBF | STAT_IBF | STAT_AUXDATA), 0, "status: output buffer empty after the read");
	CHECK(inb(KBD_DATA), 0x55, "an empty output buffer reads the last byte again");
	CHECK(inb(KBD_STATUS) & STAT_OBF, 0, "which leaves it empty");

	CHECK(read_ctr(), 0x74, "command byte 0x74 reads back");
	write_ctr(0x45);
	CHECK(read_ctr(), 0x45, "command byte 0x45 reads back");
	write_ctr(0x44);
	CHECK(read_ctr(), 0x44, "command byte 0x44 reads back");
	command(0xad);
	CHECK(read_ctr(), 0x54, "0xAD sets the keyboard-disable bit");
	command(0xae);
	CHECK(read_ctr(), 0x44, "0xAE clears it");
	command(0xa7);
	CHECK(read_ctr(), 0x64, "0xA7 sets the mouse-disable bit");
	command(0xa8);
	CHECK(read_ctr(), 0x44, "0xA8 clears it");

	command(0xab);
	CHECK(read_byte(), 0x00, "keyboard interface test (0xAB) replies 0x00");
	command(0xa9);
	CHECK(read_byte(), 0x00, "mouse interface test (0xA9) replies 0x00");
	command(0xc0);
	CHECK(read_byte(), 0x80, "input port (0xC0)");
	command(0xd0);
	CHECK(read_byte(), 0xcf, "output port (0xD0): reset high, A20 on");
	command(0xd1);
	write_data(0xcf);
	command(0xd0);
	CHECK(read_byte(), 0xcf, "output port written with 0xD1 reads back");

	command(0xd2);
	write_data(0xab);
	CHECK(read_tagged(), 0xab, "0xD2: byte as if from the keyboard, AUXDATA clear");
	command(0xd3);
	write_data(0x5a);
	CHECK(read_tagged(), AUX | 0x5a, "0xD3: byte as if from the mouse, AUXDATA set");
	command(0xd3);
	write_data(0xa5);
	CHECK(inb(KBD_STATUS) & (STAT_OBF | STAT_AUXDATA), STAT_OBF | STAT_AUXDATA, "status while mouse data waits");
	CHECK(inb(KBD_DATA), 0xa5, "mouse data read");
	CHECK(inb(KBD_STATUS) & (STAT_OBF | STAT_AUXDATA), 0, "status after it");

	/* The keyboard, translated (command byte bit 6). */
	CHECK(kbd(0xff, 2), 0xfaaa, "keyboard reset: ACK, BAT passed");
	CHECK(kbd(0xf2, 3), 0xfaab41, "keyboard identify: ACK, 0xAB 0x41 (translated)");
	CHECK(kbd(0xee, 1), 0xee, "keyboard echo");
	CHECK(kbd(0xed, 1), 0xfa, "set LEDs: ACK");
	CHECK(kbd(0x02, 1), 0xfa, "LED byte: ACK");
	CHECK(kbd(0xf3, 1), 0xfa, "typematic rate: ACK");
	CHECK(kbd(0x20, 1), 0xfa, "rate byte: ACK");
	CHECK(kbd(0xf0, 1), 0xfa, "scancode set: ACK");
	CHECK(kbd(0x02, 1), 0xfa, "set 2: ACK");
	CHECK(kbd(0xf0, 1), 0xfa, "scancode set query: ACK");
	CHECK(kbd(0x00, 2), 0xfa41, "query: ACK, set 2 reported as translated (0x41)");
	write_ctr(0x04);
	CHECK(kbd(0xf2, 3), 0xfaab83, "untranslated identify: ACK, 0xAB 0x83");
	CHECK(kbd(0xf0, 1), 0xfa, "untranslated scancode set query: ACK");
	CHECK(kbd(0x00, 2), 0xfa02, "query: ACK, set 2 reported as 2");
	write_ctr(0x44);
	CHECK(kbd(0xf5, 1), 0xfa, "disable scanning: ACK");
	CHECK(kbd(0xf4, 1), 0xfa, "enable scanning: ACK");
	CHECK(kbd(0xe8, 1), 0xfe, "unknown keyboard command: resend");
	CHECK(read_ctr(), 0x44, "command byte unchanged by keyboard traffic");
	command(0xad);
	CHECK(kbd(0xee, 1), 0xee, "writing to the keyboard re-enables its interface");
	CHECK(read_ctr(), 0x44, "keyboard-disable bit cleared by that write");
	flush();

	/* The mouse. */
	CHECK(aux(0xff, 3), 0xfaaa00, "mouse reset: ACK, 0xAA, ID 0x00, all with AUXDATA");
	CHECK(aux(0xf2, 2), 0xfa00, "mouse identify: ACK, ID 0x00");
	CHECK(aux(0xe9, 4), 0xfa000264, "mouse status request: ACK, status 0, resolution 2, rate 100");
	CHECK(aux(0xf3, 1), 0xfa, "set sample rate: ACK");
	CHECK(aux(40, 1), 0xfa, "rate 40: ACK");
	CHECK(aux(0xe8, 1), 0xfa, "set resolution: ACK");
	CHECK(aux(3, 1), 0xfa, "resolution 3: ACK");
	CHECK(aux(0xe6, 1), 0xfa, "scaling 1:1: ACK");
	CHECK(aux(0xf4, 1), 0xfa, "enable reporting: ACK");
	CHECK(aux(0xe9, 4), 0xfa200328, "status: enabled, resolution 3, rate 40");
	CHECK(aux(0xf5, 1), 0xfa, "disable reporting: ACK");
	CHECK(aux(0xee, 1), 0xfa, "wrap mode: ACK");
	CHECK(aux(0x5a, 1), 0x5a, "wrap mode echoes 0x5A");
	CHECK(aux(0xec, 1), 0xfa, "reset wrap mode: ACK");
	command(0xd4);
	write_data(0xe1);
	for (volatile u32 i = 0; i < 1000; i++) ;
	CHECK(inb(KBD_STATUS) & STAT_OBF, 0, "unknown mouse command: no reply");
	CHECK(aux(0xf6, 1), 0xfa, "set defaults: ACK");
	CHECK(aux(0xe9, 4), 0xfa000264, "status after defaults");
	CHECK(read_ctr(), 0x44, "command byte after mouse traffic");
	flush();

	/* Both devices with bytes waiting: the buffer alternates between them (the one just read lowers its
	 * line, and the other's byte takes the empty buffer before it raises it again). */
	write_data(0xf2);
	command(0xd4);
	write_data(0xff);
	u32 order = 0, tags = 0;
	for (int i = 0; i < 6; i++) {
		u32 b = read_tagged();
		order = order * 31 + (b & 0xff);
		tags = tags << 1 | (b & AUX ? 1 : 0);
	}
	CHECK(tags, 0x15, "keyboard and mouse replies alternate: keyboard, mouse, keyboard, mouse, keyboard, mouse");
	CHECK(order, ((((0xfau * 31 + 0xfa) * 31 + 0xab) * 31 + 0xaa) * 31 + 0x41) * 31 + 0x00, "bytes FA FA AB AA 41 00");
	CHECK(inb(KBD_STATUS) & STAT_OBF, 0, "nothing more");

	/* Interrupts. */
	pic_init();
	rt_set_handler(0x21, irq1);
	rt_set_handler(0x2c, irq12);
	outb(PIC1_DATA, 0xf9);   /* IRQ1 and the cascade */
	outb(PIC2_DATA, 0xef);   /* IRQ12 */
	command(0xd2);
	write_data(0x11);
	sti_spin_cli();
	CHECK(irq1_count, 0, "no IRQ1 while the command byte disables it");
	CHECK(read_byte(), 0x11, "the byte is still there");
	write_ctr(0x47);
	write_data(0xf2);   /* identify: three replies, one IRQ1 each */
	sti_spin_cli();
	sti_spin_cli();
	sti_spin_cli();
	CHECK(irq1_count, 3, "three keyboard bytes, three IRQ1");
	CHECK(irq1_data, 0x41, "the last one read by the IRQ1 handler is the ID's second byte");
	CHECK(irq1_status & (STAT_OBF | STAT_AUXDATA), STAT_OBF, "IRQ1 handler saw keyboard data");
	command(0xd3);
	write_data(0x77);
	sti_spin_cli();
	CHECK(irq12_count, 1, "mouse data raises IRQ12");
	CHECK(irq12_data, 0x77, "IRQ12 handler read the byte");
	CHECK(irq12_status & (STAT_OBF | STAT_AUXDATA), STAT_OBF | STAT_AUXDATA, "IRQ12 handler saw AUXDATA");
	CHECK(irq1_count, 3, "and IRQ1 did not fire for it");
	command(0xd4);
	write_data(0xf2);   /* mouse identify: two replies */
	sti_spin_cli();
	sti_spin_cli();
	CHECK(irq12_count, 3, "two mouse replies, two more IRQ12");
	CHECK(irq12_data, 0x00, "the mouse ID read by the IRQ12 handler");
	outb(PIC1_DATA, 0xff);
	outb(PIC2_DATA, 0xff);
	write_ctr(0x44);
}

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

static void test_pci(void)
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
}

void test_main(void)
{
	test_i8042();
	test_pci();
	rt_finish("i8042-pci");
}
