// Flag validators.
#include "flags.h"

#include <cmath>
#include <string>

namespace courier::app {

CLI::Validator positive_number() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        double value = 0.0;
        if (!CLI::detail::lexical_cast(text, value) || !std::isfinite(value) || value <= 0.0) {
          return "must be a number > 0, got " + text;
        }
        return {};
      },
      "> 0", "POSITIVE");
}

CLI::Validator non_negative_integer() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        const bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
        return digits ? std::string() : "must be an integer >= 0, got " + text;
      },
      ">= 0", "NON_NEGATIVE");
}

}  // namespace courier::app
