// Error feedback: residual in, residual out.
#include "courier/comm/codecs/error_feedback.h"

#include "courier/core/check.h"

namespace courier {

ErrorFeedback::ErrorFeedback(std::unique_ptr<Codec> inner) : inner_(std::move(inner)) {
  COURIER_CHECK(inner_ != nullptr, "ErrorFeedback needs a codec");
}

// corrected = values + residual; out = encode(corrected); residual = corrected - decode(out)
void ErrorFeedback::encode(std::span<const float> values, std::vector<std::byte>& out) {
  if (!started_) {
    residual_.assign(values.size(), 0.0f);
    decoded_.resize(values.size());
    started_ = true;
  }
  COURIER_CHECK_EQ(values.size(), residual_.size(), "ErrorFeedback: a stream of vectors of one length");
  for (std::size_t i = 0; i < values.size(); ++i) residual_[i] += values[i];
  inner_->encode(residual_, out);
  const Status decoded = inner_->decode(out, decoded_);
  COURIER_CHECK(decoded.is_ok(), "{} cannot decode its own encoding: {}", inner_->name(), decoded.to_string());
  for (std::size_t i = 0; i < values.size(); ++i) residual_[i] -= decoded_[i];
}

}  // namespace courier
