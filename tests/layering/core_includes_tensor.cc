// Forbidden: core is the bottom layer and sees only itself.
#include "courier/tensor/tensor.h"

int layering_probe_core_includes_tensor() { return 0; }
