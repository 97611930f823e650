// See histogram.h for the bucket layout.
#include "bench/perf/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "base/assert.h"

namespace ringlog::perf {

size_t latency_histogram::bucket_of(uint64_t value) noexcept {
  if (value < k_linear) return static_cast<size_t>(value);
  const unsigned msb = 63u - static_cast<unsigned>(std::countl_zero(value));
  const unsigned shift = msb - (k_sub_bits - 1);  // value >> shift lands in [128, 256)
  const uint64_t mantissa = value >> shift;
  return k_linear + (shift - 1) * k_half + static_cast<size_t>(mantissa - k_half);
}

uint64_t latency_histogram::bucket_low(size_t bucket) noexcept {
  RINGLOG_ASSERT(bucket < k_buckets, "bucket {} out of range", bucket);
  if (bucket < k_linear) return bucket;
  const size_t rest = bucket - k_linear;
  const unsigned shift = static_cast<unsigned>(rest / k_half) + 1;
  const uint64_t mantissa = k_half + rest % k_half;
  return mantissa << shift;
}

uint64_t latency_histogram::bucket_high(size_t bucket) noexcept {
  if (bucket < k_linear) return bucket;
  const unsigned shift = static_cast<unsigned>((bucket - k_linear) / k_half) + 1;
  return bucket_low(bucket) + ((uint64_t{1} << shift) - 1);
}

void latency_histogram::record_n(uint64_t value, uint64_t n) noexcept {
  if (n == 0) return;
  _counts[bucket_of(value)] += n;
  _count += n;
  _sum += value * n;
  _min = std::min(_min, value);
  _max = std::max(_max, value);
}

void latency_histogram::merge(const latency_histogram& other) noexcept {
  if (other._count == 0) return;
  for (size_t i = 0; i < k_buckets; ++i) _counts[i] += other._counts[i];
  _count += other._count;
  _sum += other._sum;
  _min = std::min(_min, other._min);
  _max = std::max(_max, other._max);
}

void latency_histogram::reset() noexcept { *this = latency_histogram(); }

uint64_t latency_histogram::percentile(double p) const noexcept {
  if (_count == 0) return 0;
  p = std::clamp(p, 0.0, 100.0);
  // The rank of the wanted value, 1-based: ceil(p% of count), at least 1.
  uint64_t rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(_count)));
  rank = std::clamp<uint64_t>(rank, 1, _count);
  if (rank == _count) return _max;  // the top rank is the maximum, known exactly
  uint64_t seen = 0;
  for (size_t i = 0; i < k_buckets; ++i) {
    seen += _counts[i];
    if (seen >= rank) {
      const uint64_t low = bucket_low(i);
      const uint64_t mid = low + (bucket_high(i) - low) / 2;
      return std::clamp(mid, _min, _max);
    }
  }
  RINGLOG_ASSERT(false, "histogram counts sum to less than count {}", _count);
  return _max;
}

}  // namespace ringlog::perf
