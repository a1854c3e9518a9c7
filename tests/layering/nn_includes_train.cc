// Forbidden: nn sits below train.
#include "courier/train/optim/sgd.h"

int layering_probe_nn_includes_train() { return 0; }
