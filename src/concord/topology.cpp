#include "topology.h"

#include <gudhi/Flag_complex_edge_collapser.h>
#include <gudhi/Persistent_cohomology.h>
#include <gudhi/Simplex_tree.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <tuple>

namespace concord {

std::vector<PersistencePair> rips_persistence(const float* x, int64_t n, int dim, int max_dim,
                                              double max_scale) {
  using Tree = Gudhi::Simplex_tree<Gudhi::Simplex_tree_options_fast_persistence>;
  using Cohomology = Gudhi::persistent_cohomology::Persistent_cohomology<Tree, Gudhi::persistent_cohomology::Field_Zp>;
  if (max_dim < 0) throw std::invalid_argument("max_dim must be >= 0");
  if (n > std::numeric_limits<int>::max() / 2) throw std::invalid_argument("too many points");
  const bool limited = max_scale > 0 && std::isfinite(max_scale);

  std::vector<std::tuple<int, int, double>> edges;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = i + 1; j < n; ++j) {
      double s = 0.0;
      for (int d = 0; d < dim; ++d) {
        const double v = static_cast<double>(x[i * dim + d]) - x[j * dim + d];
        s += v * v;
      }
      const double len = std::sqrt(s);
      if (!limited || len <= max_scale) edges.emplace_back(static_cast<int>(i), static_cast<int>(j), len);
    }
  }
  // Collapsing only helps when simplices of dimension 2 or more will be built.
  if (max_dim >= 1) edges = Gudhi::collapse::flag_complex_collapse_edges(edges);

  Tree tree;
  for (int64_t i = 0; i < n; ++i) tree.insert_simplex({static_cast<int>(i)}, 0.0);
  for (const auto& e : edges) tree.insert_simplex({std::get<0>(e), std::get<1>(e)}, std::get<2>(e));
  tree.expansion(max_dim + 1);

  Cohomology cohomology(tree);
  cohomology.init_coefficients(2);
  cohomology.compute_persistent_cohomology(0.0);
  std::vector<PersistencePair> out;
  for (const auto& p : cohomology.get_persistent_pairs()) {
    const auto birth = std::get<0>(p);
    const auto death = std::get<1>(p);
    const int d = tree.dimension(birth);
    if (d > max_dim) continue;
    const double b = tree.filtration(birth);
    const double e = death == tree.null_simplex() ? std::numeric_limits<double>::infinity() : tree.filtration(death);
    if (e > b) out.push_back({d, b, e});
  }
  return out;
}

}  // namespace concord
