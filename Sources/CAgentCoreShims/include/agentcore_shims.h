#ifndef AGENTCORE_SHIMS_H
#define AGENTCORE_SHIMS_H

#include <stddef.h>
#include <stdint.h>

/// Marker so Swift can make sure the shim object file (and its `accept` override) is linked.
int agentcore_shims_linked(void);

#endif
