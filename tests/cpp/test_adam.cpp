#include <catch2/catch.hpp>

#include "adam.h"

TEST_CASE("fused Adam skips parameters without a gradient and counts steps per parameter",
          "[adam]") {
  torch::manual_seed(0);
  torch::Tensor a = torch::randn({5}), b = torch::randn({3});
  const torch::Tensor b0 = b.clone();
  concord::FusedAdam adam({a, b});
  const double lr = 0.01;
  // Step 1: b takes no part (no gradient) and must not move.
  adam.step({torch::ones({5}), torch::Tensor()}, lr, 1);
  CHECK(torch::equal(b, b0));
  // Step 2: b's first own step. Adam's first step moves each element by lr against the
  // gradient's sign (bias correction of step 1); counted as step 2 it would move by
  // about 0.74 lr.
  adam.step({torch::ones({5}), torch::full({3}, 0.5)}, lr, 1);
  const torch::Tensor moved = b0 - b;
  for (int i = 0; i < 3; ++i) CHECK(moved[i].item<double>() == Approx(lr).epsilon(1e-4));
}

TEST_CASE("fused Adam matches LibTorch's Adam when a parameter sits out steps", "[adam]") {
  torch::manual_seed(1);
  torch::Tensor a = torch::randn({4}), b = torch::randn({4});
  torch::Tensor ra = a.clone().requires_grad_(true), rb = b.clone().requires_grad_(true);
  concord::FusedAdam fused({a, b});
  torch::optim::Adam reference({ra, rb}, torch::optim::AdamOptions(0.01));
  for (int step = 0; step < 6; ++step) {
    const torch::Tensor ga = torch::randn({4}), gb = torch::randn({4});
    const bool b_used = step % 2 == 0;
    fused.step({ga, b_used ? gb : torch::Tensor()}, 0.01, 1);
    ra.mutable_grad() = ga.clone();
    rb.mutable_grad() = b_used ? gb.clone() : torch::Tensor();
    reference.step();
  }
  CHECK(torch::allclose(a, ra.detach(), 1e-5, 1e-6));
  CHECK(torch::allclose(b, rb.detach(), 1e-5, 1e-6));
}
