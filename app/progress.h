// Training progress for people: a live bar on a terminal, a line every N steps otherwise.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "courier/train/trainer.h"

namespace courier::app {

class Progress {
 public:
  // live: redraw one line on stderr (a terminal); else print a line every `every` steps.
  Progress(bool live, std::int64_t every);
  void step(const StepReport& report);
  void eval(const EvalReport& report);
  void note(const std::string& text);
  void done();

 private:
  void clear_line();
  bool live_;
  std::int64_t every_;
  bool bar_shown_ = false;
  std::chrono::steady_clock::time_point last_draw_{};
};

// "3m12s", "45s", "1h02m".
std::string format_eta(double seconds);
// "118.3K", "1.20M".
std::string format_rate(double per_second);
// "812 B", "12.4 KiB", "3.05 MiB".
std::string format_bytes(double bytes);
// "test loss 0.4512, accuracy 0.8400 (10000 examples)", or for text "validation loss 1.6260,
// 2.3458 bits/byte, next-token accuracy 0.5100 (2400 windows)".
std::string format_eval(const EvalReport& report);

}  // namespace courier::app
