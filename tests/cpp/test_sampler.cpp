#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>

#include "sampler.h"

using concord::Rng;
using concord::Sampler;
using concord::SamplerOptions;

namespace {

// Domains of the given sizes, cells laid out domain after domain.
std::vector<int> layout(const std::vector<int>& sizes) {
  std::vector<int> d;
  for (size_t k = 0; k < sizes.size(); ++k) d.insert(d.end(), sizes[k], static_cast<int>(k));
  return d;
}

std::map<int, int> domain_counts(const std::vector<int>& batch, const std::vector<int>& domains) {
  std::map<int, int> c;
  for (int cell : batch) ++c[domains[cell]];
  return c;
}

int anchor_of(const std::map<int, int>& counts) {
  return std::max_element(counts.begin(), counts.end(),
                          [](auto& a, auto& b) { return a.second < b.second; })->first;
}

}  // namespace

TEST_CASE("domain-pure batches cover each domain without replacement", "[sampler]") {
  const auto domains = layout({1000, 600, 300});
  SamplerOptions o;
  o.batch_size = 100;
  Sampler s(domains, o);
  Rng rng(1);
  const auto batches = s.epoch(rng);
  REQUIRE(batches.size() == 10 + 6 + 3);
  std::set<int> seen;
  std::map<int, int> per_domain;
  for (const auto& b : batches) {
    REQUIRE(b.size() == 100);
    const auto counts = domain_counts(b, domains);
    REQUIRE(counts.size() == 1);  // pure
    ++per_domain[counts.begin()->first];
    for (int cell : b) REQUIRE(seen.insert(cell).second);  // no cell twice in an epoch
  }
  CHECK(per_domain[0] == 10);
  CHECK(per_domain[1] == 6);
  CHECK(per_domain[2] == 3);
}

TEST_CASE("p_intra_domain sets the in-domain share of every batch", "[sampler]") {
  const auto domains = layout({2000, 2000, 2000});
  SamplerOptions o;
  o.batch_size = 200;
  o.p_intra_domain = 0.7;
  Sampler s(domains, o);
  Rng rng(2);
  for (const auto& b : s.epoch(rng)) {
    const auto counts = domain_counts(b, domains);
    const int anchor = anchor_of(counts);
    // 140 drawn from the anchor domain; the 60 others are unique draws from 4000 cells,
    // so at most a few duplicates are removed.
    CHECK(counts.at(anchor) == 140);
    CHECK(static_cast<int>(b.size()) - 140 >= 50);
    CHECK(static_cast<int>(b.size()) - 140 <= 60);
  }
}

TEST_CASE("the kNN share of a batch comes from one core cell's neighbourhood", "[sampler]") {
  const auto domains = layout({1000, 1000});
  const int k = 100;
  // Neighbourhoods are disjoint blocks of k consecutive cells (each inside one domain).
  concord::NeighbourFn blocks = [](const std::vector<int>& cores, int kk, std::vector<int64_t>& out) {
    out.clear();
    for (int c : cores) {
      for (int j = 0; j < kk; ++j) out.push_back((c / kk) * kk + j);
    }
  };
  SamplerOptions o;
  o.batch_size = 100;
  o.p_intra_knn = 0.5;
  Sampler s(domains, o);
  Rng rng(3);
  const auto batches = s.epoch(rng, blocks, k);
  REQUIRE(batches.size() == 20);
  for (const auto& b : batches) {
    std::map<int, int> per_block;
    for (int cell : b) ++per_block[cell / k];
    int largest = 0;
    for (auto& [block, n] : per_block) largest = std::max(largest, n);
    // 50 from the core's block plus a few of the 50 random in-domain draws.
    CHECK(largest >= 50);
    CHECK(largest <= 75);
    CHECK(domain_counts(b, domains).size() == 1);
  }

  // Without a neighbourhood the same settings draw every cell at random.
  Rng rng2(3);
  for (const auto& b : s.epoch(rng2)) {
    std::map<int, int> per_block;
    for (int cell : b) ++per_block[cell / k];
    int largest = 0;
    for (auto& [block, n] : per_block) largest = std::max(largest, n);
    CHECK(largest < 30);
  }
}

TEST_CASE("kNN neighbours outside the domain follow p_intra_domain", "[sampler]") {
  const auto domains = layout({500, 500});
  // Every core's neighbourhood is half its own domain, half the other.
  concord::NeighbourFn mixed = [&](const std::vector<int>& cores, int kk, std::vector<int64_t>& out) {
    out.clear();
    for (int c : cores) {
      for (int j = 0; j < kk; ++j) out.push_back(j % 2 == 0 ? (c + j) % 500 : 500 + (c + j) % 500);
    }
  };
  SamplerOptions o;
  o.batch_size = 100;
  o.p_intra_knn = 1.0;
  o.p_intra_domain = 0.8;
  Sampler s(domains, o);
  Rng rng(4);
  for (const auto& b : s.epoch(rng, mixed, 200)) {
    const auto counts = domain_counts(b, domains);
    REQUIRE(counts.size() == 2);
    const int anchor = anchor_of(counts);
    CHECK(counts.at(anchor) == 80);
    CHECK(counts.at(1 - anchor) == 20);
  }
}

TEST_CASE("min_batches_per_epoch scales every domain's batch count", "[sampler]") {
  SamplerOptions o;
  o.batch_size = 256;
  o.min_batches_per_epoch = 20;
  Sampler s(layout({390, 400, 300, 466}), o);
  const auto counts = s.batches_per_domain();
  REQUIRE(counts == std::vector<int>{5, 5, 5, 5});
  Rng rng(5);
  CHECK(s.epoch(rng).size() == 20);
}

TEST_CASE("small domains give one batch of all their cells, tiny ones are dropped", "[sampler]") {
  SamplerOptions o;
  o.batch_size = 256;
  Sampler s(layout({100, 3}), o);
  Rng rng(6);
  const auto batches = s.epoch(rng);
  REQUIRE(batches.size() == 1);
  CHECK(batches[0].size() == 100);
}

TEST_CASE("the same seed gives the same batches", "[sampler]") {
  const auto domains = layout({700, 500});
  SamplerOptions o;
  o.batch_size = 64;
  o.p_intra_domain = 0.9;
  Sampler a(domains, o), b(domains, o);
  Rng ra(42), rb(42), rc(43);
  const auto ea = a.epoch(ra);
  CHECK(ea == b.epoch(rb));
  Sampler c(domains, o);
  CHECK(ea != c.epoch(rc));
}

TEST_CASE("every epoch draws from a fresh permutation of each domain", "[sampler]") {
  // One batch of 100 from a domain of 150 per epoch. A stream carried across epochs
  // would put the 50 cells left over from epoch 1 into epoch 2; a fresh permutation
  // takes each cell with probability 2/3, independently of epoch 1.
  SamplerOptions o;
  o.batch_size = 100;
  Sampler s(layout({150}), o);
  Rng rng(7);
  int leftovers_taken = 0, leftovers = 0;
  for (int trial = 0; trial < 20; ++trial) {
    const auto first = s.epoch(rng);
    const auto second = s.epoch(rng);
    REQUIRE(first.size() == 1);
    REQUIRE(second.size() == 1);
    std::set<int> in_first(first[0].begin(), first[0].end());
    std::set<int> in_second(second[0].begin(), second[0].end());
    REQUIRE(in_second.size() == 100);  // still without replacement within an epoch
    for (int cell = 0; cell < 150; ++cell) {
      if (in_first.count(cell)) continue;
      ++leftovers;
      leftovers_taken += static_cast<int>(in_second.count(cell));
    }
  }
  REQUIRE(leftovers == 20 * 50);
  CHECK(leftovers_taken / static_cast<double>(leftovers) == Approx(2.0 / 3.0).margin(0.06));
}
