// Forbidden: sim sits below comm (comm/transport/sim puts real nodes on it, not the reverse).
#include "courier/comm/message.h"

int layering_probe_sim_includes_comm() { return 0; }
