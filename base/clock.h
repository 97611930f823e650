// Clocks. Monotonic time drives timeouts and latency; wall time (milliseconds
// since the epoch) stamps records, as Kafka's timestamps are wall-clock ms.
//
// `clock` is the seam for deterministic simulation: code whose behaviour
// depends on time (raft elections, session timeouts) takes a clock& so a
// simulator can drive it; hot paths call the free functions directly.
#pragma once

#include <cstdint>
#include <ctime>

namespace ringlog {

inline int64_t monotonic_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

inline int64_t wall_ms() noexcept {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000 + ts.tv_nsec / 1'000'000;
}

class clock {
 public:
  virtual ~clock() = default;
  virtual int64_t monotonic_ns() const noexcept = 0;
  virtual int64_t wall_ms() const noexcept = 0;
};

// The real clocks of the machine.
class system_clock final : public clock {
 public:
  int64_t monotonic_ns() const noexcept override { return ringlog::monotonic_ns(); }
  int64_t wall_ms() const noexcept override { return ringlog::wall_ms(); }
};

// The machine's clocks, for code that takes a `const clock&`.
inline const clock& system_time() noexcept {
  static const system_clock time;
  return time;
}

// A clock tests and simulations move by hand.
class manual_clock final : public clock {
 public:
  explicit manual_clock(int64_t monotonic_ns = 0, int64_t wall_ms = 0) noexcept
      : _mono_ns(monotonic_ns), _wall_ms(wall_ms) {}
  int64_t monotonic_ns() const noexcept override { return _mono_ns; }
  int64_t wall_ms() const noexcept override { return _wall_ms; }
  void advance_ns(int64_t ns) noexcept {
    _mono_ns += ns;
    _wall_ms = _wall_ms + (_mono_ns / 1'000'000 - (_mono_ns - ns) / 1'000'000);
  }

 private:
  int64_t _mono_ns;
  int64_t _wall_ms;
};

}  // namespace ringlog
