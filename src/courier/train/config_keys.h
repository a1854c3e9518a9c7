// The key table behind courier::Config (config.h): every TOML key once, with its field, range
// or choices, meaning and the names other programs use for it. Parsing, overrides, to_toml,
// validate and docs/config.md all read this table, so they cannot disagree.
// Internal to config*.cc and their tests; everyone else uses config.h.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "courier/core/status.h"
#include "courier/train/config.h"

namespace courier::config_keys {

// Reaches one field of a Config: &member<&Config::train, &TrainConfig::lr>.
template <typename T>
using Accessor = T& (*)(Config&);
using Field = std::variant<Accessor<std::int64_t>, Accessor<std::uint64_t>, Accessor<double>, Accessor<std::string>,
                           Accessor<std::vector<std::int64_t>>>;

template <auto kSection, auto kMember>
auto& member(Config& config) {
  return (config.*kSection).*kMember;
}

// The allowed interval of a number (or of each element of an array); NaN is never inside.
struct Range {
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool min_open = false;  // true: min itself is excluded
  bool max_open = false;

  bool contains(double value) const;
  std::string describe() const;  // ">= 1", "> 0", ">= 0 and < 1", "any"
};

struct KeySpec {
  std::string_view section;                    // the TOML table: "train"
  std::string_view name;                       // the key in it: "lr"
  Field field;                                 // where the value lives in Config
  Range range = {};                            // numbers, and each element of an array
  std::vector<std::string_view> choices = {};  // strings: the allowed values; empty: any text
  bool non_empty = false;                      // strings: "" is not allowed
  std::string_view doc = {};                   // one line: what it means, its unit
  std::vector<std::string_view> aliases = {};  // other programs' names for it, only to suggest it
};

struct SectionSpec {
  std::string_view name;  // "train"
  std::string_view doc;   // one line
};

// A rule across keys, checked by validate() and listed in docs/config.md.
struct Rule {
  std::string_view summary;          // for the docs: "train.batch >= train.workers"
  Status (*check)(const Config&);    // ok, or what is wrong and what to change
};

std::span<const SectionSpec> sections();  // in file order: model, data, train, dist, checkpoint
std::span<const KeySpec> table();         // grouped by section, in file order
std::span<const Rule> rules();            // config_rules.cc

bool is_section(std::string_view name);
const KeySpec* find(std::string_view section, std::string_view name);  // nullptr: no such key
std::vector<std::string_view> keys_of(std::string_view section);
std::string section_list();               // "[model], [data], [train], [dist], [checkpoint]"
std::string full_name(const KeySpec& spec);  // "train.lr"

// Suggestions by edit distance (optimal string alignment, case-insensitive), against names and
// aliases; a key in another section costs one edit more. nullopt when nothing is close.
std::size_t edit_distance(std::string_view a, std::string_view b);
std::optional<std::string> suggest_key(std::string_view section, std::string_view name);  // "train.lr"
std::optional<std::string_view> suggest_section(std::string_view name);
std::optional<std::string_view> suggest_choice(const KeySpec& spec, std::string_view value);

// Values as TOML literals: 3, 0.001, 1.0, "text", [256, 128].
std::string format_value(std::int64_t value);
std::string format_value(std::uint64_t value);
std::string format_value(double value);
std::string format_value(const std::string& value);
std::string format_value(const std::vector<std::int64_t>& value);
std::string value_text(const KeySpec& spec, const Config& config);  // the key's value in `config`

std::string_view type_name(const KeySpec& spec);  // "integer", "float", "string", "array of integers"
std::string allowed_phrase(const KeySpec& spec);   // "> 0", "one of sgd | adam | adamw", "any text"
std::string expected_phrase(const KeySpec& spec);  // "a float > 0", "a string, one of sgd | adam | adamw"

// Checks one value against the key's range or choices; the message names the key and value.
Status check_number(const KeySpec& spec, std::string_view key, std::int64_t value);
Status check_value(const KeySpec& spec, std::int64_t value);
Status check_value(const KeySpec& spec, std::uint64_t value);
Status check_value(const KeySpec& spec, double value);
Status check_value(const KeySpec& spec, const std::string& value);
Status check_value(const KeySpec& spec, const std::vector<std::int64_t>& value);
Status check_key(const KeySpec& spec, const Config& config);  // the key's value in `config`

}  // namespace courier::config_keys
