// Parameter groups shared by every optimizer.
#include "courier/train/optim/optimizer.h"

#include "courier/core/check.h"

namespace courier {

std::vector<ParamGroup> single_group(std::int64_t count, float weight_decay) {
  return {ParamGroup{0, count, weight_decay}};
}

void check_groups(const std::vector<ParamGroup>& groups, std::int64_t count) {
  std::int64_t next = 0;
  for (const auto& group : groups) {
    COURIER_CHECK_EQ(group.offset, next, "parameter groups must tile the buffer in order");
    COURIER_CHECK_GE(group.count, 0, "parameter group size");
    COURIER_CHECK_GE(group.weight_decay, 0.0f, "weight decay");
    next += group.count;
  }
  COURIER_CHECK_EQ(next, count, "parameter groups must cover the whole buffer");
}

}  // namespace courier
