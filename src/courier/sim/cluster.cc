// Network: routes, link reservations, loss and faults.
#include "courier/sim/cluster.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>

#include <fmt/format.h>

#include "courier/core/check.h"

namespace courier::sim {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Splits "25Gbps" into 25 and "Gbps". False when there is no leading number.
bool split_number(std::string_view text, double& value, std::string_view& unit) {
  text = trim(text);
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || !std::isfinite(value)) return false;
  unit = trim(std::string_view(ptr, static_cast<std::size_t>(end - ptr)));
  return true;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool parse_bandwidth(std::string_view text, double& bits_per_second) {
  double value = 0;
  std::string_view unit_text;
  if (!split_number(text, value, unit_text) || value <= 0) return false;
  // Bits: "Gbps", "Gb/s", "Gbit/s"; bytes: "GB/s", "GBps" (case matters for b and B).
  const std::string unit(unit_text);
  const std::pair<const char*, double> units[] = {
      {"bps", 1}, {"Kbps", 1e3}, {"Mbps", 1e6}, {"Gbps", 1e9}, {"Tbps", 1e12},
      {"b/s", 1}, {"Kb/s", 1e3}, {"Mb/s", 1e6}, {"Gb/s", 1e9}, {"Tb/s", 1e12},
      {"Kbit/s", 1e3}, {"Mbit/s", 1e6}, {"Gbit/s", 1e9},
      {"B/s", 8}, {"KB/s", 8e3}, {"MB/s", 8e6}, {"GB/s", 8e9}, {"TB/s", 8e12},
      {"Bps", 8}, {"KBps", 8e3}, {"MBps", 8e6}, {"GBps", 8e9}, {"TBps", 8e12}};
  // Exact first; then bits case-insensitively ("gbps"), as long as no capital B asks for bytes.
  for (const auto& [name, scale] : units) {
    if (unit == name) {
      bits_per_second = value * scale;
      return true;
    }
  }
  if (unit.find('B') != std::string::npos) return false;
  for (const auto& [name, scale] : units) {
    if (std::string_view(name).find('B') == std::string_view::npos && lower(unit) == lower(name)) {
      bits_per_second = value * scale;
      return true;
    }
  }
  return false;
}

}  // namespace

bool parse_duration(std::string_view text, Time& out) {
  double value = 0;
  std::string_view unit;
  if (!split_number(text, value, unit) || value < 0) return false;
  const std::string u = lower(unit);
  double seconds = 0;
  if (u == "s") {
    seconds = value;
  } else if (u == "ms") {
    seconds = value * 1e-3;
  } else if (u == "us" || u == "µs") {
    seconds = value * 1e-6;
  } else if (u == "ns") {
    seconds = value * 1e-9;
  } else if (u == "ps") {
    seconds = value * 1e-12;
  } else {
    return false;
  }
  if (seconds > 1e6) return false;
  out = from_seconds(seconds);
  return true;
}

Result<LinkSpec> parse_link(std::string_view text) {
  const auto usage = [&](std::string_view why) {
    return Status::invalid_argument(fmt::format(
        "bad link '{}': {}; write BANDWIDTH,LATENCY[,loss=P], e.g. 25Gbps,5us or 100Gbps,2us,loss=0.001", text, why));
  };
  std::vector<std::string_view> parts;
  std::string_view rest = text;
  while (true) {
    const std::size_t comma = rest.find(',');
    parts.push_back(trim(rest.substr(0, comma)));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (parts.size() < 2 || parts.size() > 3) return usage("expected two or three comma-separated fields");
  LinkSpec link;
  if (!parse_bandwidth(parts[0], link.bits_per_second)) {
    return usage(fmt::format("'{}' is not a bandwidth (a positive number with bps, Kbps, Mbps, Gbps, Tbps or GB/s)", parts[0]));
  }
  if (!parse_duration(parts[1], link.latency)) {
    return usage(fmt::format("'{}' is not a latency (a number with ns, us, ms or s)", parts[1]));
  }
  if (parts.size() == 3) {
    std::string_view loss = parts[2];
    if (!loss.starts_with("loss=")) return usage(fmt::format("unknown field '{}'", loss));
    loss.remove_prefix(5);
    auto [ptr, ec] = std::from_chars(loss.data(), loss.data() + loss.size(), link.loss);
    if (ec != std::errc() || ptr != loss.data() + loss.size() || !(link.loss >= 0 && link.loss < 1)) {
      return usage(fmt::format("loss '{}' is not a probability in [0, 1)", loss));
    }
  }
  return link;
}

std::string describe(const LinkSpec& link) {
  const double b = link.bits_per_second;
  std::string bw = b >= 1e9 ? fmt::format("{:g} Gb/s", b / 1e9) : fmt::format("{:g} Mb/s", b / 1e6);
  std::string out = fmt::format("{}, {} latency", bw, format_time(link.latency));
  if (link.loss > 0) out += fmt::format(", loss {:g}", link.loss);
  return out;
}

Status parse_fabric(std::string_view text, ClusterSpec& spec) {
  const auto usage = [&] {
    return Status::invalid_argument(fmt::format(
        "bad cluster '{}': write switch, ring, fattree:K (K nodes a leaf) or fattree:K:O (uplinks oversubscribed O:1)",
        text));
  };
  if (text == "switch") {
    spec.fabric = Fabric::kSwitch;
    return Status::ok();
  }
  if (text == "ring") {
    spec.fabric = Fabric::kRing;
    return Status::ok();
  }
  if (!text.starts_with("fattree:")) return usage();
  std::string_view rest = text.substr(8);
  const std::size_t colon = rest.find(':');
  const std::string_view k = rest.substr(0, colon);
  int leaf = 0;
  auto [ptr, ec] = std::from_chars(k.data(), k.data() + k.size(), leaf);
  if (ec != std::errc() || ptr != k.data() + k.size() || leaf < 1) return usage();
  double over = 1.0;
  if (colon != std::string_view::npos) {
    const std::string_view o = rest.substr(colon + 1);
    auto [p2, e2] = std::from_chars(o.data(), o.data() + o.size(), over);
    if (e2 != std::errc() || p2 != o.data() + o.size() || !(over >= 1.0 && over <= 1024.0)) return usage();
  }
  spec.fabric = Fabric::kFatTree;
  spec.leaf_size = leaf;
  spec.oversubscription = over;
  return Status::ok();
}

std::string describe(const ClusterSpec& spec) {
  std::string fabric = spec.fabric == Fabric::kSwitch ? "one switch"
                       : spec.fabric == Fabric::kRing
                           ? "a ring"
                           : fmt::format("a fat tree of {}-node leaves ({:g}:1 uplinks)", spec.leaf_size,
                                         spec.oversubscription);
  return fmt::format("{} nodes on {}, links {}", spec.nodes, fabric, describe(spec.link));
}

Network::Network(Engine& engine, ClusterSpec spec, std::uint64_t seed)
    : engine_(&engine),
      spec_(spec),
      rng_(seed, /*stream=*/0x6e6574),
      crashed_(static_cast<std::size_t>(spec.nodes), false),
      side_(static_cast<std::size_t>(spec.nodes), 0) {
  COURIER_CHECK(spec.nodes >= 1, "a cluster needs a node");
  COURIER_CHECK(spec.leaf_size >= 1, "a leaf needs a node");
  const double ppb = 8.0 * static_cast<double>(kPicosPerSecond) / spec.link.bits_per_second;
  const int n = spec.nodes;
  const auto add = [&](double picos_per_byte, Time latency, std::string name) {
    links_.push_back(Link{picos_per_byte, latency});
    stats_.push_back(LinkStats{std::move(name)});
  };
  if (spec.fabric == Fabric::kRing) {
    for (int i = 0; i < n; ++i) {
      add(ppb, spec.link.latency, fmt::format("node {} -> {}", i, (i + 1) % n));
      add(ppb, spec.link.latency, fmt::format("node {} -> {}", i, (i + n - 1) % n));
    }
    return;
  }
  for (int i = 0; i < n; ++i) {
    add(ppb, spec.link.latency / 2, fmt::format("node {} up", i));
    add(ppb, spec.link.latency / 2, fmt::format("node {} down", i));
  }
  if (spec.fabric == Fabric::kFatTree) {
    const int leaves = (n + spec.leaf_size - 1) / spec.leaf_size;
    const double uplink_ppb = ppb * spec.oversubscription / spec.leaf_size;
    for (int l = 0; l < leaves; ++l) {
      add(uplink_ppb, spec.link.latency / 2, fmt::format("leaf {} up", l));
      add(uplink_ppb, spec.link.latency / 2, fmt::format("leaf {} down", l));
    }
  }
}

void Network::route(int source, int destination, std::vector<int>& path) const {
  path.clear();
  const int n = spec_.nodes;
  if (spec_.fabric == Fabric::kRing) {
    const int forward = (destination - source + n) % n;
    if (forward <= n - forward) {
      for (int i = source; i != destination; i = (i + 1) % n) path.push_back(2 * i);
    } else {
      for (int i = source; i != destination; i = (i + n - 1) % n) path.push_back(2 * i + 1);
    }
    return;
  }
  path.push_back(2 * source);
  if (spec_.fabric == Fabric::kFatTree) {
    const int from = source / spec_.leaf_size, to = destination / spec_.leaf_size;
    if (from != to) {
      path.push_back(2 * n + 2 * from);
      path.push_back(2 * n + 2 * to + 1);
    }
  }
  path.push_back(2 * destination + 1);
}

Time Network::ideal_time(std::uint64_t bytes) const {
  return spec_.link.latency + static_cast<Time>(std::llround(static_cast<double>(bytes) * links_[0].picos_per_byte));
}

bool Network::cut(int source, int destination) const {
  return engine_->now() < partition_heal_ &&
         side_[static_cast<std::size_t>(source)] != side_[static_cast<std::size_t>(destination)];
}

void Network::transfer(int source, int destination, std::uint64_t bytes, std::function<void()> delivered) {
  COURIER_CHECK(source >= 0 && source < spec_.nodes && destination >= 0 && destination < spec_.nodes,
                "a message between nodes that do not exist");
  ++totals_.messages;
  totals_.bytes += bytes;
  attempt(source, destination, bytes, std::move(delivered));
}

void Network::attempt(int source, int destination, std::uint64_t bytes, std::function<void()> delivered) {
  if (crashed_[static_cast<std::size_t>(source)] || crashed_[static_cast<std::size_t>(destination)]) {
    ++totals_.undeliverable;
    return;
  }
  const Time now = engine_->now();
  if (source == destination) {
    engine_->at(now, std::move(delivered));
    return;
  }
  // The retransmission timeout: a few uncontended deliveries' worth.
  const Time rto = 4 * ideal_time(bytes);
  if (cut(source, destination)) {
    if (partition_heal_ == kNever) {
      ++totals_.undeliverable;
      return;
    }
    ++totals_.lost;
    engine_->at(std::max(now + rto, partition_heal_),
                [this, source, destination, bytes, d = std::move(delivered)]() mutable {
                  attempt(source, destination, bytes, std::move(d));
                });
    return;
  }
  route(source, destination, path_);
  Time head = now, tail = now;
  for (const int index : path_) {
    Link& link = links_[static_cast<std::size_t>(index)];
    const Time serialise =
        static_cast<Time>(std::llround(static_cast<double>(bytes) * link.picos_per_byte * link.slow));
    const Time start = std::max(head, link.free_at);
    const Time finish = std::max(start + serialise, tail);
    link.free_at = finish;
    LinkStats& s = stats_[static_cast<std::size_t>(index)];
    s.bytes += bytes;
    ++s.messages;
    s.busy += serialise;
    head = start + link.latency;
    tail = finish + link.latency;
  }
  const double loss = spec_.link.loss;
  if (loss > 0 && rng_.uniform_double() < 1.0 - std::pow(1.0 - loss, static_cast<double>(path_.size()))) {
    ++totals_.lost;
    engine_->at(tail + rto, [this, source, destination, bytes, d = std::move(delivered)]() mutable {
      attempt(source, destination, bytes, std::move(d));
    });
    return;
  }
  engine_->at(tail, std::move(delivered));
}

void Network::crash(int node) { crashed_[static_cast<std::size_t>(node)] = true; }

void Network::slow_nic(int node, double factor) {
  links_[static_cast<std::size_t>(2 * node)].slow = factor;
  links_[static_cast<std::size_t>(2 * node + 1)].slow = factor;
}

void Network::partition(std::vector<int> side, Time heal) {
  std::fill(side_.begin(), side_.end(), 0);
  for (const int node : side) side_[static_cast<std::size_t>(node)] = 1;
  partition_heal_ = heal;
}

}  // namespace courier::sim
