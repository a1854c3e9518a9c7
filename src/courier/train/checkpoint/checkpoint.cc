// Checkpoint directories: the crash-safe write protocol (temporary directory, fsync, rename,
// then `latest`), pruning, and the reader that verifies every size and checksum the manifest
// lists before it trusts a byte. docs/checkpoint-format.md describes the layout.
#include "courier/train/checkpoint/checkpoint.h"

#include <stdio.h>  // renameat2
#include <fcntl.h>  // AT_FDCWD

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <xxhash.h>

#include "courier/train/checkpoint/durable_file.h"

namespace courier {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr std::string_view kFormat = "courier-checkpoint";
constexpr std::string_view kModelFile = "model.safetensors";
constexpr std::string_view kManifestFile = "manifest.json";
constexpr std::string_view kLatestFile = "latest";
constexpr std::string_view kTemporarySuffix = ".tmp";
constexpr std::string_view kDeletingSuffix = ".deleting";
constexpr std::uint64_t kMaxManifestBytes = 64ull << 20;
constexpr std::uint64_t kMaxLatestBytes = 4096;
constexpr std::size_t kHashChunkBytes = 1 << 20;

// The step of "step-<at least 8 digits>", or nullopt for any other name.
std::optional<std::int64_t> parse_directory_name(std::string_view name) {
  constexpr std::string_view kPrefix = "step-";
  if (!name.starts_with(kPrefix)) return std::nullopt;
  const std::string_view digits = name.substr(kPrefix.size());
  if (digits.size() < 8 || digits.size() > 18) return std::nullopt;
  std::int64_t step = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), step);
  if (error != std::errc() || end != digits.data() + digits.size() || digits.front() == '-') return std::nullopt;
  if (checkpoint_directory_name(step) != name) return std::nullopt;  // one spelling per step
  return step;
}

// Directory names of the temporaries a write makes: "step-<n>.tmp", "step-<n>.deleting".
bool is_stray_temporary(std::string_view name) {
  for (std::string_view suffix : {kTemporarySuffix, kDeletingSuffix}) {
    if (name.ends_with(suffix) && parse_directory_name(name.substr(0, name.size() - suffix.size()))) return true;
  }
  return name == std::string(kLatestFile) + std::string(kTemporarySuffix);
}

std::string hex64(std::uint64_t value) { return fmt::format("{:016x}", value); }

struct FileDigest {
  std::uint64_t bytes = 0;
  std::uint64_t xxh3 = 0;
};

Result<FileDigest> digest_file(const fs::path& path) {
  Result<ReadOnlyFile> file = ReadOnlyFile::open(path);
  if (!file.is_ok()) return file.status();
  std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> state(XXH3_createState(), &XXH3_freeState);
  if (state == nullptr || XXH3_64bits_reset(state.get()) != XXH_OK) {
    return Status::resource_exhausted(fmt::format("'{}': cannot allocate a checksum state", path.string()));
  }
  std::vector<std::byte> chunk(kHashChunkBytes);
  for (std::uint64_t offset = 0; offset < file->size_bytes(); offset += chunk.size()) {
    const std::span<std::byte> part(chunk.data(), std::min<std::uint64_t>(chunk.size(), file->size_bytes() - offset));
    if (Status s = file->read_at(offset, part); !s.is_ok()) return s;
    XXH3_64bits_update(state.get(), part.data(), part.size());
  }
  return FileDigest{file->size_bytes(), XXH3_64bits_digest(state.get())};
}

// ---- writing -------------------------------------------------------------------------------

void notify(const CheckpointWriteOptions& options, CheckpointWriteStage stage) {
  if (options.after_stage) options.after_stage(stage);
}

Status remove_stray_temporaries(const fs::path& root) {
  std::error_code ec;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    if (!is_stray_temporary(it->path().filename().string())) continue;
    std::error_code remove_ec;
    fs::remove_all(it->path(), remove_ec);
    if (remove_ec) return errno_status("remove the leftover of a crashed write", it->path(), remove_ec.value());
  }
  if (ec) return errno_status("list", root, ec.value());
  return Status::ok();
}

Result<json> build_manifest(std::int64_t step, const Checkpoint& checkpoint, const FileDigest& model) {
  json manifest = checkpoint.manifest.is_null() ? json::object() : checkpoint.manifest;
  if (!manifest.is_object()) return Status::invalid_argument("the checkpoint manifest must be a JSON object");
  if (manifest.contains("step") && manifest["step"] != json(step)) {
    return Status::invalid_argument(fmt::format("the manifest says step {} but the checkpoint is written as step {}",
                                                manifest["step"].dump(), step));
  }
  manifest["format"] = kFormat;
  manifest["version"] = kCheckpointVersion;
  manifest["step"] = step;
  manifest["files"] = {{std::string(kModelFile), {{"bytes", model.bytes}, {"xxh3", hex64(model.xxh3)}}}};
  return manifest;
}

// model.safetensors, then manifest.json with its size and checksum, into `directory`.
Status fill_directory(const fs::path& directory, std::int64_t step, const Checkpoint& checkpoint,
                      const CheckpointWriteOptions& options) {
  std::vector<NamedTensor> views;
  views.reserve(checkpoint.tensors.size());
  for (const OwnedTensor& t : checkpoint.tensors) views.push_back(t.view());
  const fs::path model_path = directory / kModelFile;
  if (Status s = write_safetensors(model_path, views, {{"format", "pt"}}); !s.is_ok()) return s;
  notify(options, CheckpointWriteStage::kTensorsWritten);
  // Hash what is on disk rather than what was meant to be written.
  Result<FileDigest> model = digest_file(model_path);
  if (!model.is_ok()) return model.status();
  Result<json> manifest = build_manifest(step, checkpoint, *model);
  if (!manifest.is_ok()) return manifest.status();
  std::string text;
  try {
    text = manifest->dump(2) + "\n";
  } catch (const json::exception& e) {
    return Status::invalid_argument(fmt::format("the checkpoint manifest holds a string that is not UTF-8 ({})",
                                                e.what()));
  }
  if (Status s = write_file_atomically(directory / kManifestFile, text); !s.is_ok()) return s;
  notify(options, CheckpointWriteStage::kManifestWritten);
  return Status::ok();
}

// Moves the finished temporary directory to `final_dir`. An existing `final_dir` (the same step
// written again, e.g. after a crash between this rename and `latest`) is exchanged atomically
// and then deleted; where the filesystem cannot exchange, it is moved aside first.
Status publish_directory(const fs::path& temporary, const fs::path& final_dir, const CheckpointWriteOptions& options) {
  std::error_code ec;
  if (!fs::exists(final_dir, ec)) {
    if (::rename(temporary.c_str(), final_dir.c_str()) != 0) return errno_status("rename into place", final_dir, errno);
    notify(options, CheckpointWriteStage::kPublished);
    return Status::ok();
  }
  if (::renameat2(AT_FDCWD, temporary.c_str(), AT_FDCWD, final_dir.c_str(), RENAME_EXCHANGE) != 0) {
    if (errno != EINVAL && errno != ENOSYS) return errno_status("exchange into place", final_dir, errno);
    fs::path aside = final_dir;
    aside += kDeletingSuffix;
    if (::rename(final_dir.c_str(), aside.c_str()) != 0) return errno_status("move aside", final_dir, errno);
    if (::rename(temporary.c_str(), final_dir.c_str()) != 0) return errno_status("rename into place", final_dir, errno);
    notify(options, CheckpointWriteStage::kPublished);
    fs::remove_all(aside, ec);
    return Status::ok();
  }
  notify(options, CheckpointWriteStage::kPublished);
  fs::remove_all(temporary, ec);  // now the old directory; a crash leaves it for the next write
  return Status::ok();
}

// Deletes all but the newest keep - 1 step directories other than `current`. Each is renamed
// to a temporary name first, so a crash never leaves a half-deleted step directory behind.
Status prune(const fs::path& root, const fs::path& current, const CheckpointWriteOptions& options) {
  std::vector<fs::path> others = list_checkpoints(root);
  std::erase(others, current);
  const std::size_t kept_others = static_cast<std::size_t>(options.keep - 1);
  if (others.size() <= kept_others) return Status::ok();
  for (std::size_t i = 0; i < others.size() - kept_others; ++i) {
    fs::path aside = others[i];
    aside += kDeletingSuffix;
    std::error_code ec;
    if (::rename(others[i].c_str(), aside.c_str()) != 0) ec.assign(errno, std::generic_category());
    if (!ec) notify(options, CheckpointWriteStage::kOldMovedAside);
    if (!ec) fs::remove_all(aside, ec);
    if (ec) {
      return errno_status("delete old checkpoint", others[i], ec.value())
          .with_context(fmt::format("{} is written and committed, but pruning failed", current.string()));
    }
  }
  return Status::ok();
}

// ---- reading -------------------------------------------------------------------------------

Status damaged_manifest(const fs::path& manifest_path, std::string_view what) {
  return Status::data_loss(fmt::format("'{}': {}; the checkpoint is damaged", manifest_path.string(), what));
}

bool is_plain_file_name(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos &&
         name.find('\0') == std::string_view::npos;
}

bool is_hex64(const json& value) {
  if (!value.is_string()) return false;
  const std::string& text = value.get_ref<const std::string&>();
  return text.size() == 16 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// One file the manifest lists: present, of the listed size, with the listed checksum.
Status verify_file(const fs::path& directory, const std::string& name, const json& entry) {
  const fs::path manifest_path = directory / kManifestFile;
  if (!is_plain_file_name(name)) return damaged_manifest(manifest_path, "a listed file name is not a plain name");
  const auto bytes = entry.is_object() ? entry.find("bytes") : entry.end();
  const auto xxh3 = entry.is_object() ? entry.find("xxh3") : entry.end();
  if (!entry.is_object() || bytes == entry.end() || !bytes->is_number_unsigned() || xxh3 == entry.end() ||
      !is_hex64(*xxh3)) {
    return damaged_manifest(manifest_path, fmt::format("the entry of '{}' is not {{\"bytes\": n, \"xxh3\": 16 hex "
                                                       "digits}}",
                                                       name));
  }
  const fs::path path = directory / name;
  Result<FileDigest> actual = digest_file(path);
  if (actual.status().code() == StatusCode::kNotFound) {
    return Status::data_loss(fmt::format("'{}' is listed in the manifest but missing; the checkpoint is damaged",
                                         path.string()));
  }
  if (!actual.is_ok()) return actual.status();
  const std::uint64_t expected = bytes->get<std::uint64_t>();
  if (actual->bytes < expected) {
    return Status::data_loss(fmt::format("'{}': truncated: {} bytes, the manifest says {}, missing {} bytes",
                                         path.string(), actual->bytes, expected, expected - actual->bytes));
  }
  if (actual->bytes > expected) {
    return Status::data_loss(fmt::format("'{}': {} bytes, {} more than the manifest's {}; the file was changed "
                                         "after the checkpoint was written",
                                         path.string(), actual->bytes, actual->bytes - expected, expected));
  }
  if (hex64(actual->xxh3) != xxh3->get_ref<const std::string&>()) {
    return Status::data_loss(fmt::format("'{}': checksum mismatch (XXH3 {} computed, the manifest says {}); the file "
                                         "is damaged",
                                         path.string(), hex64(actual->xxh3), xxh3->get_ref<const std::string&>()));
  }
  return Status::ok();
}

Result<json> read_manifest(const fs::path& directory) {
  const fs::path path = directory / kManifestFile;
  Result<std::string> text = read_small_file(path, kMaxManifestBytes);
  if (text.status().code() == StatusCode::kNotFound) {
    return Status::data_loss(fmt::format("'{}' is missing; the checkpoint is incomplete or damaged", path.string()));
  }
  if (!text.is_ok()) return text.status();
  json manifest = json::parse(text->begin(), text->end(), nullptr, /*allow_exceptions=*/false);
  if (manifest.is_discarded() || !manifest.is_object()) return damaged_manifest(path, "not a JSON object");
  const auto format = manifest.find("format");
  if (format == manifest.end() || *format != kFormat) {
    return damaged_manifest(path, fmt::format("\"format\" is not \"{}\"", kFormat));
  }
  const auto version = manifest.find("version");
  if (version == manifest.end() || !version->is_number_unsigned()) {
    return damaged_manifest(path, "\"version\" is missing or not a non-negative integer");
  }
  if (*version != kCheckpointVersion) {
    return Status::unimplemented(fmt::format("'{}': checkpoint format version {} is not readable by this build "
                                             "(version {}); use the courier that wrote it",
                                             path.string(), version->dump(), kCheckpointVersion));
  }
  const std::optional<std::int64_t> dir_step = parse_directory_name(directory.filename().string());
  const auto step = manifest.find("step");
  if (step == manifest.end() || !step->is_number_integer() || (dir_step && *step != json(*dir_step))) {
    return damaged_manifest(path, "\"step\" is missing or differs from the directory's step");
  }
  const auto files = manifest.find("files");
  if (files == manifest.end() || !files->is_object() || !files->contains(kModelFile)) {
    return damaged_manifest(path, fmt::format("\"files\" does not list {}", kModelFile));
  }
  return manifest;
}

Result<Checkpoint> read_step_directory(const fs::path& directory) {
  Result<json> manifest = read_manifest(directory);
  if (!manifest.is_ok()) return manifest.status();
  for (const auto& [name, entry] : (*manifest)["files"].items()) {
    if (Status s = verify_file(directory, name, entry); !s.is_ok()) return s;
  }
  Result<SafetensorsFile> model = read_safetensors(directory / kModelFile);
  if (!model.is_ok()) return model.status();
  return Checkpoint{std::move(*manifest), std::move(model->tensors)};
}

// "; other checkpoints under 'root' (oldest first): step-1, step-2; to resume from one, ..."
// Names at most the newest kMaxListed, saying how many older ones there are besides.
std::string describe_others(const fs::path& root, std::string_view excluded) {
  constexpr std::size_t kMaxListed = 5;
  std::vector<std::string> names;
  for (const fs::path& p : list_checkpoints(root)) {
    if (p.filename() != excluded) names.push_back(p.filename().string());
  }
  if (names.empty()) return fmt::format("; there is no other checkpoint under '{}'", root.string());
  const std::size_t unlisted = names.size() > kMaxListed ? names.size() - kMaxListed : 0;
  const std::string older = unlisted > 0 ? fmt::format("{} older and ", unlisted) : "";
  const auto first_listed = names.begin() + static_cast<std::ptrdiff_t>(unlisted);
  return fmt::format("; other checkpoints under '{}' (oldest first): {}{}; to resume from one, pass its directory, "
                     "e.g. '{}'",
                     root.string(), older, fmt::join(first_listed, names.end(), ", "), (root / names.back()).string());
}

Result<Checkpoint> read_root(const fs::path& root) {
  const fs::path latest_path = root / kLatestFile;
  Result<std::string> latest = read_small_file(latest_path, kMaxLatestBytes);
  if (latest.status().code() == StatusCode::kNotFound) {
    return Status::not_found(fmt::format("'{}' is missing: no checkpoint under '{}' was completed{}",
                                         latest_path.string(), root.string(), describe_others(root, "")));
  }
  if (!latest.is_ok()) return latest.status();
  std::string name = *latest;
  while (!name.empty() && (name.back() == '\n' || name.back() == '\r' || name.back() == ' ')) name.pop_back();
  if (!parse_directory_name(name)) {
    return Status::data_loss(fmt::format("'{}' does not hold a step directory name; it is damaged{}",
                                         latest_path.string(), describe_others(root, "")));
  }
  std::error_code ec;
  if (!fs::is_directory(root / name, ec)) {
    return Status::data_loss(fmt::format("'{}' names {}, but '{}' does not exist{}", latest_path.string(), name,
                                         (root / name).string(), describe_others(root, name)));
  }
  Result<Checkpoint> checkpoint = read_step_directory(root / name);
  if (!checkpoint.is_ok()) {
    const Status& s = checkpoint.status();
    return Status(s.code(), fmt::format("latest checkpoint {} refused: {}{}", name, s.message(),
                                        describe_others(root, name)));
  }
  return checkpoint;
}

}  // namespace

std::string checkpoint_directory_name(std::int64_t step) { return fmt::format("step-{:08d}", step); }

Status write_checkpoint(const fs::path& root, std::int64_t step, const Checkpoint& checkpoint,
                        const CheckpointWriteOptions& options) {
  if (step < 0) return Status::invalid_argument(fmt::format("checkpoint step {} is negative", step));
  if (options.keep < 1) {
    return Status::invalid_argument(fmt::format("keep = {}: at least the newest checkpoint is kept", options.keep));
  }
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) return errno_status("create the checkpoint root", root, ec.value());
  if (Status s = remove_stray_temporaries(root); !s.is_ok()) return s;

  const std::string name = checkpoint_directory_name(step);
  const fs::path final_dir = root / name;
  fs::path temporary = final_dir;
  temporary += kTemporarySuffix;
  if (!fs::create_directory(temporary, ec) || ec) {
    return errno_status("create directory", temporary, ec ? ec.value() : EEXIST);
  }
  notify(options, CheckpointWriteStage::kTemporaryCreated);
  Status s = fill_directory(temporary, step, checkpoint, options);
  if (s.is_ok()) s = fsync_directory(temporary);
  if (s.is_ok()) s = publish_directory(temporary, final_dir, options);
  if (!s.is_ok()) {
    fs::remove_all(temporary, ec);
    return s.with_context(fmt::format("writing checkpoint {}", final_dir.string()));
  }
  if (s = fsync_directory(root); !s.is_ok()) return s;
  if (s = write_file_atomically(root / kLatestFile, name + "\n"); !s.is_ok()) return s;
  notify(options, CheckpointWriteStage::kCommitted);
  return prune(root, final_dir, options);
}

Status write_checkpoint(const fs::path& root, std::int64_t step, const Checkpoint& checkpoint, int keep) {
  return write_checkpoint(root, step, checkpoint, CheckpointWriteOptions{keep, {}});
}

Result<Checkpoint> read_checkpoint(const fs::path& path) {
  fs::path normal = path.lexically_normal();
  if (!normal.has_filename() && normal.has_parent_path()) normal = normal.parent_path();
  std::error_code ec;
  if (!fs::is_directory(normal, ec)) {
    if (fs::exists(normal, ec)) {
      return Status::failed_precondition(fmt::format("'{}' is a file; pass a checkpoint root or a step directory",
                                                     path.string()));
    }
    return Status::not_found(fmt::format("'{}': no such checkpoint root or step directory", path.string()));
  }
  if (parse_directory_name(normal.filename().string()) || fs::exists(normal / kManifestFile, ec)) {
    return read_step_directory(normal);
  }
  return read_root(normal);
}

std::vector<fs::path> list_checkpoints(const fs::path& root) {
  std::vector<std::pair<std::int64_t, fs::path>> found;
  std::error_code ec;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    const std::optional<std::int64_t> step = parse_directory_name(it->path().filename().string());
    std::error_code type_ec;
    if (step && it->is_directory(type_ec)) found.emplace_back(*step, it->path());
  }
  std::sort(found.begin(), found.end());
  std::vector<fs::path> paths;
  for (auto& [step, p] : found) paths.push_back(std::move(p));
  return paths;
}

}  // namespace courier
