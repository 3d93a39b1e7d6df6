/*
 * execprobe.c — what test_fork execs: reports, on stdout, the effective uid
 * it runs with (it is installed set-user-ID root by the test) and how many
 * threads the new image has.
 */
#include <dirent.h>
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	int threads = 0;
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	while (d != NULL && (e = readdir(d)) != NULL)
		threads += e->d_name[0] != '.';
	if (d != NULL)
		closedir(d);
	printf("probe: euid=%d threads=%d\n", (int)geteuid(), threads);
	return 0;
}
