// librdkafka's mock cluster (2.0.2) accepts client connections without TCP_NODELAY, so every
// response to a client with several requests in flight waits for the peer's delayed ACK
// (~40 ms). Real brokers set TCP_NODELAY. librdkafka imports `accept` from libc; this
// definition, linked into any process that hosts the embedded cluster, takes its place:
// it accepts with accept4 and turns Nagle off on TCP sockets. Non-TCP sockets are left as
// they are (setsockopt simply fails on them and the error is ignored on purpose).
#define _GNU_SOURCE
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include "agentcore_shims.h"

int accept(int fd, struct sockaddr *addr, socklen_t *len) {
    int s = accept4(fd, addr, len, 0);
    if (s >= 0) {
        int one = 1;
        (void)setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return s;
}

int agentcore_shims_linked(void) { return 1; }
