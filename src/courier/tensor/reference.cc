// The naive reference kernels (see reference.h). Each is the textbook formula, one loop.
#include "courier/tensor/reference.h"

#include <algorithm>
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

// x[b, c, h, w] of a (B, C, H, W) tensor, or 0 outside its planes: the zero padding.
double padded_at(const Tensor& x, std::int64_t b, std::int64_t c, std::int64_t h, std::int64_t w) {
  if (h < 0 || h >= x.dim(2) || w < 0 || w >= x.dim(3)) return 0.0;
  return x.at({b, c, h, w});
}

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

// out[b,o,i,j] = bias[o] + sum_{c,p,q} weight[o,c,p,q] x[b, c, i stride - padding + p, j stride - padding + q]
void conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& out,
                    const Conv2dGeometry& geometry) {
  const std::int64_t s = geometry.stride, pad = geometry.padding;
  const std::int64_t OH = (x.dim(2) + 2 * pad - weight.dim(2)) / s + 1;
  const std::int64_t OW = (x.dim(3) + 2 * pad - weight.dim(3)) / s + 1;
  COURIER_CHECK_EQ(x.dim(1), weight.dim(1));
  COURIER_CHECK_EQ(out.shape(), Shape({x.dim(0), weight.dim(0), OH, OW}));
  for (std::int64_t b = 0; b < x.dim(0); ++b) {
    for (std::int64_t o = 0; o < weight.dim(0); ++o) {
      for (std::int64_t i = 0; i < OH; ++i) {
        for (std::int64_t j = 0; j < OW; ++j) {
          double acc = bias.defined() ? bias.at(o) : 0.0;
          for (std::int64_t c = 0; c < weight.dim(1); ++c) {
            for (std::int64_t p = 0; p < weight.dim(2); ++p) {
              for (std::int64_t q = 0; q < weight.dim(3); ++q) {
                acc += weight.at({o, c, p, q}) * padded_at(x, b, c, i * s - pad + p, j * s - pad + q);
              }
            }
          }
          out.at({b, o, i, j}) = static_cast<float>(acc);
        }
      }
    }
  }
}

// Each output gradient g = dout[b,o,i,j] sends g x[...] to dweight[o,c,p,q], g weight[o,c,p,q]
// to dx[...] (for taps inside x), and g to dbias[o]. Sums in double; dweight and dbias
// accumulate, dx is written.
void conv2d_backward(const Tensor& dout, const Tensor& x, const Tensor& weight, Tensor& dweight, Tensor* dbias,
                     Tensor* dx, const Conv2dGeometry& geometry) {
  const std::int64_t s = geometry.stride, pad = geometry.padding;
  const std::int64_t C = weight.dim(1), KH = weight.dim(2), KW = weight.dim(3);
  COURIER_CHECK_EQ(dweight.shape(), weight.shape());
  std::vector<double> dw(static_cast<std::size_t>(weight.numel()), 0.0);
  std::vector<double> db(static_cast<std::size_t>(weight.dim(0)), 0.0);
  std::vector<double> dxs(static_cast<std::size_t>(x.numel()), 0.0);
  for (std::int64_t b = 0; b < dout.dim(0); ++b) {
    for (std::int64_t o = 0; o < dout.dim(1); ++o) {
      for (std::int64_t i = 0; i < dout.dim(2); ++i) {
        for (std::int64_t j = 0; j < dout.dim(3); ++j) {
          const double g = dout.at({b, o, i, j});
          db[static_cast<std::size_t>(o)] += g;
          for (std::int64_t c = 0; c < C; ++c) {
            for (std::int64_t p = 0; p < KH; ++p) {
              for (std::int64_t q = 0; q < KW; ++q) {
                const std::int64_t h = i * s - pad + p, w = j * s - pad + q;
                if (h < 0 || h >= x.dim(2) || w < 0 || w >= x.dim(3)) continue;
                dw[static_cast<std::size_t>(((o * C + c) * KH + p) * KW + q)] += g * x.at({b, c, h, w});
                dxs[static_cast<std::size_t>(((b * C + c) * x.dim(2) + h) * x.dim(3) + w)] += g * weight.at({o, c, p, q});
              }
            }
          }
        }
      }
    }
  }
  for (std::int64_t k = 0; k < dweight.numel(); ++k) {
    dweight.data()[k] = static_cast<float>(dweight.data()[k] + dw[static_cast<std::size_t>(k)]);
  }
  if (dbias != nullptr) {
    COURIER_CHECK_EQ(dbias->shape(), Shape({weight.dim(0)}));
    for (std::int64_t o = 0; o < dbias->numel(); ++o) {
      dbias->data()[o] = static_cast<float>(dbias->data()[o] + db[static_cast<std::size_t>(o)]);
    }
  }
  if (dx != nullptr) {
    COURIER_CHECK_EQ(dx->shape(), x.shape());
    for (std::int64_t k = 0; k < dx->numel(); ++k) dx->data()[k] = static_cast<float>(dxs[static_cast<std::size_t>(k)]);
  }
}

// The first maximum of each window, scanning rows then columns; a NaN beats any number.
void maxpool2d_forward(const Tensor& x, Tensor& out, std::vector<std::int32_t>& argmax, std::int64_t kernel,
                       std::int64_t stride) {
  const std::int64_t OH = (x.dim(2) - kernel) / stride + 1, OW = (x.dim(3) - kernel) / stride + 1;
  COURIER_CHECK_EQ(out.shape(), Shape({x.dim(0), x.dim(1), OH, OW}));
  argmax.assign(static_cast<std::size_t>(out.numel()), -1);
  std::int64_t flat = 0;
  for (std::int64_t b = 0; b < x.dim(0); ++b) {
    for (std::int64_t c = 0; c < x.dim(1); ++c) {
      for (std::int64_t i = 0; i < OH; ++i) {
        for (std::int64_t j = 0; j < OW; ++j, ++flat) {
          float best = 0.0f;
          std::int64_t best_at = -1;
          for (std::int64_t p = 0; p < kernel; ++p) {
            for (std::int64_t q = 0; q < kernel; ++q) {
              const std::int64_t h = i * stride + p, w = j * stride + q;
              const float v = x.at({b, c, h, w});
              if (best_at < 0 || v > best || (std::isnan(v) && !std::isnan(best))) {
                best = v;
                best_at = h * x.dim(3) + w;
              }
            }
          }
          out.at(flat) = best;
          argmax[static_cast<std::size_t>(flat)] = static_cast<std::int32_t>(best_at);
        }
      }
    }
  }
}

void maxpool2d_backward(const Tensor& dout, std::span<const std::int32_t> argmax, Tensor& dx) {
  COURIER_CHECK_EQ(static_cast<std::int64_t>(argmax.size()), dout.numel());
  const std::int64_t plane_out = dout.dim(2) * dout.dim(3);
  const std::int64_t plane_in = dx.dim(2) * dx.dim(3);
  std::vector<double> acc(static_cast<std::size_t>(dx.numel()), 0.0);
  for (std::int64_t i = 0; i < dout.numel(); ++i) {
    const std::int64_t at = i / plane_out * plane_in + argmax[static_cast<std::size_t>(i)];
    acc.at(static_cast<std::size_t>(at)) += dout.data()[i];
  }
  for (std::int64_t k = 0; k < dx.numel(); ++k) dx.data()[k] = static_cast<float>(acc[static_cast<std::size_t>(k)]);
}

void layernorm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& out) {
  const std::int64_t N = x.dim(0), C = x.dim(1);
  for (std::int64_t n = 0; n < N; ++n) {
    double mean = 0, var = 0;
    for (std::int64_t c = 0; c < C; ++c) mean += x.at({n, c});
    mean /= static_cast<double>(C);
    for (std::int64_t c = 0; c < C; ++c) var += (x.at({n, c}) - mean) * (x.at({n, c}) - mean);
    var /= static_cast<double>(C);
    for (std::int64_t c = 0; c < C; ++c) {
      const double y = (x.at({n, c}) - mean) / std::sqrt(var + 1e-5) * weight.at(c);
      out.at({n, c}) = static_cast<float>(bias.defined() ? y + bias.at(c) : y);
    }
  }
}

void attention_forward(const Tensor& qkv, std::int64_t heads, Tensor& out) {
  const std::int64_t B = qkv.dim(0), T = qkv.dim(1), C = qkv.dim(2) / 3, HS = C / heads;
  std::vector<double> score(static_cast<std::size_t>(T));
  for (std::int64_t b = 0; b < B; ++b) {
    for (std::int64_t h = 0; h < heads; ++h) {
      for (std::int64_t t = 0; t < T; ++t) {
        double max = -1e300, sum = 0;
        for (std::int64_t s = 0; s <= t; ++s) {
          double dot = 0;
          for (std::int64_t i = 0; i < HS; ++i) dot += qkv.at({b, t, h * HS + i}) * qkv.at({b, s, C + h * HS + i});
          score[static_cast<std::size_t>(s)] = dot / std::sqrt(static_cast<double>(HS));
          max = std::max(max, score[static_cast<std::size_t>(s)]);
        }
        for (std::int64_t s = 0; s <= t; ++s) {
          double& e = score[static_cast<std::size_t>(s)];
          e = std::exp(e - max);
          sum += e;
        }
        for (std::int64_t i = 0; i < HS; ++i) {
          double acc = 0;
          for (std::int64_t s = 0; s <= t; ++s) {
            acc += score[static_cast<std::size_t>(s)] / sum * qkv.at({b, s, 2 * C + h * HS + i});
          }
          out.at({b, t, h * HS + i}) = static_cast<float>(acc);
        }
      }
    }
  }
}

}  // namespace courier::reference
