// Stopping long engine work when the front end asks (Ctrl-C in R). The engine polls a
// callback between units of work and unwinds with Interrupted, so that every RAII guard
// (thread settings, buffers) runs on the way out.
#pragma once

#include <functional>
#include <stdexcept>

namespace concord {

// Returns true when the caller wants the work stopped; empty means never.
using InterruptFn = std::function<bool()>;

class Interrupted : public std::runtime_error {
 public:
  Interrupted() : std::runtime_error("interrupted") {}
};

inline void poll(const InterruptFn& interrupted) {
  if (interrupted && interrupted()) throw Interrupted();
}

}  // namespace concord
