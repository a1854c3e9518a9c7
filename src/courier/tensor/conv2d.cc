// conv2d kernels. The batch is cut into groups of images small enough that their columns
// stay in cache; each group costs:
//   forward:  im2col (C KH KW, nb P) from x; y (O, nb P) = weight (O, C KH KW) @ col; y -> out + bias
//   backward: dy (O, nb P) <- dout; dbias += row sums of dy; im2col again;
//             dweight += dy @ col^T; dcol = weight^T @ dy (into col's space); col2im dcol -> dx
// with P = OH OW and nb images in the group. The GEMMs run on OpenBLAS's threads; the copies
// around them are OpenMP loops over (image, channel) planes, which never write the same element.
#include "courier/tensor/conv2d.h"

#include <algorithm>

#include "courier/core/check.h"
#include "courier/tensor/matmul.h"
#include "courier/tensor/parallel.h"

namespace courier {
namespace {

// Column elements a group aims at: 4 MiB of floats, well inside the L3 of the machines we
// run on, and wide enough (thousands of columns) that the GEMM runs near peak.
constexpr std::int64_t kGroupColumnElements = std::int64_t{1} << 20;

struct ConvDims {
  std::int64_t B, C, H, W, O, KH, KW, OH, OW, stride, padding;
  std::int64_t plane() const { return OH * OW; }      // P: output positions of one image
  std::int64_t patch() const { return C * KH * KW; }  // rows of the column matrix
};

ConvDims conv_dims(const Shape& x, const Shape& weight, const Conv2dGeometry& geometry) {
  const Shape out = conv2d_output_shape(x, weight, geometry);
  return {x[0], x[1], x[2], x[3], weight[0], weight[2], weight[3], out[2], out[3], geometry.stride, geometry.padding};
}

std::int64_t images_per_group(const ConvDims& d) {
  return std::clamp<std::int64_t>(kGroupColumnElements / std::max<std::int64_t>(1, d.patch() * d.plane()), 1,
                                  std::max<std::int64_t>(1, d.B));
}

// The scratch for a group of nb images: columns (patch, nb P), then y or dy (O, nb P).
struct GroupBuffers {
  Tensor col;
  Tensor y;
};

GroupBuffers group_buffers(Tensor& workspace, const ConvDims& d, std::int64_t nb) {
  const std::int64_t n = nb * d.plane();
  const std::int64_t needed = images_per_group(d) * d.plane() * (d.patch() + d.O);
  if (!workspace.defined() || workspace.numel() < needed) workspace = Tensor::empty({needed});
  const Tensor flat = workspace.view({workspace.numel()});
  return {flat.rows(0, d.patch() * n).view({d.patch(), n}),
          flat.rows(d.patch() * n, (d.patch() + d.O) * n).view({d.O, n})};
}

// The outputs o in [begin, end) whose input o stride + offset lies in [0, extent).
struct Range {
  std::int64_t begin, end;
};

Range valid_outputs(std::int64_t offset, std::int64_t extent, std::int64_t stride, std::int64_t outputs) {
  const std::int64_t end = extent - offset <= 0 ? 0 : std::min(outputs, (extent - offset + stride - 1) / stride);
  const std::int64_t begin = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  return {std::min(begin, end), end};
}

// col rows (c, kh, kw), columns [col0, col0 + P) <- the patches of one (H, W) plane.
// col (patch, ld), plane (H, W)
void im2col_plane(const float* plane, const ConvDims& d, std::int64_t c, float* col, std::int64_t ld,
                  std::int64_t col0) {
  for (std::int64_t kh = 0; kh < d.KH; ++kh) {
    const Range rows = valid_outputs(kh - d.padding, d.H, d.stride, d.OH);
    for (std::int64_t kw = 0; kw < d.KW; ++kw) {
      const Range cols = valid_outputs(kw - d.padding, d.W, d.stride, d.OW);
      float* dst = col + ((c * d.KH + kh) * d.KW + kw) * ld + col0;
      for (std::int64_t oh = 0; oh < d.OH; ++oh) {
        float* row = dst + oh * d.OW;
        if (oh < rows.begin || oh >= rows.end) {
          std::fill(row, row + d.OW, 0.0f);
          continue;
        }
        // Input element of output column ow: base + ow stride, in bounds for ow in cols.
        const std::int64_t base = (oh * d.stride - d.padding + kh) * d.W + kw - d.padding;
        // Plain loops, not std::copy: rows are short (11 elements in the CNN's second
        // layer) and a memmove call a row costs more than the copy.
        for (std::int64_t ow = 0; ow < cols.begin; ++ow) row[ow] = 0.0f;
        if (d.stride == 1) {
          for (std::int64_t ow = cols.begin; ow < cols.end; ++ow) row[ow] = plane[base + ow];
        } else {
          for (std::int64_t ow = cols.begin; ow < cols.end; ++ow) row[ow] = plane[base + ow * d.stride];
        }
        for (std::int64_t ow = cols.end; ow < d.OW; ++ow) row[ow] = 0.0f;
      }
    }
  }
}

// The adjoint of im2col_plane: plane (H, W) = sum of the column entries that read each element.
void col2im_plane(const float* col, const ConvDims& d, std::int64_t c, std::int64_t ld, std::int64_t col0,
                  float* plane) {
  std::fill(plane, plane + d.H * d.W, 0.0f);
  for (std::int64_t kh = 0; kh < d.KH; ++kh) {
    const Range rows = valid_outputs(kh - d.padding, d.H, d.stride, d.OH);
    for (std::int64_t kw = 0; kw < d.KW; ++kw) {
      const Range cols = valid_outputs(kw - d.padding, d.W, d.stride, d.OW);
      const float* src = col + ((c * d.KH + kh) * d.KW + kw) * ld + col0;
      for (std::int64_t oh = rows.begin; oh < rows.end; ++oh) {
        const float* row = src + oh * d.OW;
        const std::int64_t base = (oh * d.stride - d.padding + kh) * d.W + kw - d.padding;
        if (d.stride == 1) {
          for (std::int64_t ow = cols.begin; ow < cols.end; ++ow) plane[base + ow] += row[ow];
        } else {
          for (std::int64_t ow = cols.begin; ow < cols.end; ++ow) plane[base + ow * d.stride] += row[ow];
        }
      }
    }
  }
}

// x (B,C,H,W) images [b0, b0 + nb) -> col (patch, nb P)
void im2col_group(const Tensor& x, const ConvDims& d, std::int64_t b0, std::int64_t nb, Tensor& col) {
  const float* px = x.data();
  float* pc = col.data();
  const std::int64_t ld = col.dim(1);
#pragma omp parallel for if (col.numel() >= kParallelMinElements) schedule(static)
  for (std::int64_t item = 0; item < nb * d.C; ++item) {
    const std::int64_t b = item / d.C;
    const std::int64_t c = item % d.C;
    im2col_plane(px + ((b0 + b) * d.C + c) * d.H * d.W, d, c, pc, ld, b * d.plane());
  }
}

// col (patch, nb P) -> dx (B,C,H,W) images [b0, b0 + nb), written
void col2im_group(const Tensor& col, const ConvDims& d, std::int64_t b0, std::int64_t nb, Tensor& dx) {
  const float* pc = col.data();
  float* pdx = dx.data();
  const std::int64_t ld = col.dim(1);
#pragma omp parallel for if (col.numel() >= kParallelMinElements) schedule(static)
  for (std::int64_t item = 0; item < nb * d.C; ++item) {
    const std::int64_t b = item / d.C;
    const std::int64_t c = item % d.C;
    col2im_plane(pc, d, c, ld, b * d.plane(), pdx + ((b0 + b) * d.C + c) * d.H * d.W);
  }
}

// y (O, nb P) + bias -> out (B,O,OH,OW) images [b0, b0 + nb)
void scatter_output(const Tensor& y, const Tensor& bias, const ConvDims& d, std::int64_t b0, std::int64_t nb,
                    Tensor& out) {
  const std::int64_t P = d.plane();
  const std::int64_t n = nb * P;
  const float* py = y.data();
  const float* pb = bias.defined() ? bias.data() : nullptr;
  float* po = out.data();
#pragma omp parallel for if (y.numel() >= kParallelMinElements) schedule(static)
  for (std::int64_t item = 0; item < nb * d.O; ++item) {
    const std::int64_t b = item / d.O;
    const std::int64_t o = item % d.O;
    const float shift = pb != nullptr ? pb[o] : 0.0f;
    const float* src = py + o * n + b * P;
    float* dst = po + ((b0 + b) * d.O + o) * P;
#pragma omp simd
    for (std::int64_t p = 0; p < P; ++p) dst[p] = src[p] + shift;
  }
}

// dout (B,O,OH,OW) images [b0, b0 + nb) -> dy (O, nb P)
void gather_dout(const Tensor& dout, const ConvDims& d, std::int64_t b0, std::int64_t nb, Tensor& dy) {
  const std::int64_t P = d.plane();
  const std::int64_t n = nb * P;
  const float* pd = dout.data();
  float* py = dy.data();
#pragma omp parallel for if (dy.numel() >= kParallelMinElements) schedule(static)
  for (std::int64_t item = 0; item < nb * d.O; ++item) {
    const std::int64_t b = item / d.O;
    const std::int64_t o = item % d.O;
    std::copy(pd + ((b0 + b) * d.O + o) * P, pd + ((b0 + b) * d.O + o + 1) * P, py + o * n + b * P);
  }
}

// dbias (O) += row sums of dy (O, n)
void add_row_sums(const Tensor& dy, Tensor& dbias) {
  const std::int64_t n = dy.dim(1);
  const float* py = dy.data();
  float* pb = dbias.data();
  for (std::int64_t o = 0; o < dy.dim(0); ++o) {
    float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
    for (std::int64_t i = 0; i < n; ++i) acc += py[o * n + i];
    pb[o] += acc;
  }
}

void check_bias(const Tensor& bias, const ConvDims& d, const Shape& weight, const char* name) {
  COURIER_CHECK_EQ(bias.shape(), Shape({d.O}), "conv2d {} for weight {}", name, weight);
}

}  // namespace

std::int64_t conv2d_output_size(std::int64_t input, std::int64_t kernel, const Conv2dGeometry& geometry) {
  COURIER_CHECK_GE(geometry.stride, 1, "conv2d stride");
  COURIER_CHECK_GE(geometry.padding, 0, "conv2d padding");
  COURIER_CHECK_GE(kernel, 1, "conv2d kernel size");
  const std::int64_t padded = input + 2 * geometry.padding;
  COURIER_CHECK_GE(padded, kernel, "conv2d kernel larger than the padded input (input {}, padding {})", input,
                   geometry.padding);
  return (padded - kernel) / geometry.stride + 1;
}

Shape conv2d_output_shape(const Shape& x, const Shape& weight, const Conv2dGeometry& geometry) {
  COURIER_CHECK_EQ(x.rank(), 4, "conv2d input must be (B, C, H, W), got {}", x);
  COURIER_CHECK_EQ(weight.rank(), 4, "conv2d weight must be (O, C, KH, KW), got {}", weight);
  COURIER_CHECK_EQ(x[1], weight[1], "conv2d channels of input {} and weight {}", x, weight);
  return {x[0], weight[0], conv2d_output_size(x[2], weight[2], geometry), conv2d_output_size(x[3], weight[3], geometry)};
}

std::int64_t conv2d_workspace_numel(const Shape& x, const Shape& weight, const Conv2dGeometry& geometry) {
  const ConvDims d = conv_dims(x, weight, geometry);
  return images_per_group(d) * d.plane() * (d.patch() + d.O);
}

void conv2d_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor& out,
                    const Conv2dGeometry& geometry, Tensor& workspace) {
  const ConvDims d = conv_dims(x.shape(), weight.shape(), geometry);
  COURIER_CHECK_EQ(out.shape(), conv2d_output_shape(x.shape(), weight.shape(), geometry),
                   "conv2d output for input {} and weight {}", x.shape(), weight.shape());
  if (bias.defined()) check_bias(bias, d, weight.shape(), "bias");
  COURIER_CHECK(!out.overlaps(x) && !out.overlaps(weight) && !out.overlaps(bias), "conv2d output overlaps an input");
  const Tensor w = weight.view({d.O, d.patch()});
  const std::int64_t group = images_per_group(d);
  for (std::int64_t b0 = 0; b0 < d.B; b0 += group) {
    const std::int64_t nb = std::min(group, d.B - b0);
    GroupBuffers buffers = group_buffers(workspace, d, nb);
    im2col_group(x, d, b0, nb, buffers.col);
    matmul(w, buffers.col, buffers.y);
    scatter_output(buffers.y, bias, d, b0, nb, out);
  }
}

void conv2d_backward(const Tensor& dout, const Tensor& x, const Tensor& weight, Tensor& dweight, Tensor* dbias,
                     Tensor* dx, const Conv2dGeometry& geometry, Tensor& workspace) {
  const ConvDims d = conv_dims(x.shape(), weight.shape(), geometry);
  COURIER_CHECK_EQ(dout.shape(), conv2d_output_shape(x.shape(), weight.shape(), geometry),
                   "conv2d_backward dout for input {} and weight {}", x.shape(), weight.shape());
  COURIER_CHECK_EQ(dweight.shape(), weight.shape(), "conv2d_backward dweight");
  if (dbias != nullptr) check_bias(*dbias, d, weight.shape(), "dbias");
  if (dx != nullptr) COURIER_CHECK_EQ(dx->shape(), x.shape(), "conv2d_backward dx");
  const Tensor w = weight.view({d.O, d.patch()});
  Tensor dw = dweight.view({d.O, d.patch()});
  const std::int64_t group = images_per_group(d);
  for (std::int64_t b0 = 0; b0 < d.B; b0 += group) {
    const std::int64_t nb = std::min(group, d.B - b0);
    GroupBuffers buffers = group_buffers(workspace, d, nb);
    gather_dout(dout, d, b0, nb, buffers.y);
    if (dbias != nullptr) add_row_sums(buffers.y, *dbias);
    im2col_group(x, d, b0, nb, buffers.col);
    matmul(buffers.y, buffers.col, dw, {.transpose_b = true, .accumulate = true});
    if (dx == nullptr) continue;
    matmul(w, buffers.y, buffers.col, {.transpose_a = true});
    col2im_group(buffers.col, d, b0, nb, *dx);
  }
}

}  // namespace courier
