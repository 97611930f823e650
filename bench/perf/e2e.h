// `ringlog-perf e2e`: end-to-end latency at a fixed rate (the OpenMessaging
// Benchmark workload): producers (producer.h) stamp each value with its
// enqueue time, consumers (consumer.h) in the same process measure receipt
// minus that stamp; the warm-up is consumed but not measured. Both sides
// share the shards: producer connection i and consumer j run on shards
// i % shards and j % shards.
#pragma once

#include "bench/perf/options.h"

namespace ringlog::perf {

int run_e2e(const perf_options& options);

}  // namespace ringlog::perf
