// ErrorFeedback: wraps a lossy codec so that what it drops is not lost but delayed. Each
// encode adds the values to the residual, encodes the sum, and keeps sum - decode(encoding)
// as the new residual (Seide et al. 2014; Karimireddy et al. 2019). A node's residual
// belongs to one stream of vectors of one length: use one wrapper per stream.
#pragma once

#include <memory>
#include <vector>

#include "courier/comm/codecs/codec.h"

namespace courier {

class ErrorFeedback final : public Codec {
 public:
  explicit ErrorFeedback(std::unique_ptr<Codec> inner);

  std::string name() const override { return inner_->name() + "+ef"; }
  // One encoding is as far from its input (values + residual) as the inner codec allows.
  ErrorBound bound() const override { return inner_->bound(); }
  std::uint8_t wire_id() const override { return inner_->wire_id(); }
  // REQUIRES (COURIER_CHECK): every call after the first has the first call's length.
  void encode(std::span<const float> values, std::vector<std::byte>& out) override;
  Status decode(std::span<const std::byte> bytes, std::span<float> out) const override {
    return inner_->decode(bytes, out);
  }

  std::span<const float> residual() const { return residual_; }

 private:
  std::unique_ptr<Codec> inner_;
  std::vector<float> residual_;
  std::vector<float> decoded_;
  bool started_ = false;
};

}  // namespace courier
