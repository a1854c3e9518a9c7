// The training configuration as TOML: reading files and --set overrides, printing every key,
// and the reference docs, all driven by the key table (config_keys.cc); validate() is in
// config_rules.cc.
#include "courier/train/config.h"

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>
#include <system_error>
#include <utility>
#include <variant>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "courier/train/config_keys.h"

// Debian's libtomlplusplus is built with exceptions (only the toml::ex ABI is exported), so
// parse errors arrive as toml::parse_error; they are caught below and never escape.
static_assert(TOML_EXCEPTIONS, "config.cc converts toml::parse_error into a Status");

namespace courier {
namespace {

using config_keys::KeySpec;

// One problem found while reading a table: where it is and what it is.
struct Problem {
  std::int64_t line = 0;
  std::string message;
};

// "a string", "an integer", ...: how a TOML value is named in messages.
std::string_view type_phrase(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

// "train.lr = "fast" is a string" or, for tables and arrays, "train.lr is a table".
std::string describe_given(std::string_view key, const toml::node& node) {
  if (const auto* text = node.as_string()) {
    return fmt::format("{} = {} is {}", key, config_keys::format_value(text->get()), type_phrase(node));
  }
  if (node.is_number() || node.is_boolean() || node.is_date_time() || node.is_date() || node.is_time()) {
    std::ostringstream out;
    node.visit([&](const auto& value) { out << value; });
    return fmt::format("{} = {} is {}", key, out.str(), type_phrase(node));
  }
  return fmt::format("{} is {}", key, type_phrase(node));
}

Status wrong_type(const KeySpec& spec, std::string_view key, const toml::node& node) {
  return Status::invalid_argument(
      fmt::format("{}; expected {}", describe_given(key, node), config_keys::expected_phrase(spec)));
}

// Converts `node` to the field's type, checks it, and stores it in `config`.
Status read_key(const KeySpec& spec, const toml::node& node, Config& config) {
  const std::string key = config_keys::full_name(spec);
  return std::visit(
      [&](auto accessor) -> Status {
        using T = std::remove_cvref_t<decltype(accessor(config))>;
        T value{};
        if constexpr (std::is_same_v<T, std::string>) {
          const auto* text = node.as_string();
          if (text == nullptr) return wrong_type(spec, key, node);
          value = text->get();
        } else if constexpr (std::is_same_v<T, double>) {
          if (const auto* number = node.as_floating_point()) {
            value = number->get();
          } else if (const auto* integer = node.as_integer()) {
            value = static_cast<double>(integer->get());
          } else {
            return wrong_type(spec, key, node);
          }
        } else if constexpr (std::is_same_v<T, std::vector<std::int64_t>>) {
          const auto* array = node.as_array();
          if (array == nullptr) return wrong_type(spec, key, node);
          for (std::size_t i = 0; i < array->size(); ++i) {
            const auto* element = (*array)[i].as_integer();
            if (element == nullptr) return wrong_type(spec, fmt::format("{}[{}]", key, i), (*array)[i]);
            value.push_back(element->get());
          }
        } else {  // std::int64_t, std::uint64_t: TOML integers are signed 64-bit
          const auto* integer = node.as_integer();
          if (integer == nullptr) return wrong_type(spec, key, node);
          if (Status status = config_keys::check_number(spec, key, integer->get()); !status.is_ok()) return status;
          value = static_cast<T>(integer->get());
        }
        if (Status status = config_keys::check_value(spec, value); !status.is_ok()) return status;
        accessor(config) = std::move(value);
        return Status::ok();
      },
      spec.field);
}

std::int64_t line_of(const toml::key& key) { return static_cast<std::int64_t>(key.source().begin.line); }

std::string unknown_key_message(std::string_view section, std::string_view name) {
  const std::string key = section.empty() ? std::string(name) : fmt::format("{}.{}", section, name);
  std::string message = section.empty() ? fmt::format("unknown key {} outside any table", key)
                                        : fmt::format("unknown key {}", key);
  if (std::optional<std::string> suggestion = config_keys::suggest_key(section, name)) {
    return fmt::format("{}; did you mean {}?", message, *suggestion);
  }
  if (config_keys::is_section(section)) {
    return fmt::format("{}; the keys of [{}] are {} (docs/config.md)", message, section,
                       fmt::join(config_keys::keys_of(section), ", "));
  }
  return fmt::format("{}; see docs/config.md for every key", message);
}

std::string unknown_table_message(std::string_view section) {
  std::string message = fmt::format("unknown table [{}]", section);
  if (std::optional<std::string_view> suggestion = config_keys::suggest_section(section)) {
    return fmt::format("{}; did you mean [{}]?", message, *suggestion);
  }
  return fmt::format("{}; the tables are {}", message, config_keys::section_list());
}

// Reads one [section] table into `config`, appending what is wrong to `problems`.
void read_section(std::string_view section, const toml::table& table, Config& config,
                  std::vector<Problem>& problems) {
  for (const auto& [name, node] : table) {
    const KeySpec* spec = config_keys::find(section, name.str());
    if (spec == nullptr) {
      problems.push_back({line_of(name), unknown_key_message(section, name.str())});
      continue;
    }
    if (Status status = read_key(*spec, node, config); !status.is_ok()) {
      problems.push_back({line_of(name), status.message()});
    }
  }
}

Result<Config> read_document(const toml::table& root, std::string_view source) {
  Config config;
  std::vector<Problem> problems;
  for (const auto& [name, node] : root) {
    if (!config_keys::is_section(name.str())) {
      problems.push_back({line_of(name), node.is_table() ? unknown_table_message(name.str())
                                                         : unknown_key_message("", name.str())});
    } else if (const toml::table* table = node.as_table()) {
      read_section(name.str(), *table, config, problems);
    } else {
      problems.push_back({line_of(name), fmt::format("{} is {}; expected a table: [{}] followed by its keys",
                                                     name.str(), type_phrase(node), name.str())});
    }
  }
  if (problems.empty()) return config;
  // The first problem in file order, as a compiler would; the count says whether more follow.
  std::stable_sort(problems.begin(), problems.end(),
                   [](const Problem& a, const Problem& b) { return a.line < b.line; });
  std::string message = fmt::format("{}:{}: {}", source, problems.front().line, problems.front().message);
  if (problems.size() > 1) {
    message += fmt::format(" (and {} more problem{})", problems.size() - 1, problems.size() == 2 ? "" : "s");
  }
  return Status::invalid_argument(std::move(message));
}

Result<toml::table> parse_toml(std::string_view text, std::string_view source) {
  try {
    return toml::parse(text, source);
  } catch (const toml::parse_error& error) {
    const toml::source_position& at = error.source().begin;
    return Status::invalid_argument(fmt::format("{}:{}:{}: malformed TOML: {}", source, at.line, at.column,
                                                error.description()));
  }
}

std::string_view trim(std::string_view text) {
  const auto begin = text.find_first_not_of(" \t");
  if (begin == std::string_view::npos) return {};
  const auto end = text.find_last_not_of(" \t");
  return text.substr(begin, end - begin + 1);
}

// The value of an override as a TOML node, held in a one-key table. A string key also takes a
// bare word (dist.strategy=ps): whatever is not a quoted TOML string becomes its literal text.
Result<toml::table> parse_override_value(const KeySpec& spec, std::string_view value) {
  const std::string where = fmt::format("--set {}.{}", spec.section, spec.name);
  const bool wants_string = std::holds_alternative<config_keys::Accessor<std::string>>(spec.field);
  Result<toml::table> parsed = parse_toml(fmt::format("value = {}", value), where);
  const bool single_value = parsed.is_ok() && parsed->size() == 1 && parsed->contains("value");
  if (single_value && (!wants_string || (*parsed)["value"].is_string())) return parsed;
  // Not one TOML value, or a string key given a bare word: take the text itself as a string.
  // Quoting it through toml++ again checks it is valid UTF-8.
  return parse_toml(fmt::format("value = {}", config_keys::format_value(std::string(value))), where);
}

}  // namespace

Result<Config> parse_config(std::string_view toml_text, std::string_view source) {
  Result<toml::table> root = parse_toml(toml_text, source);
  if (!root.is_ok()) return root.status();
  return read_document(*root, source);
}

Result<Config> load_config(const std::filesystem::path& path) {
  std::error_code ignored;
  if (std::filesystem::is_directory(path, ignored)) {
    return Status::invalid_argument(fmt::format("config file {} is a directory; give the .toml file", path.string()));
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    std::error_code error;
    const bool exists = std::filesystem::exists(path, error);
    return Status::not_found(fmt::format("config file {} {}; check the path (configs/ holds ready-to-run ones)",
                                         path.string(), exists ? "cannot be read" : "does not exist"));
  }
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad()) return Status::not_found(fmt::format("config file {} cannot be read", path.string()));
  return parse_config(text.str(), path.string());
}

Status apply_override(Config& config, std::string_view assignment) {
  const auto usage = [&](std::string_view problem) {
    return Status::invalid_argument(fmt::format(
        "--set {}: {}; write section.key=value, e.g. --set train.lr=0.01 (docs/config.md lists the keys)",
        assignment, problem));
  };
  const std::size_t equals = assignment.find('=');
  if (equals == std::string_view::npos) return usage("no '='");
  const std::string_view key = trim(assignment.substr(0, equals));
  const std::string_view value = trim(assignment.substr(equals + 1));
  const std::size_t dot = key.find('.');
  if (dot == std::string_view::npos) {
    return Status::invalid_argument(fmt::format("--set {}: {}", assignment, unknown_key_message("", key)));
  }
  const std::string_view section = key.substr(0, dot);
  const std::string_view name = key.substr(dot + 1);
  const KeySpec* spec = config_keys::find(section, name);
  if (spec == nullptr) {
    const std::string message = config_keys::is_section(section) || config_keys::suggest_key(section, name)
                                    ? unknown_key_message(section, name)
                                    : unknown_table_message(section);
    return Status::invalid_argument(fmt::format("--set {}: {}", assignment, message));
  }
  if (value.empty()) return usage("no value after '='");
  Result<toml::table> parsed = parse_override_value(*spec, value);
  if (!parsed.is_ok()) return parsed.status();
  Config updated = config;
  if (Status status = read_key(*spec, *(*parsed)["value"].node(), updated); !status.is_ok()) {
    return Status::invalid_argument(fmt::format("--set {}: {}", assignment, status.message()));
  }
  config = std::move(updated);
  return Status::ok();
}

std::string to_toml(const Config& config) {
  std::string out = "# courier training config: every key, defaults included (docs/config.md)\n";
  for (const config_keys::SectionSpec& section : config_keys::sections()) {
    out += fmt::format("\n[{}]  # {}\n", section.name, section.doc);
    for (const KeySpec& spec : config_keys::table()) {
      if (spec.section != section.name) continue;
      out += fmt::format("{} = {}  # {} (allowed: {})\n", spec.name, config_keys::value_text(spec, config), spec.doc,
                         config_keys::allowed_phrase(spec));
    }
  }
  return out;
}

namespace {

std::string markdown_cell(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += '\\';
    out += c;
  }
  return out;
}

constexpr std::string_view kReferenceIntro = R"(# Configuration reference

<!-- Generated by courier::config_reference_markdown() from the key table in src/courier/train/config_keys.cc.
Do not edit by hand: change the table, then run
COURIER_UPDATE_DOCS=1 build/release/tests/train_test --gtest_filter='ConfigDocsTest.*' -->

`courier train configs/fashion-mlp.toml` trains with a TOML file made of the tables below; `configs/` holds
ready-to-run ones. Every key is optional and has the default shown. An unknown table or key is an error that
names the closest valid key, and so is a value of the wrong type, out of its range or not among its choices.

Override any key on the command line with `--set section.key=value`, as often as needed. The value is TOML
(`--set train.lr=3e-4`, `--set model.hidden=[512,256]`); a string may also be written bare
(`--set dist.strategy=ps`). After the file and the overrides, the rules across keys at the end of this page
are checked. `courier train --print-config` prints the resulting config with every key.

A float key also takes an integer (`lr = 1` is 1.0); an integer key does not take a float.
)";

}  // namespace

std::string config_reference_markdown() {
  std::string out(kReferenceIntro);
  for (const config_keys::SectionSpec& section : config_keys::sections()) {
    out += fmt::format("\n## [{}]\n\n{}.\n\n", section.name, section.doc);
    out += "| key | type | default | allowed | meaning |\n| --- | --- | --- | --- | --- |\n";
    const Config defaults;
    for (const KeySpec& spec : config_keys::table()) {
      if (spec.section != section.name) continue;
      out += fmt::format("| `{}` | {} | `{}` | {} | {} |\n", spec.name, config_keys::type_name(spec),
                         config_keys::value_text(spec, defaults), markdown_cell(config_keys::allowed_phrase(spec)),
                         markdown_cell(spec.doc));
    }
  }
  out += "\n## Rules across keys\n\nChecked after the file and the overrides, in this order; the first one "
         "broken is reported.\n\n";
  for (const config_keys::Rule& rule : config_keys::rules()) out += fmt::format("- {}\n", rule.summary);
  return out;
}

std::vector<std::string> config_key_names() {
  std::vector<std::string> names;
  for (const KeySpec& spec : config_keys::table()) names.push_back(config_keys::full_name(spec));
  return names;
}

}  // namespace courier
