// Trace recording and the Chrome trace JSON writer.
#include "courier/comm/trace.h"

#include <algorithm>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "courier/comm/communicator.h"

namespace courier {
namespace {

constexpr std::uint64_t kTagMask = (std::uint64_t{1} << 48) - 1;
constexpr const char* kFormatVersion = "1";

// The same id at both ends of one message: its channel and position in it.
std::uint64_t flow_id(const TraceRecord& r) {
  std::uint64_t h = 1469598103934665603ull;
  for (std::uint64_t v : {std::uint64_t{r.source}, std::uint64_t{r.destination}, r.tag, r.seq}) {
    h = (h ^ v) * 1099511628211ull;
  }
  return h;
}

}  // namespace

Trace::Trace(Trace&& other) noexcept : clock_(other.clock_) {
  std::lock_guard lock(other.mutex_);
  records_ = std::move(other.records_);
  metadata_ = std::move(other.metadata_);
}

void Trace::set_metadata(const std::string& key, const std::string& value) {
  std::lock_guard lock(mutex_);
  metadata_[key] = value;
}

std::map<std::string, std::string> Trace::metadata() const {
  std::lock_guard lock(mutex_);
  return metadata_;
}

void Trace::record(TraceEvent event, const MessageHeader& header) {
  TraceRecord r{event,       header.source, header.destination,          header.tag,
                header.seq,  header.step,   header.payload_bytes,        clock_->now().count()};
  std::lock_guard lock(mutex_);
  records_.push_back(r);
}

std::vector<TraceRecord> Trace::records() const {
  std::lock_guard lock(mutex_);
  return records_;
}

std::size_t Trace::size() const {
  std::lock_guard lock(mutex_);
  return records_.size();
}

std::string Trace::to_chrome_json() const {
  std::vector<TraceRecord> records = this->records();
  std::sort(records.begin(), records.end(), [](const TraceRecord& a, const TraceRecord& b) { return a.time_ns < b.time_ns; });
  const std::int64_t origin = records.empty() ? 0 : records.front().time_ns;
  nlohmann::json events = nlohmann::json::array();
  std::set<std::uint32_t> nodes;
  for (const TraceRecord& r : records) {
    const bool send = r.event == TraceEvent::kSend;
    const std::uint32_t node = send ? r.source : r.destination;
    const std::uint32_t peer = send ? r.destination : r.source;
    nodes.insert(node);
    const double ts = static_cast<double>(r.time_ns - origin) / 1000.0;  // microseconds
    const nlohmann::json args = {{"peer", peer},     {"tag", fmt::format("{:#x}", r.tag & kTagMask)},
                                 {"context", r.tag >> 48}, {"seq", r.seq}, {"step", r.step}, {"bytes", r.bytes}};
    events.push_back({{"name", fmt::format("{} {} rank {}", send ? "send" : "recv", send ? "->" : "<-", peer)},
                      {"cat", "message"},
                      {"ph", "X"},
                      {"ts", ts},
                      {"dur", 1.0},
                      {"pid", 0},
                      {"tid", node},
                      {"args", args}});
    nlohmann::json flow = {{"name", "message"}, {"cat", "message"}, {"ph", send ? "s" : "f"},
                           {"id", flow_id(r)},  {"ts", ts},         {"pid", 0},
                           {"tid", node}};
    if (!send) flow["bp"] = "e";
    events.push_back(std::move(flow));
  }
  for (std::uint32_t node : nodes) {
    events.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", 0}, {"tid", node},
                      {"args", {{"name", fmt::format("rank {}", node)}}}});
  }
  nlohmann::json other = nlohmann::json::object();
  for (const auto& [key, value] : metadata()) other[key] = value;
  other["courier_trace"] = kFormatVersion;
  other["origin_ns"] = std::to_string(origin);
  return nlohmann::json{{"traceEvents", events}, {"displayTimeUnit", "ns"}, {"otherData", other}}.dump();
}

Status Trace::write(const std::string& path) const {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) return Status::not_found(fmt::format("cannot write trace file '{}': check the directory exists", path));
    out << to_chrome_json();
    if (!out.flush()) return Status::resource_exhausted(fmt::format("writing trace file '{}' failed", path));
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) return Status::internal(fmt::format("cannot rename '{}' to '{}': {}", temporary, path, error.message()));
  return Status::ok();
}

std::string Trace::serialize() const {
  std::string text;
  for (const TraceRecord& r : records()) {
    text += fmt::format("{} {} {} {} {} {} {} {}\n", static_cast<int>(r.event), r.source, r.destination, r.tag, r.seq,
                        r.step, r.bytes, r.time_ns);
  }
  return text;
}

Status Trace::merge(std::string_view serialized) {
  std::istringstream in{std::string(serialized)};
  std::vector<TraceRecord> parsed;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    int event = -1;
    TraceRecord r{};
    if (!(fields >> event >> r.source >> r.destination >> r.tag >> r.seq >> r.step >> r.bytes >> r.time_ns) ||
        (event != 0 && event != 1)) {
      return Status::data_loss(fmt::format("malformed trace record '{}'", line));
    }
    r.event = static_cast<TraceEvent>(event);
    parsed.push_back(r);
  }
  std::lock_guard lock(mutex_);
  records_.insert(records_.end(), parsed.begin(), parsed.end());
  return Status::ok();
}

namespace {

// One "X" message slice of to_chrome_json() back into a record.
Result<TraceRecord> parse_slice(const nlohmann::json& e, std::int64_t origin) {
  const nlohmann::json& args = e.at("args");
  const std::string name = e.at("name").get<std::string>();
  const bool send = name.starts_with("send");
  if (!send && !name.starts_with("recv")) return Status::data_loss(fmt::format("a message slice named '{}'", name));
  const std::string tag_text = args.at("tag").get<std::string>();
  std::uint64_t tag = 0;
  std::size_t used = 0;
  try {
    tag = std::stoull(tag_text, &used, 16);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != tag_text.size()) return Status::data_loss(fmt::format("a message tag '{}' is not hexadecimal", tag_text));
  const auto node = e.at("tid").get<std::uint32_t>();
  const auto peer = args.at("peer").get<std::uint32_t>();
  TraceRecord r{};
  r.event = send ? TraceEvent::kSend : TraceEvent::kReceive;
  r.source = send ? node : peer;
  r.destination = send ? peer : node;
  r.tag = (args.at("context").get<std::uint64_t>() << 48) | (tag & kTagMask);
  r.seq = args.at("seq").get<std::uint64_t>();
  r.step = args.at("step").get<std::uint64_t>();
  r.bytes = args.at("bytes").get<std::uint64_t>();
  r.time_ns = origin + std::llround(e.at("ts").get<double>() * 1000.0);
  return r;
}

}  // namespace

Result<Trace> read_chrome_trace(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::not_found(fmt::format("cannot open trace file '{}': check the path", path));
  const nlohmann::json json = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    return Status::data_loss(fmt::format("trace file '{}' is not JSON (truncated or not a trace?)", path));
  }
  if (!json.is_object() || !json.contains("traceEvents") || !json["traceEvents"].is_array()) {
    return Status::data_loss(
        fmt::format("'{}' is not a Chrome trace (no \"traceEvents\" array); write one with courier train --trace", path));
  }
  Trace trace;
  std::int64_t origin = 0;
  if (json.contains("otherData") && json["otherData"].is_object()) {
    for (const auto& [key, value] : json["otherData"].items()) {
      if (!value.is_string()) continue;
      const std::string text = value.get<std::string>();
      if (key == "origin_ns") {
        origin = std::atoll(text.c_str());
      } else if (key != "courier_trace") {
        trace.metadata_[key] = text;
      }
    }
  }
  for (const nlohmann::json& e : json["traceEvents"]) {
    if (!e.is_object() || e.value("ph", "") != "X" || e.value("cat", "") != "message") continue;
    Status failed = Status::ok();
    try {
      Result<TraceRecord> r = parse_slice(e, origin);
      if (r.is_ok()) trace.records_.push_back(*r);
      failed = r.status();
    } catch (const nlohmann::json::exception& error) {
      failed = Status::data_loss(fmt::format("a message event lacks a field or has the wrong type ({})", error.what()));
    }
    if (!failed.is_ok()) {
      return Status::data_loss(
          fmt::format("trace file '{}': message event {}: {}", path, trace.records_.size(), failed.message()));
    }
  }
  std::sort(trace.records_.begin(), trace.records_.end(),
            [](const TraceRecord& a, const TraceRecord& b) { return a.time_ns < b.time_ns; });
  if (trace.records_.empty()) {
    return Status::data_loss(fmt::format(
        "'{}' holds no courier message events: not a courier trace, or a run without messages (one worker?)", path));
  }
  return trace;
}

Status gather_trace(Communicator& comm, Trace& trace, int root, const Deadline& deadline) {
  constexpr std::uint64_t kTagTrace = kUserTagLimit + 100;
  const OpContext context{"gather trace", 0};
  if (comm.rank() != root) {
    const std::string text = trace.serialize();
    std::vector<std::byte> bytes(text.size());
    std::memcpy(bytes.data(), text.data(), text.size());
    SendHandle sent = comm.send(root, kTagTrace, std::move(bytes));
    return comm.wait(sent, deadline, context, root);
  }
  for (int peer = 0; peer < comm.world_size(); ++peer) {
    if (peer == root) continue;
    Result<Message> records = comm.receive(peer, kTagTrace, deadline, context);
    if (!records.is_ok()) return records.status();
    const std::string_view text(reinterpret_cast<const char*>(records->payload().data()), records->payload().size());
    if (Status s = trace.merge(text); !s.is_ok()) return s;
  }
  return Status::ok();
}

}  // namespace courier
