// The engine's augmentation pipeline from the list R's .ssl_augment() returns
// (R/ssl-augment.R): one list per step with kind, p, strength, share and k.
#pragma once

#include <Rcpp.h>

#include <string>
#include <vector>

#include "concord/augment_pipeline.h"

inline concord::AugmentPipeline augment_pipeline_from(const Rcpp::List& steps) {
  std::vector<concord::AugmentStep> out;
  for (R_xlen_t i = 0; i < steps.size(); ++i) {
    const Rcpp::List s = steps[i];
    concord::AugmentStep step;
    step.kind = Rcpp::as<std::string>(s["kind"]);
    step.p = Rcpp::as<double>(s["p"]);
    step.strength = Rcpp::as<double>(s["strength"]);
    step.share = Rcpp::as<double>(s["share"]);
    step.k = Rcpp::as<int>(s["k"]);
    out.push_back(step);
  }
  return concord::AugmentPipeline(out);
}
