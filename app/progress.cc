// Progress rendering.
#include "progress.h"

#include <cmath>
#include <cstdio>

#include <fmt/format.h>

namespace courier::app {

std::string format_eta(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<std::int64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

std::string format_rate(double per_second) {
  if (per_second >= 1e6) return fmt::format("{:.2f}M", per_second / 1e6);
  if (per_second >= 1e3) return fmt::format("{:.1f}K", per_second / 1e3);
  return fmt::format("{:.0f}", per_second);
}

std::string format_bytes(double bytes) {
  if (bytes >= 1 << 20) return fmt::format("{:.2f} MiB", bytes / (1 << 20));
  if (bytes >= 1 << 10) return fmt::format("{:.1f} KiB", bytes / (1 << 10));
  return fmt::format("{:.0f} B", bytes);
}

std::string format_eval(const EvalReport& r) {
  if (r.bits_per_byte) {
    return fmt::format("validation loss {:.4f}, {:.4f} bits/byte, next-token accuracy {:.4f} ({} windows)", r.loss,
                       *r.bits_per_byte, r.accuracy, r.examples);
  }
  return fmt::format("test loss {:.4f}, accuracy {:.4f} ({} examples)", r.loss, r.accuracy, r.examples);
}

Progress::Progress(bool live, std::int64_t every) : live_(live), every_(std::max<std::int64_t>(1, every)) {}

void Progress::clear_line() {
  if (live_ && bar_shown_) {
    std::fputs("\r\033[K", stderr);
    bar_shown_ = false;
  }
}

void Progress::step(const StepReport& r) {
  const std::int64_t done = r.step + 1;
  const double per_step = r.elapsed_s / static_cast<double>(std::max<std::int64_t>(1, done));
  const double eta = per_step * static_cast<double>(r.total_steps - done);
  const std::string rate = r.tokens_per_s > 0 ? format_rate(r.tokens_per_s) + " tokens/s"
                                              : format_rate(r.samples_per_s) + " samples/s";
  std::string stats = fmt::format("step {}/{} epoch {} loss {:.4f} lr {:.3g} {}", done, r.total_steps, r.epoch + 1,
                                  r.loss, r.lr, rate);
  if (r.bytes_per_step > 0) stats += fmt::format(" sent {}/step", format_bytes(r.bytes_per_step));
  if (r.bytes_per_step > 0 && r.raw_bytes_per_step != r.bytes_per_step) {
    stats += fmt::format(" ({:.1f}x compressed)", r.raw_bytes_per_step / r.bytes_per_step);
  }
  stats += fmt::format(" ETA {}", format_eta(eta));
  if (live_) {
    const auto now = std::chrono::steady_clock::now();
    if (done != r.total_steps && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(kWidth * done / std::max<std::int64_t>(1, r.total_steps));
    fmt::print(stderr, "\r\033[K[{}{}] {}", std::string(static_cast<std::size_t>(filled), '='),
               std::string(static_cast<std::size_t>(kWidth - filled), ' '), stats);
    std::fflush(stderr);
    bar_shown_ = true;
  } else if (done % every_ == 0 || done == r.total_steps) {
    fmt::print("{}\n", stats);
    std::fflush(stdout);
  }
}

void Progress::eval(const EvalReport& r) {
  clear_line();
  fmt::print("eval after step {} (epoch {}): {}\n", r.step, r.epoch + 1, format_eval(r));
  std::fflush(stdout);
}

void Progress::note(const std::string& text) {
  clear_line();
  fmt::print("{}\n", text);
  std::fflush(stdout);
}

void Progress::done() { clear_line(); }

}  // namespace courier::app
