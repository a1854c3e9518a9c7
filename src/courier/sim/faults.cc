// Parsing fault plans.
#include "courier/sim/faults.h"

#include <charconv>

#include <fmt/format.h>

#include "courier/sim/cluster.h"

namespace courier::sim {
namespace {

bool parse_int(std::string_view s, int& out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size() && out >= 0;
}

bool parse_double(std::string_view s, double& out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

}  // namespace

Result<Fault> parse_fault(std::string_view text) {
  const auto usage = [&](std::string_view why) {
    return Status::invalid_argument(fmt::format(
        "bad fault '{}': {}; write crash:N@T, slow:N:F[@T], slownic:N:F[@T], partition:A-B@T1-T2 or loss:P "
        "(times like 10ms)",
        text, why));
  };
  const std::size_t colon = text.find(':');
  if (colon == std::string_view::npos) return usage("no kind");
  const std::string_view kind = text.substr(0, colon);
  std::string_view rest = text.substr(colon + 1);
  Fault fault;
  std::string_view when;
  if (const std::size_t at = rest.find('@'); at != std::string_view::npos) {
    when = rest.substr(at + 1);
    rest = rest.substr(0, at);
  }
  if (kind == "loss") {
    fault.kind = Fault::Kind::kLoss;
    if (!parse_double(rest, fault.factor) || !(fault.factor >= 0 && fault.factor < 1)) {
      return usage("the loss is not a probability in [0, 1)");
    }
    return fault;
  }
  if (kind == "partition") {
    fault.kind = Fault::Kind::kPartition;
    const std::size_t dash = rest.find('-');
    if (dash == std::string_view::npos || !parse_int(rest.substr(0, dash), fault.node) ||
        !parse_int(rest.substr(dash + 1), fault.last) || fault.last < fault.node) {
      return usage("the nodes are not a range A-B");
    }
    const std::size_t dash2 = when.find('-');
    if (when.empty() || dash2 == std::string_view::npos || !parse_duration(when.substr(0, dash2), fault.at)) {
      return usage("a partition needs @START-END");
    }
    const std::string_view end = when.substr(dash2 + 1);
    if (end != "never" && (!parse_duration(end, fault.until) || fault.until <= fault.at)) {
      return usage("the end is not a time after the start (or never)");
    }
    return fault;
  }
  if (!when.empty() && !parse_duration(when, fault.at)) return usage(fmt::format("'{}' is not a time", when));
  if (kind == "crash") {
    fault.kind = Fault::Kind::kCrash;
    if (!parse_int(rest, fault.node)) return usage("the node is not a number");
    if (when.empty()) return usage("a crash needs @T");
    return fault;
  }
  if (kind == "slow" || kind == "slownic") {
    fault.kind = kind == "slow" ? Fault::Kind::kSlowNode : Fault::Kind::kSlowNic;
    const std::size_t c = rest.find(':');
    if (c == std::string_view::npos || !parse_int(rest.substr(0, c), fault.node) ||
        !parse_double(rest.substr(c + 1), fault.factor) || !(fault.factor >= 1.0 && fault.factor <= 1e6)) {
      return usage("write the node and a factor of at least 1, e.g. slow:3:3");
    }
    return fault;
  }
  return usage(fmt::format("unknown kind '{}'", kind));
}

std::string describe(const Fault& f) {
  switch (f.kind) {
    case Fault::Kind::kCrash: return fmt::format("node {} crashes at {}", f.node, format_time(f.at));
    case Fault::Kind::kSlowNode: return fmt::format("node {} computes {:g}x slower from {}", f.node, f.factor, format_time(f.at));
    case Fault::Kind::kSlowNic: return fmt::format("node {}'s NIC is {:g}x slower from {}", f.node, f.factor, format_time(f.at));
    case Fault::Kind::kPartition:
      return fmt::format("nodes {}-{} are cut off from {} to {}", f.node, f.last, format_time(f.at),
                         f.until == kNever ? "the end" : format_time(f.until));
    case Fault::Kind::kLoss: return fmt::format("every link loses {:g} of messages", f.factor);
  }
  return "?";
}

Status check_faults(const std::vector<Fault>& faults, int nodes) {
  for (const Fault& f : faults) {
    if (f.kind == Fault::Kind::kLoss) continue;
    const int highest = f.kind == Fault::Kind::kPartition ? f.last : f.node;
    if (highest >= nodes) {
      return Status::invalid_argument(
          fmt::format("fault '{}' names node {}, but the simulation has {} nodes (0 to {})", describe(f), highest,
                      nodes, nodes - 1));
    }
  }
  return Status::ok();
}

}  // namespace courier::sim
