// latency_histogram: a log-linear histogram of non-negative integer values
// (ringlog-perf records microseconds), in the spirit of HdrHistogram.
//
// Values below 256 have a bucket each; above, every power-of-two range
// [2^k, 2^(k+1)) is split into 128 equal buckets, so a bucket is at most
// 1/128 of its lower bound wide and the midpoint reported for it is within
// 0.4% of any value in it (better than two significant digits). The whole
// uint64 range fits in 7,424 buckets (58 KiB): no value is ever clamped.
// min, max, count and sum are exact.
//
// Thread safety: none; ringlog-perf keeps one per shard and merges them.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace ringlog::perf {

class latency_histogram {
 public:
  static constexpr unsigned k_sub_bits = 8;  // 256 exact buckets, then 128 per octave
  static constexpr size_t k_linear = size_t{1} << k_sub_bits;
  static constexpr size_t k_half = k_linear / 2;
  // Octaves 2^8 .. 2^63: shifts 1..56, 128 buckets each.
  static constexpr size_t k_buckets = k_linear + (64 - k_sub_bits) * k_half;

  void record(uint64_t value) noexcept { record_n(value, 1); }
  void record_n(uint64_t value, uint64_t n) noexcept;
  // Adds every value recorded in `other`.
  void merge(const latency_histogram& other) noexcept;
  void reset() noexcept;

  uint64_t count() const noexcept { return _count; }
  // 0 when empty.
  uint64_t min() const noexcept { return _count == 0 ? 0 : _min; }
  uint64_t max() const noexcept { return _max; }
  double mean() const noexcept {
    return _count == 0 ? 0.0 : static_cast<double>(_sum) / static_cast<double>(_count);
  }
  // The value at percentile p in [0, 100]: the smallest recorded value v such
  // that at least p% of the values are <= v, up to the bucket's precision
  // (the bucket midpoint, clamped to [min, max]; the top rank gives max
  // exactly). 0 when empty.
  uint64_t percentile(double p) const noexcept;

  // Bucket arithmetic, public for the tests.
  static size_t bucket_of(uint64_t value) noexcept;
  static uint64_t bucket_low(size_t bucket) noexcept;
  static uint64_t bucket_high(size_t bucket) noexcept;

 private:
  std::array<uint64_t, k_buckets> _counts{};
  uint64_t _count = 0;
  uint64_t _min = UINT64_MAX;
  uint64_t _max = 0;
  // Wraps only past 2^64 total microseconds (584,000 years of latency).
  uint64_t _sum = 0;
};

}  // namespace ringlog::perf
