// Run statistics of ringlog-perf: per-shard counters and latency histograms
// (each guarded by its own mutex: the shard writes once per response, the
// reporting thread reads once a second), the once-a-second progress line on
// stderr and the final summary on stdout (text or JSON).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "bench/perf/histogram.h"

namespace ringlog::perf {

struct shard_stats {
  std::mutex mu;
  uint64_t records = 0;
  uint64_t bytes = 0;       // produce: record values; consume: whole batches
  uint64_t wire_bytes = 0;  // produce: batches as sent
  uint64_t requests = 0;
  uint64_t errors = 0;
  std::string first_error;     // the first error seen, for the summary
  latency_histogram total;     // the whole run
  latency_histogram interval;  // since the last progress line
  // Producers: each request's round trip, from its send to its response, so
  // a run can tell time spent in the broker from time spent waiting in the
  // client's batches and in-flight queue.
  latency_histogram request;

  // Under mu. Keeps the first message; counts every error.
  void add_error(std::string message);
};

struct run_totals {
  uint64_t records = 0;
  uint64_t bytes = 0;
  uint64_t wire_bytes = 0;
  uint64_t requests = 0;
  uint64_t errors = 0;
  std::string first_error;
  double seconds = 0;
  latency_histogram latency;
  latency_histogram request;  // producers only: send to response
};

// Prints a progress line every second until `done` is set; returns the
// totals once it is, with `seconds` measured from `start_ns`.
run_totals report_progress(std::vector<std::unique_ptr<shard_stats>>& stats,
                           const std::atomic<bool>& done, int64_t start_ns);

struct summary_field {
  std::string name;
  std::string json_value;  // already JSON: a number or a quoted string
};

// The final summary. `mode` is "produce" or "consume"; `extra` adds the run's
// settings (printed in JSON only) .
void print_summary(const char* mode, const run_totals& t, bool json,
                   const std::vector<summary_field>& extra);

std::string json_string(std::string_view s);

// {"count":N,"p50":ms,"p99":ms,"p99_9":ms,"max":ms}: the short latency
// summary of the request-latency fields.
std::string latency_summary_json(const latency_histogram& h);

// The latency distribution for a percentile plot ("nines" on the x axis): a
// JSON array of [percentile, ms] pairs at 0, 10, ..., 90, then 95, 99, 99.5,
// 99.9, ... down to 99.999, and 100 (the maximum). The summary's
// "latency_percentiles_ms" field.
std::string percentiles_json(const latency_histogram& h);

// SIGINT/SIGTERM end a run early but cleanly: producers stop adding records
// and drain, consumers stop after their current fetch, the summary prints.
// A second signal kills the process (the default action is restored).
void install_interrupt_handler();
bool interrupted() noexcept;

}  // namespace ringlog::perf
