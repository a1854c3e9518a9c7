// safetensors writing and distrustful reading. The reader checks, in order: the header length,
// the JSON (syntax and duplicate keys, with the position of the first error), each entry's
// fields, each tensor's size against its byte range, and that the ranges tile the data buffer
// exactly; only then does it allocate and read tensor data, bounded by the file's size.
#include "courier/train/checkpoint/safetensors.h"

#include <algorithm>
#include <array>
#include <bit>
#include <limits>
#include <set>
#include <string_view>
#include <tuple>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "courier/train/checkpoint/durable_file.h"

namespace courier {
namespace {

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian; so must the host be");

using nlohmann::json;

constexpr std::string_view kMetadataKey = "__metadata__";
constexpr std::string_view kDamaged = "; the file is damaged or not a safetensors file";

// A name from a file, safe to put in a message: at most 64 bytes, control bytes replaced.
std::string printable(std::string_view name) {
  std::string out(name.substr(0, 64));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  if (name.size() > 64) out += "...";
  return out;
}

// out = a * b; false when that overflows 64 bits.
bool multiply(std::uint64_t a, std::uint64_t b, std::uint64_t& out) { return !__builtin_mul_overflow(a, b, &out); }

std::array<std::byte, 8> little_endian_u64(std::uint64_t value) {
  std::array<std::byte, 8> bytes{};
  for (std::size_t i = 0; i < 8; ++i) bytes[i] = static_cast<std::byte>((value >> (8 * i)) & 0xFF);
  return bytes;
}

// ---- writing -------------------------------------------------------------------------------

Status check_tensors_to_write(std::span<const NamedTensor> tensors) {
  std::set<std::string_view> names;
  for (const NamedTensor& t : tensors) {
    if (t.name.empty() || t.name == kMetadataKey) {
      return Status::invalid_argument(fmt::format("tensor name '{}' is reserved or empty", t.name));
    }
    if (!names.insert(t.name).second) return Status::invalid_argument(fmt::format("tensor '{}' twice", t.name));
    std::uint64_t count = 1;
    for (std::int64_t dim : t.shape) {
      if (dim < 0 || !multiply(count, static_cast<std::uint64_t>(dim), count)) {
        return Status::invalid_argument(fmt::format("tensor '{}': bad dimension {}", t.name, dim));
      }
    }
    if (count != t.values.size()) {
      return Status::invalid_argument(
          fmt::format("tensor '{}': shape holds {} elements, values has {}", t.name, count, t.values.size()));
    }
  }
  return Status::ok();
}

// The header JSON in data order, padded with spaces to a multiple of 8 bytes as the reference
// writer does, so the data buffer starts 8-byte aligned.
Result<std::string> encode_header(std::span<const NamedTensor> tensors,
                                  const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header[std::string(kMetadataKey)] = metadata;
  std::uint64_t offset = 0;
  for (const NamedTensor& t : tensors) {
    const std::uint64_t end = offset + t.bytes().size();
    header[t.name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, end}}};
    offset = end;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    return Status::invalid_argument(fmt::format("a tensor name or metadata string is not UTF-8 ({})", e.what()));
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  return text;
}

// ---- reading -------------------------------------------------------------------------------

// A SAX pass that finds the first syntax error (with its position) or duplicate key: the DOM
// parser reports neither (it keeps the last of duplicate keys).
class HeaderSyntaxChecker : public nlohmann::json_sax<json> {
 public:
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override {
    keys_.emplace_back();
    return true;
  }
  bool key(string_t& key) override {
    if (keys_.back().insert(key).second) return true;
    error_ = keys_.size() == 1 ? fmt::format("tensor name '{}' appears twice", printable(key))
                               : fmt::format("key '{}' appears twice in one object", printable(key));
    return false;
  }
  bool end_object() override {
    keys_.pop_back();
    return true;
  }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) override {
    error_ = fmt::format("header is not valid JSON (byte {}: {})", position, e.what());
    return false;
  }

  const std::string& error() const { return error_; }

 private:
  std::vector<std::set<std::string>> keys_;
  std::string error_;
};

Status damaged(const std::filesystem::path& path, std::string_view what) {
  return Status::data_loss(fmt::format("'{}': {}{}", path.string(), what, kDamaged));
}

Result<json> parse_header(const std::filesystem::path& path, std::string_view text) {
  if (text.empty() || text.front() != '{') return damaged(path, "header does not start with '{'");
  HeaderSyntaxChecker checker;
  if (!json::sax_parse(text.begin(), text.end(), &checker)) {
    return damaged(path, checker.error().empty() ? "header is not valid JSON" : checker.error());
  }
  json header = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object()) return damaged(path, "header is not a JSON object");
  return header;
}

Result<std::map<std::string, std::string>> parse_metadata(const std::filesystem::path& path, const json& value) {
  if (!value.is_object()) return damaged(path, "\"__metadata__\" is not an object");
  std::map<std::string, std::string> metadata;
  for (const auto& [key, item] : value.items()) {
    if (!item.is_string()) {
      return damaged(path, fmt::format("\"__metadata__\" value of '{}' is not a string", printable(key)));
    }
    metadata.emplace(key, item.get<std::string>());
  }
  return metadata;
}

struct TensorEntry {
  std::string name;
  std::vector<std::int64_t> shape;
  std::uint64_t element_count = 1;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
};

bool is_u64(const json& value) { return value.is_number_unsigned(); }

Result<TensorEntry> parse_entry(const std::filesystem::path& path, const std::string& name, const json& entry) {
  const std::string where = fmt::format("tensor '{}'", printable(name));
  if (!entry.is_object()) return damaged(path, where + " is not a JSON object");
  const auto dtype = entry.find("dtype");
  const auto shape = entry.find("shape");
  const auto offsets = entry.find("data_offsets");
  if (dtype == entry.end() || !dtype->is_string()) {
    return damaged(path, where + ": \"dtype\" is missing or not a string");
  }
  if (shape == entry.end() || !shape->is_array()) {
    return damaged(path, where + ": \"shape\" is missing or not an array");
  }
  if (offsets == entry.end() || !offsets->is_array() || offsets->size() != 2 || !is_u64((*offsets)[0]) ||
      !is_u64((*offsets)[1])) {
    return damaged(path, where + ": \"data_offsets\" is not [begin, end] of non-negative integers");
  }
  if (dtype->get_ref<const std::string&>() != "F32") {
    return Status::unimplemented(fmt::format("'{}': {} has dtype '{}'; courier reads only F32 so far; convert the "
                                             "tensor to float32 first",
                                             path.string(), where, printable(dtype->get_ref<const std::string&>())));
  }
  TensorEntry out{name, {}, 1, (*offsets)[0].get<std::uint64_t>(), (*offsets)[1].get<std::uint64_t>()};
  constexpr auto kMaxDim = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  for (const json& dim : *shape) {
    if (!is_u64(dim) || dim.get<std::uint64_t>() > kMaxDim) {
      return damaged(path, where + ": \"shape\" holds something other than a non-negative integer");
    }
    out.shape.push_back(dim.get<std::int64_t>());
    if (!multiply(out.element_count, dim.get<std::uint64_t>(), out.element_count)) {
      return damaged(path, where + ": the shape's element count overflows 64 bits");
    }
  }
  std::uint64_t expected_bytes = 0;
  if (out.begin > out.end) {
    return damaged(path, fmt::format("{}: data_offsets [{}, {}] end before they begin", where, out.begin, out.end));
  }
  if (!multiply(out.element_count, sizeof(float), expected_bytes) || expected_bytes != out.end - out.begin) {
    return damaged(path, fmt::format("{}: shape [{}] of F32 needs {} elements x 4 bytes, but data_offsets [{}, {}] "
                                     "span {} bytes",
                                     where, fmt::join(out.shape, ", "), out.element_count, out.begin, out.end,
                                     out.end - out.begin));
  }
  return out;
}

// The byte ranges, sorted, must tile [0, data_bytes) exactly: no gap, no overlap, nothing past
// the end (a truncated file) and nothing left over. REQUIRES: entries sorted by (begin, end).
Status check_layout(const std::filesystem::path& path, const std::vector<TensorEntry>& entries,
                    std::uint64_t data_bytes) {
  std::uint64_t expected = 0;
  const TensorEntry* previous = nullptr;
  for (const TensorEntry& e : entries) {
    if (e.begin < expected) {
      return damaged(path, fmt::format("tensors '{}' and '{}' overlap (bytes [{}, {}) of the data)",
                                       printable(previous->name), printable(e.name), e.begin, expected));
    }
    if (e.begin > expected) {
      return damaged(path, fmt::format("bytes [{}, {}) of the data, before tensor '{}', belong to no tensor", expected,
                                       e.begin, printable(e.name)));
    }
    expected = e.end;
    previous = &e;
  }
  if (expected > data_bytes) {
    return Status::data_loss(fmt::format("'{}': truncated: tensor '{}' ends at byte {} of the data but the file holds "
                                         "{} bytes of data, missing {} bytes; restore the file or use another copy",
                                         path.string(), printable(previous->name), expected, data_bytes,
                                         expected - data_bytes));
  }
  if (expected < data_bytes) {
    return damaged(path, fmt::format("the last {} bytes of the data belong to no tensor", data_bytes - expected));
  }
  return Status::ok();
}

// Reads the 8-byte length and the header text, checking both against the file's size.
Result<std::string> read_header_text(const ReadOnlyFile& file) {
  const std::filesystem::path& path = file.path();
  const std::uint64_t file_bytes = file.size_bytes();
  if (file_bytes < 8) {
    return Status::data_loss(fmt::format("'{}': truncated: {} bytes, the 8-byte header length is missing {} bytes",
                                         path.string(), file_bytes, 8 - file_bytes));
  }
  std::array<std::byte, 8> length_bytes{};
  if (Status s = file.read_at(0, length_bytes); !s.is_ok()) return s;
  std::uint64_t header_bytes = 0;
  for (std::size_t i = 0; i < 8; ++i) header_bytes |= static_cast<std::uint64_t>(length_bytes[i]) << (8 * i);
  if (header_bytes > kSafetensorsMaxHeaderBytes) {
    return damaged(path, fmt::format("header length {} exceeds the limit of {} bytes", header_bytes,
                                     kSafetensorsMaxHeaderBytes));
  }
  if (header_bytes > file_bytes - 8) {
    return Status::data_loss(fmt::format("'{}': truncated: the {}-byte header is missing {} bytes (the file has {}); "
                                         "restore the file or use another copy",
                                         path.string(), header_bytes, header_bytes - (file_bytes - 8), file_bytes));
  }
  std::string text(static_cast<std::size_t>(header_bytes), '\0');
  if (Status s = file.read_at(8, std::as_writable_bytes(std::span(text.data(), text.size()))); !s.is_ok()) return s;
  return text;
}

}  // namespace

Status write_safetensors(const std::filesystem::path& path, std::span<const NamedTensor> tensors,
                         const std::map<std::string, std::string>& metadata) {
  if (Status s = check_tensors_to_write(tensors); !s.is_ok()) return s.with_context(path.string());
  Result<std::string> header = encode_header(tensors, metadata);
  if (!header.is_ok()) return header.status().with_context(path.string());
  const std::array<std::byte, 8> length = little_endian_u64(header->size());
  std::vector<std::span<const std::byte>> chunks{length, std::as_bytes(std::span(header->data(), header->size()))};
  for (const NamedTensor& t : tensors) chunks.push_back(t.bytes());
  return write_file_atomically(path, chunks);
}

Result<SafetensorsFile> read_safetensors(const std::filesystem::path& path) {
  Result<ReadOnlyFile> file = ReadOnlyFile::open(path);
  if (!file.is_ok()) return file.status();
  Result<std::string> text = read_header_text(*file);
  if (!text.is_ok()) return text.status();
  Result<json> header = parse_header(path, *text);
  if (!header.is_ok()) return header.status();

  SafetensorsFile out;
  std::vector<TensorEntry> entries;
  for (const auto& [name, value] : header->items()) {
    if (name == kMetadataKey) {
      Result<std::map<std::string, std::string>> metadata = parse_metadata(path, value);
      if (!metadata.is_ok()) return metadata.status();
      out.metadata = std::move(*metadata);
      continue;
    }
    Result<TensorEntry> entry = parse_entry(path, name, value);
    if (!entry.is_ok()) return entry.status();
    entries.push_back(std::move(*entry));
  }
  std::sort(entries.begin(), entries.end(), [](const TensorEntry& a, const TensorEntry& b) {
    return std::tie(a.begin, a.end) < std::tie(b.begin, b.end);
  });
  const std::uint64_t data_start = 8 + text->size();
  if (Status s = check_layout(path, entries, file->size_bytes() - data_start); !s.is_ok()) return s;

  out.tensors.reserve(entries.size());
  for (TensorEntry& e : entries) {
    OwnedTensor& t = out.tensors.emplace_back(OwnedTensor{std::move(e.name), std::move(e.shape), {}});
    t.values.resize(static_cast<std::size_t>(e.element_count));
    Status s = file->read_at(data_start + e.begin, std::as_writable_bytes(std::span(t.values)));
    if (!s.is_ok()) return s;
  }
  return out;
}

}  // namespace courier
