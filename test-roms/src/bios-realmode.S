	.code16
	.text
	.org 0xfff0
	.byte 0
	.org 0x10000
