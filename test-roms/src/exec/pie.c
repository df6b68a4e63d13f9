/* pie: a static-pie program (ET_DYN, no interpreter) that relocates itself, as glibc's static-pie start does. */
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>

static const char *messages[] = {"relocated pointers work", "in a static-pie"};

int main(int argc, char **argv) {
	for (unsigned i = 0; i < sizeof messages / sizeof messages[0]; i++) puts(messages[i]);
	unsigned long entry = getauxval(AT_ENTRY);
	printf("entry is main's neighbour: %d\n", entry != 0 && (entry >> 20) == ((unsigned long)&main >> 20));
	printf("argc=%d last=%s\n", argc, argv[argc - 1]);
	return argc;
}
