// PowerSGD (Vogels, Karimireddy and Jaggi, NeurIPS 2019): a rank-r approximation of each
// gradient matrix, found by one step of power iteration warm-started from the last step's
// factor, and summed over ranks through two small allreduces:
//   M += e                          (error feedback: what the last approximation missed)
//   P = M Q;   allreduce(P)          (rows x r)
//   P = orthonormal columns of P
//   Q = M^T P; allreduce(Q)          (cols x r)
//   e = M - P Q_mine^T;  M ≈ P Q^T   (every rank the same)
// Elements outside the matrices (biases, norms, small matrices) go through a plain allreduce.
// A matrix of rank <= r comes back exact (after the first step, whatever Q started as).
#pragma once

#include <cstdint>
#include <vector>

#include "courier/comm/codecs/compressor.h"

namespace courier {

class PowerSgd final : public GradientCompressor {
 public:
  // `count`: the stream's vector length. Matrices whose r (rows + cols) is not below
  // rows x cols are sent as they are. `seed` (the same on every rank) draws the initial Q.
  PowerSgd(std::vector<MatrixRange> matrices, int rank, std::uint64_t seed);

  std::string name() const override;
  Status allreduce(Communicator& comm, std::span<float> data, const CollectiveOptions& options,
                   CodecTraffic& traffic) override;

 private:
  struct Matrix {
    MatrixRange range;
    std::size_t p_offset, q_offset;  // into p_ and q_
  };
  void start(std::size_t count);

  std::vector<MatrixRange> requested_;
  int rank_;
  std::uint64_t seed_;
  bool started_ = false;
  std::vector<Matrix> matrices_;
  std::vector<std::size_t> plain_;  // element indices outside the compressed matrices
  std::vector<float> residual_;     // per compressed element, in matrix order
  std::vector<float> p_, q_, q_mine_, plain_values_;
};

}  // namespace courier
