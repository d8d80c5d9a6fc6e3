#include "ziggurat.h"

namespace concord {

namespace {

double density(double x) { return std::exp(-0.5 * x * x); }

// The common area of the layers when the base strip ends at r: the rectangle under
// f(r) up to r plus the tail beyond r.
double layer_area(double r) {
  return r * density(r) + std::sqrt(M_PI / 2) * std::erfc(r / std::sqrt(2.0));
}

// Stacks layers of equal area upwards from the base strip ending at r. Returns how far
// the stack falls short of the peak f(0) = 1 (negative: it reached the peak early, so r
// is too small); fills `t` on the way.
double stack(double r, ZigguratNormal::Tables& t) {
  constexpr int n = ZigguratNormal::kLayers;
  const double v = layer_area(r);
  t.x[0] = v / density(r);
  t.x[1] = r;
  for (int i = 1; i < n - 1; ++i) {
    const double next = density(t.x[i]) + v / t.x[i];
    if (next >= 1) return -1;
    t.x[i + 1] = std::sqrt(-2 * std::log(next));
  }
  return 1 - (density(t.x[n - 1]) + v / t.x[n - 1]);
}

// r is found by bisection rather than copied from the literature, so the tables are
// consistent to double precision by construction.
ZigguratNormal::Tables build() {
  ZigguratNormal::Tables t;
  double lo = 2, hi = 5;
  for (int it = 0; it < 100; ++it) {
    const double mid = 0.5 * (lo + hi);
    (stack(mid, t) < 0 ? lo : hi) = mid;
  }
  stack(hi, t);  // the last layer then ends at (or a rounding error below) the peak
  t.x[ZigguratNormal::kLayers] = 0;
  for (int i = 0; i <= ZigguratNormal::kLayers; ++i) t.f[i] = density(t.x[i]);
  return t;
}

}  // namespace

ZigguratNormal::ZigguratNormal() {
  static const Tables tables = build();
  t_ = &tables;
}

// Beyond r, by Marsaglia's exponential rejection (1964): r + a with a ~ Exp(r) kept with
// probability exp(-a^2 / 2).
double ZigguratNormal::tail(Rng& rng, bool negative) const {
  const double r = t_->x[1];
  double a, b;
  do {
    a = -std::log(1.0 - rng.uniform()) / r;
    b = -std::log(1.0 - rng.uniform());
  } while (b + b < a * a);
  return negative ? -(r + a) : r + a;
}

}  // namespace concord
