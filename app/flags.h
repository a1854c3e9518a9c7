// Flag validators shared by the subcommands. Each names the problem in words a user can act on.
#pragma once

#include <CLI/CLI.hpp>

namespace courier::app {

// A finite number greater than zero ("--lr: must be a number > 0, got -1").
CLI::Validator positive_number();
// Decimal digits only, so that "-1" is refused instead of wrapping around in an unsigned flag.
CLI::Validator non_negative_integer();

}  // namespace courier::app
