/*
 * outb PORT VALUE: write one byte to an I/O port, in the e2e guest (its
 * kernel has no /dev/port). It arms the ib700 watchdog QEMU emulates, for
 * which the guest's cloud kernel has no driver. Built static into the
 * guest's initramfs by build-guest.sh; not part of the daemon.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/io.h>

int
main(int argc, char **argv)
{
    unsigned long port, value;

    if (argc != 3) {
        fprintf(stderr, "usage: outb PORT VALUE\n");
        return 2;
    }
    port = strtoul(argv[1], NULL, 0);
    value = strtoul(argv[2], NULL, 0);
    if (port > 0xffff || value > 0xff) {
        fprintf(stderr, "outb: port or value out of range\n");
        return 2;
    }
    if (ioperm(port, 1, 1) < 0) {
        perror("outb: ioperm");
        return 1;
    }
    outb(value, port);
    return 0;
}
