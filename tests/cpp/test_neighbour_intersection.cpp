#include <catch2/catch.hpp>

#include <stdexcept>
#include <vector>

#include "neighbour_intersection.h"
#include "rng.h"

using concord::IntersectionOptions;
using concord::neighbour_intersection;

namespace {

// 3 cell types far apart (100 units), each a 0.1-wide cube holding 6 cells of each of
// 10 batches: every cell's 50 nearest and its cells within radius 1 are its own type,
// at most 5 of them from its own batch.
struct Mixed {
  int n = 0, dim = 3;
  std::vector<float> x;
  std::vector<int> batch, label;

  explicit Mixed(bool separate_batches = false) {
    concord::Rng rng(7);
    for (int type = 0; type < 3; ++type) {
      for (int b = 0; b < 10; ++b) {
        for (int j = 0; j < 6; ++j) {
          x.push_back(static_cast<float>(100.0 * type + 0.1 * rng.uniform()));
          // Batches apart (1000 units) when separated, together when mixed.
          x.push_back(static_cast<float>((separate_batches ? 1000.0 * b : 0.0) + 0.1 * rng.uniform()));
          x.push_back(static_cast<float>(0.1 * rng.uniform()));
          batch.push_back(b);
          label.push_back(type);
          ++n;
        }
      }
    }
  }
};

}  // namespace

TEST_CASE("KNI and RbNI: perfectly mixed batches with consistent labels score 1", "[intersection]") {
  Mixed m;
  const auto s = neighbour_intersection(m.x.data(), m.n, m.dim, m.batch.data(), m.label.data(), 3,
                                        IntersectionOptions());
  CHECK(s.kni == 1.0);
  CHECK(s.rbni == 1.0);
  CHECK(s.kni_outliers == 0);
  CHECK(s.rbni_outliers == 0);
}

TEST_CASE("KNI and RbNI: separated batches make every cell an outlier", "[intersection]") {
  Mixed m(/*separate_batches=*/true);
  const auto s = neighbour_intersection(m.x.data(), m.n, m.dim, m.batch.data(), m.label.data(), 3,
                                        IntersectionOptions());
  CHECK(s.kni == 0.0);
  CHECK(s.rbni == 0.0);
  CHECK(s.kni_outliers == m.n);
  CHECK(s.rbni_outliers == m.n);
}

TEST_CASE("KNI and RbNI: mislabelled and isolated cells are the incorrect share", "[intersection]") {
  Mixed m;
  // One mislabelled cell in each of 12 (type, batch) groups: each is outvoted by its
  // type, and no vote elsewhere changes.
  for (int g = 0; g < 12; ++g) m.label[g * 13 % m.n] = (m.label[g * 13 % m.n] + 1) % 3;
  // A cell of a fourth type far from all: no neighbour within the radius (an RbNI
  // outlier); its 50 nearest are a type's cells from other batches, whose label it lacks.
  m.x.insert(m.x.end(), {500, 0, 0});
  m.batch.push_back(0);
  m.label.push_back(3);
  ++m.n;
  const auto s = neighbour_intersection(m.x.data(), m.n, m.dim, m.batch.data(), m.label.data(), 4,
                                        IntersectionOptions());
  CHECK(s.kni == Approx(168.0 / 181));
  CHECK(s.rbni == Approx(168.0 / 181));
  CHECK(s.kni_outliers == 0);
  CHECK(s.rbni_outliers == 1);
}

TEST_CASE("KNI's tau and RbNI's share draw the outlier line", "[intersection]") {
  Mixed m;
  IntersectionOptions o;
  // 50 neighbours of which at least 45 are from other batches.
  o.tau = 45;
  CHECK(neighbour_intersection(m.x.data(), m.n, m.dim, m.batch.data(), m.label.data(), 3, o).kni == 1.0);
  o.tau = 50;
  CHECK(neighbour_intersection(m.x.data(), m.n, m.dim, m.batch.data(), m.label.data(), 3, o).kni == 0.0);
  // 59 cells within the radius, 54 from other batches: 91.5%.
  o.share = 0.9;
  CHECK(neighbour_intersection(m.x.data(), m.n, m.dim, m.batch.data(), m.label.data(), 3, o).rbni == 1.0);
  o.share = 0.92;
  CHECK(neighbour_intersection(m.x.data(), m.n, m.dim, m.batch.data(), m.label.data(), 3, o).rbni == 0.0);
  o.tau = 60;
  CHECK_THROWS_AS(neighbour_intersection(m.x.data(), m.n, m.dim, m.batch.data(), m.label.data(), 3, o),
                  std::invalid_argument);
}

TEST_CASE("scaling by quartiles centres on the median and divides by the IQR", "[intersection]") {
  // Column 0: 1..5 (median 3, IQR 2); column 1 constant (only centred).
  std::vector<float> x = {5, 7, 1, 7, 4, 7, 2, 7, 3, 7};
  concord::scale_by_quartiles(x.data(), 5, 2);
  const std::vector<float> expected = {1, 0, -1, 0, 0.5f, 0, -0.5f, 0, 0, 0};
  for (size_t i = 0; i < x.size(); ++i) CHECK(x[i] == Approx(expected[i]));
}
