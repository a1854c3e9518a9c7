// Forbidden: tensor sits below nn, so it must not see nn's headers.
#include "courier/nn/layer.h"

int layering_probe_tensor_includes_nn() { return 0; }
