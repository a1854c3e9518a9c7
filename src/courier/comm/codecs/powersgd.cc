// PowerSGD: power iteration, orthonormalisation, two allreduces, error feedback.
#include "courier/comm/codecs/powersgd.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "courier/core/check.h"
#include "courier/core/rng.h"

namespace courier {
namespace {

// out (rows x r) = m (rows x cols) q (cols x r).
void multiply(const float* m, std::size_t rows, std::size_t cols, const float* q, std::size_t r, float* out) {
  std::fill(out, out + rows * r, 0.0f);
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t k = 0; k < cols; ++k) {
      const float a = m[i * cols + k];
      for (std::size_t j = 0; j < r; ++j) out[i * r + j] += a * q[k * r + j];
    }
  }
}

// out (cols x r) = m^T (cols x rows) p (rows x r).
void multiply_transposed(const float* m, std::size_t rows, std::size_t cols, const float* p, std::size_t r,
                         float* out) {
  std::fill(out, out + cols * r, 0.0f);
  for (std::size_t i = 0; i < rows; ++i) {
    for (std::size_t k = 0; k < cols; ++k) {
      const float a = m[i * cols + k];
      for (std::size_t j = 0; j < r; ++j) out[k * r + j] += a * p[i * r + j];
    }
  }
}

// Modified Gram-Schmidt on the r columns of p (rows x r, row-major). A column with nothing
// left after the earlier ones are taken out becomes 0 (it adds nothing to the approximation).
void orthonormalize(float* p, std::size_t rows, std::size_t r) {
  for (std::size_t j = 0; j < r; ++j) {
    for (std::size_t prev = 0; prev < j; ++prev) {
      double dot = 0.0;
      for (std::size_t i = 0; i < rows; ++i) dot += double{p[i * r + j]} * p[i * r + prev];
      for (std::size_t i = 0; i < rows; ++i) p[i * r + j] -= static_cast<float>(dot) * p[i * r + prev];
    }
    double norm = 0.0;
    for (std::size_t i = 0; i < rows; ++i) norm += double{p[i * r + j]} * p[i * r + j];
    norm = std::sqrt(norm);
    const float scale = norm > 1e-30 ? static_cast<float>(1.0 / norm) : 0.0f;
    for (std::size_t i = 0; i < rows; ++i) p[i * r + j] *= scale;
  }
}

}  // namespace

PowerSgd::PowerSgd(std::vector<MatrixRange> matrices, int rank, std::uint64_t seed)
    : requested_(std::move(matrices)), rank_(rank), seed_(seed) {
  COURIER_CHECK_GE(rank_, 1, "PowerSGD rank");
}

std::string PowerSgd::name() const { return fmt::format("powersgd:{}", rank_); }

// Sorts the matrices worth compressing, lays out P, Q and the residual, and lists the rest.
void PowerSgd::start(std::size_t count) {
  started_ = true;
  const auto r = static_cast<std::size_t>(rank_);
  std::vector<MatrixRange> kept;
  for (const MatrixRange& m : requested_) {
    COURIER_CHECK_LE(m.offset + m.rows * m.cols, count, "PowerSGD matrix outside the vector");
    if (r * (m.rows + m.cols) < m.rows * m.cols) kept.push_back(m);
  }
  std::sort(kept.begin(), kept.end(), [](const MatrixRange& a, const MatrixRange& b) { return a.offset < b.offset; });
  std::size_t p = 0, q = 0, covered = 0, elements = 0;
  for (const MatrixRange& m : kept) {
    COURIER_CHECK_GE(m.offset, covered, "PowerSGD matrices overlap");
    for (std::size_t i = covered; i < m.offset; ++i) plain_.push_back(i);
    matrices_.push_back({m, p, q});
    p += m.rows * r;
    q += m.cols * r;
    covered = m.offset + m.rows * m.cols;
    elements += m.rows * m.cols;
  }
  for (std::size_t i = covered; i < count; ++i) plain_.push_back(i);
  residual_.assign(elements, 0.0f);
  p_.resize(p);
  q_.resize(q);
  q_mine_.resize(q);
  plain_values_.resize(plain_.size());
  Rng rng(seed_);
  rng.fill_normal(q_, 0.0f, 1.0f);  // the same on every rank: seed_ is
}

Status PowerSgd::allreduce(Communicator& comm, std::span<float> data, const CollectiveOptions& options,
                           CodecTraffic& traffic) {
  if (!started_) start(data.size());
  const auto r = static_cast<std::size_t>(rank_);
  const int n = comm.world_size();
  CollectiveOptions ring = options;
  ring.algorithm = AllreduceAlgorithm::kRing;
  // Error feedback in, then P = M Q for every matrix.
  std::size_t at = 0;
  for (const Matrix& m : matrices_) {
    float* values = data.data() + m.range.offset;
    const std::size_t size = m.range.rows * m.range.cols;
    for (std::size_t i = 0; i < size; ++i) values[i] += residual_[at + i];
    at += size;
    multiply(values, m.range.rows, m.range.cols, q_.data() + m.q_offset, r, p_.data() + m.p_offset);
  }
  if (Status s = courier::allreduce(comm, std::span<float>(p_), ReduceOp::kSum, ring); !s.is_ok()) return s;
  for (const Matrix& m : matrices_) {
    float* p = p_.data() + m.p_offset;
    orthonormalize(p, m.range.rows, r);
    multiply_transposed(data.data() + m.range.offset, m.range.rows, m.range.cols, p, r, q_mine_.data() + m.q_offset);
  }
  q_ = q_mine_;
  if (Status s = courier::allreduce(comm, std::span<float>(q_), ReduceOp::kSum, ring); !s.is_ok()) return s;
  for (std::size_t i = 0; i < plain_.size(); ++i) plain_values_[i] = data[plain_[i]];
  if (Status s = courier::allreduce(comm, std::span<float>(plain_values_), ReduceOp::kSum, ring); !s.is_ok()) return s;
  for (std::size_t i = 0; i < plain_.size(); ++i) data[plain_[i]] = plain_values_[i];
  // e = M - P Q_mine^T (what this rank's part of the approximation missed); M = P Q^T.
  at = 0;
  for (const Matrix& m : matrices_) {
    float* values = data.data() + m.range.offset;
    const float* p = p_.data() + m.p_offset;
    const float* q_mine = q_mine_.data() + m.q_offset;
    const float* q = q_.data() + m.q_offset;
    for (std::size_t i = 0; i < m.range.rows; ++i) {
      for (std::size_t k = 0; k < m.range.cols; ++k) {
        float mine = 0.0f, sum = 0.0f;
        for (std::size_t j = 0; j < r; ++j) {
          mine += p[i * r + j] * q_mine[k * r + j];
          sum += p[i * r + j] * q[k * r + j];
        }
        const std::size_t e = at + i * m.range.cols + k;
        residual_[e] = values[i * m.range.cols + k] - mine;
        values[i * m.range.cols + k] = sum;
      }
    }
    at += m.range.rows * m.range.cols;
  }
  traffic += CodecTraffic{
      ring_allreduce_bytes(data.size(), sizeof(float), n, comm.rank()),
      ring_allreduce_bytes(p_.size(), sizeof(float), n, comm.rank()) +
          ring_allreduce_bytes(q_.size(), sizeof(float), n, comm.rank()) +
          ring_allreduce_bytes(plain_.size(), sizeof(float), n, comm.rank())};
  return Status::ok();
}

}  // namespace courier
