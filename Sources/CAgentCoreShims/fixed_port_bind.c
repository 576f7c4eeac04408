// librdkafka's mock cluster (2.0.2) listens on ephemeral loopback ports and has no setting
// for fixed ones. `agentcore broker` must be reachable on known ports, so while
// `agentcore_fixed_ports_begin` is in effect, a bind of an IPv4 socket to port 0 gets the
// next port of the range instead. Outside that window `bind` is the plain system call.
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "agentcore_shims.h"

static pthread_mutex_t fixed_lock = PTHREAD_MUTEX_INITIALIZER;
static int fixed_next = 0;

void agentcore_fixed_ports_begin(int first_port) {
    pthread_mutex_lock(&fixed_lock);
    fixed_next = first_port;
    pthread_mutex_unlock(&fixed_lock);
}

void agentcore_fixed_ports_end(void) {
    pthread_mutex_lock(&fixed_lock);
    fixed_next = 0;
    pthread_mutex_unlock(&fixed_lock);
}

int bind(int fd, const struct sockaddr *addr, socklen_t len) {
    struct sockaddr_in fixed;
    if (addr && addr->sa_family == AF_INET && len >= (socklen_t)sizeof fixed) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
        if (in->sin_port == 0) {
            pthread_mutex_lock(&fixed_lock);
            int port = fixed_next;
            if (port > 0) fixed_next++;
            pthread_mutex_unlock(&fixed_lock);
            if (port > 0) {
                fixed = *in;
                fixed.sin_port = htons((unsigned short)port);
                int one = 1;
                (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
                return (int)syscall(SYS_bind, fd, (const struct sockaddr *)&fixed, sizeof fixed);
            }
        }
    }
    return (int)syscall(SYS_bind, fd, addr, len);
}
