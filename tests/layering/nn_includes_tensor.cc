// Allowed: nn depends on tensor and core.
#include "courier/core/status.h"
#include "courier/nn/layer.h"
#include "courier/tensor/tensor.h"

int layering_probe_nn_includes_tensor() { return courier::Tensor::zeros({2}).rank(); }
