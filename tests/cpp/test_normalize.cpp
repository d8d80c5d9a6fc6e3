#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "normalize.h"

TEST_CASE("log-normalization divides by the cell total and keeps empty cells at zero", "[normalize]") {
  const std::vector<int> p = {0, 2, 2, 3};  // cell 2 has no counts
  const std::vector<double> x = {1.0, 3.0, 5.0};
  std::vector<double> out(3);
  concord::log_normalize(3, p.data(), x.data(), 100.0, out.data(), 2);
  CHECK(out[0] == Approx(std::log1p(25.0)));
  CHECK(out[1] == Approx(std::log1p(75.0)));
  CHECK(out[2] == Approx(std::log1p(100.0)));
  std::vector<double> zero = {0.0};
  const std::vector<int> p0 = {0, 1};
  concord::log_normalize(1, p0.data(), zero.data(), 100.0, zero.data(), 1);  // in place
  CHECK(zero[0] == 0.0);
}
