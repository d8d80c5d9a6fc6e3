// The boundary between R and the engine, for every glue entry point: engine work runs
// inside engine_call(), which leaves R's OpenMP and BLAS thread counts as it found them
// and turns whatever the engine throws into a clean R condition: an interrupt for
// Ctrl-C, an error without C++ frames or LibTorch source locations otherwise.
#pragma once

#include <Rcpp.h>

#include <new>
#include <regex>
#include <string>

#include "concord/interrupt.h"
#include "concord/threads.h"

namespace glue {

inline void check_interrupt(void*) { R_CheckUserInterrupt(); }

// R_CheckUserInterrupt() would longjmp over C++ frames; run it at top level instead and
// report whether an interrupt is pending. Call it from R's thread only.
inline bool interrupt_pending() { return R_ToplevelExec(check_interrupt, nullptr) == FALSE; }

// An engine message as a user may read it: LibTorch appends the C++ backtrace
// ("Exception raised from ... frame #0 ...") and prefixes source locations.
inline std::string user_message(const std::string& what) {
  std::string m = what.substr(0, what.find("Exception raised from"));
  m = m.substr(0, m.find("\nframe #"));
  m = std::regex_replace(m, std::regex("\\[enforce fail at [^\\]]*\\]\\s*\\.?\\s*"), "");
  m = std::regex_replace(m, std::regex("\\s+$"), "");
  if (m.find("can't allocate memory") != std::string::npos) {
    return "the engine ran out of memory (" + m +
           "). Use fewer cells or features, a smaller model (latent.dim, encoder.dims, "
           "decoder.dims) or a smaller batch.size.";
  }
  return m.empty() ? "the engine failed without a message" : m;
}

[[noreturn]] inline void stop(const std::string& message) {
  throw Rcpp::exception(message.c_str(), /*include_call=*/false);
}

template <class F>
auto engine_call(F&& f) -> decltype(f()) {
  concord::ThreadGuard restore;
  try {
    return f();
  } catch (const concord::Interrupted&) {
    throw Rcpp::internal::InterruptedException();
  } catch (const Rcpp::exception&) {
    throw;
  } catch (const std::bad_alloc&) {
    stop("the engine ran out of memory. Use fewer cells or features, a smaller model "
         "(latent.dim, encoder.dims, decoder.dims) or a smaller batch.size.");
  } catch (const std::exception& e) {
    stop(user_message(e.what()));
  }
}

}  // namespace glue
