/* Prints the caller's session keyring as "DESCRIPTION LABEL" (LABEL "-" when no security
 * module labels keys): what a container process can tell of the keyring it was given.
 * Built static by tests/common (`helper`), so that it runs in a busybox rootfs. */
#include <linux/keyctl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
	char desc[512], label[512];
	long n = syscall(SYS_keyctl, KEYCTL_DESCRIBE, KEY_SPEC_SESSION_KEYRING, desc,
			 sizeof(desc) - 1);
	if (n < 0) {
		perror("keyctl(KEYCTL_DESCRIBE)");
		return 1;
	}
	desc[sizeof(desc) - 1] = 0;
	/* "type;uid;gid;perm;description" */
	char *d = desc;
	for (int i = 0; i < 4 && d; i++)
		d = strchr(d, ';') ? strchr(d, ';') + 1 : NULL;
	if (!d) {
		fprintf(stderr, "unexpected key description: %s\n", desc);
		return 1;
	}
	n = syscall(SYS_keyctl, KEYCTL_GET_SECURITY, KEY_SPEC_SESSION_KEYRING, label,
		    sizeof(label) - 1);
	label[n > 0 ? n : 0] = 0;
	printf("%s %s\n", d, label[0] ? label : "-");
	return 0;
}
