// Central-difference gradient checking.
#include "testutil/gradcheck.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "courier/core/rng.h"
#include "courier/nn/parameters.h"

namespace courier::testing {

::testing::AssertionResult gradcheck(const std::function<double()>& f, std::span<float> x,
                                     std::span<const float> analytic, const GradcheckOptions& options) {
  if (x.size() != analytic.size()) {
    return ::testing::AssertionFailure() << "gradcheck: " << x.size() << " inputs but " << analytic.size()
                                         << " analytic gradients";
  }
  std::size_t skipped = 0;
  std::size_t failures = 0;
  std::string first_failure;
  const double f0 = f();
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float original = x[i];
    x[i] = static_cast<float>(original + options.eps);
    const double f_plus = f();
    x[i] = static_cast<float>(original - options.eps);
    const double f_minus = f();
    x[i] = original;
    // The perturbation actually applied, after rounding to float.
    const double h_plus = static_cast<double>(static_cast<float>(original + options.eps)) - original;
    const double h_minus = original - static_cast<double>(static_cast<float>(original - options.eps));
    const double slope_plus = (f_plus - f0) / h_plus;
    const double slope_minus = (f0 - f_minus) / h_minus;
    const double numeric = (f_plus - f_minus) / (h_plus + h_minus);
    if (std::fabs(slope_plus - slope_minus) > options.kink_jump * std::max(1.0, std::fabs(numeric))) {
      ++skipped;
      continue;
    }
    const double a = analytic[i];
    if (!(std::fabs(a - numeric) <= options.atol + options.rtol * std::fabs(numeric))) {
      if (failures == 0) {
        first_failure = fmt::format("element {}: analytic {:.6g} vs numeric {:.6g} (x = {:.6g})", i, a, numeric,
                                    original);
      }
      ++failures;
    }
  }
  if (failures > 0) {
    return ::testing::AssertionFailure() << failures << " of " << x.size() << " gradients differ; first "
                                         << first_failure;
  }
  if (static_cast<double>(skipped) > options.max_skipped_fraction * static_cast<double>(x.size())) {
    return ::testing::AssertionFailure() << skipped << " of " << x.size()
                                         << " points sit on kinks; choose inputs away from them";
  }
  return ::testing::AssertionSuccess() << "checked " << x.size() - skipped << ", skipped " << skipped << " kinks";
}

::testing::AssertionResult gradcheck_layer(Layer& layer, const Shape& sample_input, std::int64_t batch,
                                           std::uint64_t seed, const GradcheckOptions& options, float input_scale) {
  ParameterLayout layout;
  const Shape sample_output = layer.setup(sample_input, layout);
  Parameters params(std::move(layout));
  Rng rng(seed);
  params.initialize(rng);
  layer.bind(params);

  Tensor in = Tensor::empty(sample_input.prepend(batch));
  rng.fill_normal(in.span(), 0.0f, input_scale);
  Tensor out = Tensor::empty(sample_output.prepend(batch));
  Tensor r = Tensor::empty(out.shape());
  rng.fill_normal(r.span(), 0.0f, 1.0f);
  LayerCache cache;

  auto loss = [&] {
    layer.forward(in, out, cache);
    double total = 0.0;
    for (std::int64_t i = 0; i < out.numel(); ++i) total += static_cast<double>(out.data()[i]) * r.data()[i];
    return total;
  };

  loss();
  Tensor din = Tensor::empty(in.shape());
  params.zero_grads();
  layer.backward(in, out, r, cache, &din);
  Tensor dparams = params.grads().clone();

  ::testing::AssertionResult inputs = gradcheck(loss, in.span(), din.span(), options);
  if (!inputs) return ::testing::AssertionFailure() << layer.describe() << " input gradient: " << inputs.message();
  if (params.numel() > 0) {
    ::testing::AssertionResult weights = gradcheck(loss, params.values().span(), dparams.span(), options);
    if (!weights) {
      return ::testing::AssertionFailure() << layer.describe() << " parameter gradient: " << weights.message();
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace courier::testing
