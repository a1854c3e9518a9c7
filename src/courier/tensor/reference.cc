// The naive reference kernels (see reference.h). Each is the textbook formula, one loop.
#include "courier/tensor/reference.h"

#include <cmath>
#include <numbers>

#include "courier/core/check.h"

namespace courier::reference {
namespace {

// Elementwise y = f(x) in double.
template <typename F>
void map(const Tensor& x, Tensor& out, F f) {
  COURIER_CHECK_EQ(x.shape(), out.shape());
  for (std::int64_t i = 0; i < x.numel(); ++i) out.data()[i] = static_cast<float>(f(static_cast<double>(x.data()[i])));
}

// Elementwise din = dout * f'(saved) in double.
template <typename F>
void map_backward(const Tensor& dout, const Tensor& saved, Tensor& din, F derivative) {
  COURIER_CHECK_EQ(dout.shape(), saved.shape());
  COURIER_CHECK_EQ(dout.shape(), din.shape());
  for (std::int64_t i = 0; i < dout.numel(); ++i) {
    din.data()[i] = static_cast<float>(static_cast<double>(dout.data()[i]) * derivative(static_cast<double>(saved.data()[i])));
  }
}

double gelu_tanh(double x) {
  return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / std::numbers::pi) * (x + 0.044715 * x * x * x)));
}
double gelu_exact(double x) { return 0.5 * x * (1.0 + std::erf(x / std::numbers::sqrt2)); }

}  // namespace

void matmul(const Tensor& a, const Tensor& b, Tensor& out, const MatmulOptions& options) {
  const std::int64_t m = options.transpose_a ? a.dim(1) : a.dim(0);
  const std::int64_t k = options.transpose_a ? a.dim(0) : a.dim(1);
  const std::int64_t n = options.transpose_b ? b.dim(0) : b.dim(1);
  COURIER_CHECK_EQ(k, options.transpose_b ? b.dim(1) : b.dim(0));
  COURIER_CHECK_EQ(out.shape(), Shape({m, n}));
  const float* pa = a.data();
  const float* pb = b.data();
  float* po = out.data();
  // Element (i, p) of op(a) and (p, j) of op(b), whatever the storage order.
  const std::int64_t a_row = options.transpose_a ? 1 : k;
  const std::int64_t a_col = options.transpose_a ? m : 1;
  const std::int64_t b_row = options.transpose_b ? 1 : n;
  const std::int64_t b_col = options.transpose_b ? k : 1;
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t j = 0; j < n; ++j) {
      double acc = 0.0;
      for (std::int64_t p = 0; p < k; ++p) {
        acc += static_cast<double>(pa[i * a_row + p * a_col]) * pb[p * b_row + j * b_col];
      }
      acc *= options.alpha;
      if (options.accumulate) acc += po[i * n + j];
      po[i * n + j] = static_cast<float>(acc);
    }
  }
}

void bias_add_forward(const Tensor& x, const Tensor& bias, Tensor& out) {
  COURIER_CHECK_EQ(x.shape(), out.shape());
  const std::int64_t cols = bias.numel();
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    out.data()[i] = static_cast<float>(static_cast<double>(x.data()[i]) + bias.data()[i % cols]);
  }
}

void bias_add_backward(const Tensor& dout, Tensor& dbias) { sum_over_rows(dout.as_matrix(), dbias, true); }

void sigmoid_forward(const Tensor& x, Tensor& out) {
  map(x, out, [](double v) { return 1.0 / (1.0 + std::exp(-v)); });
}
void sigmoid_backward(const Tensor& dout, const Tensor& out, Tensor& din) {
  map_backward(dout, out, din, [](double y) { return y * (1.0 - y); });
}
void tanh_forward(const Tensor& x, Tensor& out) {
  map(x, out, [](double v) { return std::tanh(v); });
}
void tanh_backward(const Tensor& dout, const Tensor& out, Tensor& din) {
  map_backward(dout, out, din, [](double y) { return 1.0 - y * y; });
}
void relu_forward(const Tensor& x, Tensor& out) {
  map(x, out, [](double v) { return v > 0.0 ? v : 0.0; });
}
void relu_backward(const Tensor& dout, const Tensor& x, Tensor& din) {
  map_backward(dout, x, din, [](double v) { return v > 0.0 ? 1.0 : 0.0; });
}

void gelu_forward(const Tensor& x, Tensor& out, GeluApproximation approximation) {
  if (approximation == GeluApproximation::kTanh) {
    map(x, out, gelu_tanh);
  } else {
    map(x, out, gelu_exact);
  }
}

void gelu_backward(const Tensor& dout, const Tensor& x, Tensor& din, GeluApproximation approximation) {
  // The derivative by a central difference in double: independent of the closed form the
  // optimised kernel uses, and accurate to ~1e-10 at this step.
  constexpr double h = 1e-5;
  auto f = approximation == GeluApproximation::kTanh ? gelu_tanh : gelu_exact;
  map_backward(dout, x, din, [f](double v) { return (f(v + h) - f(v - h)) / (2 * h); });
}

void softmax_forward(const Tensor& x, Tensor& out) {
  COURIER_CHECK_EQ(x.shape(), out.shape());
  const std::int64_t cols = x.dim(-1);
  for (std::int64_t r = 0; r < x.shape().leading_numel(); ++r) {
    double m = -INFINITY;
    for (std::int64_t c = 0; c < cols; ++c) m = std::max(m, static_cast<double>(x.data()[r * cols + c]));
    double total = 0.0;
    for (std::int64_t c = 0; c < cols; ++c) total += std::exp(x.data()[r * cols + c] - m);
    for (std::int64_t c = 0; c < cols; ++c) {
      out.data()[r * cols + c] = static_cast<float>(std::exp(x.data()[r * cols + c] - m) / total);
    }
  }
}

void softmax_backward(const Tensor& dout, const Tensor& out, Tensor& din) {
  COURIER_CHECK_EQ(dout.shape(), out.shape());
  COURIER_CHECK_EQ(dout.shape(), din.shape());
  const std::int64_t cols = dout.dim(-1);
  for (std::int64_t r = 0; r < dout.shape().leading_numel(); ++r) {
    // Full Jacobian-vector product: din_i = sum_j dout_j * y_j (delta_ij - y_i).
    for (std::int64_t i = 0; i < cols; ++i) {
      const double yi = out.data()[r * cols + i];
      double acc = 0.0;
      for (std::int64_t j = 0; j < cols; ++j) {
        const double yj = out.data()[r * cols + j];
        acc += static_cast<double>(dout.data()[r * cols + j]) * yj * ((i == j ? 1.0 : 0.0) - yi);
      }
      din.data()[r * cols + i] = static_cast<float>(acc);
    }
  }
}

void log_softmax_forward(const Tensor& x, Tensor& out) {
  softmax_forward(x, out);
  for (std::int64_t i = 0; i < out.numel(); ++i) out.data()[i] = static_cast<float>(std::log(static_cast<double>(out.data()[i])));
}

float sum_forward(const Tensor& x) {
  double acc = 0.0;
  for (std::int64_t i = 0; i < x.numel(); ++i) acc += x.data()[i];
  return static_cast<float>(acc);
}

double squared_norm(std::span<const float> x) {
  double acc = 0.0;
  for (float v : x) acc += static_cast<double>(v) * v;
  return acc;
}

void sum_over_rows(const Tensor& x, Tensor& out, bool accumulate) {
  COURIER_CHECK_EQ(x.rank(), 2);
  COURIER_CHECK_EQ(out.shape(), Shape({x.dim(1)}));
  for (std::int64_t c = 0; c < x.dim(1); ++c) {
    double acc = accumulate ? out.data()[c] : 0.0;
    for (std::int64_t r = 0; r < x.dim(0); ++r) acc += x.data()[r * x.dim(1) + c];
    out.data()[c] = static_cast<float>(acc);
  }
}

}  // namespace courier::reference
