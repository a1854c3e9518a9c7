// expect_check_error_naming: `f` must throw a CheckError whose message names every needle
// (a shape, a layer, an argument), so that a broken invariant says what broke.
#pragma once

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "courier/core/check.h"

namespace courier::testing {

template <typename F>
void expect_check_error_naming(F f, const std::vector<std::string>& needles) {
  try {
    f();
    FAIL() << "expected CheckError";
  } catch (const CheckError& e) {
    const std::string what = e.what();
    for (const std::string& needle : needles) EXPECT_NE(what.find(needle), std::string::npos) << what;
  }
}

}  // namespace courier::testing
