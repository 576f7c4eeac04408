#ifndef AGENTCORE_SHIMS_H
#define AGENTCORE_SHIMS_H

/// Marker so Swift can make sure the shim object file (and its `accept` override) is linked.
int agentcore_shims_linked(void);

/// While in effect, IPv4 binds to port 0 take `first_port`, `first_port + 1`, ... instead
/// (used to give the embedded cluster's brokers fixed ports).
void agentcore_fixed_ports_begin(int first_port);
void agentcore_fixed_ports_end(void);

#endif
