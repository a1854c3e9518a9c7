#include "courier/train/faults.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

namespace courier {
namespace {

template <typename T>
bool parse_number(std::string_view text, T& value) {
  if (text.empty()) return false;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  return ec == std::errc() && ptr == end;
}

Status bad_item(std::string_view item, std::string_view why) {
  return Status::invalid_argument(fmt::format(
      "bad fault '{}': {}; write drop:P, duplicate:P, corrupt:P, delay:P, reorder:P, seed:N, kill:N@S, hang:N@S, "
      "join:N@S or slow:N:F (P a probability, N a node, S a step from 0, F >= 1)",
      item, why));
}

Status parse_item(std::string_view item, TrainFaults& faults) {
  const std::size_t colon = item.find(':');
  if (colon == std::string_view::npos) return bad_item(item, "no kind");
  const std::string_view kind = item.substr(0, colon);
  const std::string_view rest = item.substr(colon + 1);
  FaultPlan& net = faults.network;
  const std::pair<std::string_view, double*> rates[] = {{"drop", &net.drop_rate},
                                                        {"duplicate", &net.duplicate_rate},
                                                        {"corrupt", &net.corrupt_rate},
                                                        {"delay", &net.delay_rate},
                                                        {"reorder", &net.reorder_rate}};
  for (const auto& [name, rate] : rates) {
    if (kind != name) continue;
    if (!parse_number(rest, *rate) || !(*rate >= 0.0 && *rate < 1.0)) {
      return bad_item(item, "the rate is not a probability in [0, 1)");
    }
    return Status::ok();
  }
  if (kind == "seed") {
    if (!parse_number(rest, net.seed)) return bad_item(item, "the seed is not a whole number");
    return Status::ok();
  }
  if (kind == "slow") {
    const std::size_t c = rest.find(':');
    int node = -1;
    double factor = 0.0;
    if (c == std::string_view::npos || !parse_number(rest.substr(0, c), node) || node < 0 ||
        !parse_number(rest.substr(c + 1), factor) || !(factor >= 1.0 && factor <= 1000.0)) {
      return bad_item(item, "write the node and a factor from 1 to 1000, e.g. slow:3:3");
    }
    faults.slow.emplace_back(node, factor);
    return Status::ok();
  }
  NodeEvent event;
  if (kind == "kill") {
    event.kind = NodeEvent::Kind::kKill;
  } else if (kind == "hang") {
    event.kind = NodeEvent::Kind::kHang;
  } else if (kind == "join") {
    event.kind = NodeEvent::Kind::kJoin;
  } else {
    return bad_item(item, fmt::format("unknown kind '{}'", kind));
  }
  const std::size_t at = rest.find('@');
  if (at == std::string_view::npos || !parse_number(rest.substr(0, at), event.node) || event.node < 0 ||
      !parse_number(rest.substr(at + 1), event.step) || event.step < 0) {
    return bad_item(item, fmt::format("write {}:N@S, a node and a step from 0", kind));
  }
  faults.events.push_back(event);
  return Status::ok();
}

}  // namespace

bool TrainFaults::network_faults() const {
  return network.drop_rate > 0 || network.duplicate_rate > 0 || network.corrupt_rate > 0 || network.delay_rate > 0 ||
         network.reorder_rate > 0;
}

std::optional<NodeEvent> TrainFaults::death_of(int node) const {
  for (const NodeEvent& e : events) {
    if (e.node == node && e.kind != NodeEvent::Kind::kJoin) return e;
  }
  return std::nullopt;
}

std::optional<NodeEvent> TrainFaults::join_of(int node) const {
  for (const NodeEvent& e : events) {
    if (e.node == node && e.kind == NodeEvent::Kind::kJoin) return e;
  }
  return std::nullopt;
}

int TrainFaults::joins() const {
  int count = 0;
  for (const NodeEvent& e : events) count += e.kind == NodeEvent::Kind::kJoin ? 1 : 0;
  return count;
}

double TrainFaults::slowdown_of(int node) const {
  for (const auto& [n, factor] : slow) {
    if (n == node) return factor;
  }
  return 1.0;
}

std::vector<std::string_view> plan_items(std::string_view plan) {
  std::vector<std::string_view> items;
  std::size_t at = 0;
  while (at < plan.size()) {
    const std::size_t end = std::min(plan.find_first_of(" ,;", at), plan.size());
    if (end > at) items.push_back(plan.substr(at, end - at));
    at = end + 1;
  }
  return items;
}

Result<TrainFaults> parse_train_faults(std::string_view plan) {
  TrainFaults faults;
  faults.network.seed = 1;
  for (std::string_view item : plan_items(plan)) {
    if (Status s = parse_item(item, faults); !s.is_ok()) return s;
  }
  return faults;
}

Status check_train_faults(const TrainFaults& faults, int nodes) {
  std::vector<int> dying, joining;
  const int all = nodes + faults.joins();
  for (const NodeEvent& e : faults.events) {
    if (e.kind == NodeEvent::Kind::kJoin) {
      joining.push_back(e.node);
    } else {
      if (e.node >= all) {
        return Status::invalid_argument(fmt::format(
            "a fault kills node {}, but the run has nodes 0 to {}; name one of them", e.node, all - 1));
      }
      for (int d : dying) {
        if (d == e.node) return Status::invalid_argument(fmt::format("node {} dies twice; keep one kill or hang", d));
      }
      dying.push_back(e.node);
    }
  }
  std::sort(joining.begin(), joining.end());
  for (std::size_t i = 0; i < joining.size(); ++i) {
    if (joining[i] != nodes + static_cast<int>(i)) {
      return Status::invalid_argument(fmt::format(
          "joining nodes are spares numbered from {} (after the run's {} nodes) without gaps; join:{} does not fit",
          nodes, nodes, joining[i]));
    }
  }
  for (const auto& [node, factor] : faults.slow) {
    if (node >= nodes) {
      return Status::invalid_argument(
          fmt::format("slow:{} names no node: the run has nodes 0 to {}", node, nodes - 1));
    }
  }
  return Status::ok();
}

}  // namespace courier
