// `ringlog-perf consume`: fetch throughput. The topic's partitions are split
// over the connections (partition p on connection p % connections), each
// connection fetches all of its partitions in one Fetch at a time and walks
// the returned batches by their headers only: recordsCount and batchLength
// (with --verify, record_batch_view::parse checks each header and CRC-32C).
// Bytes are whole batches as stored; latency is each Fetch's round trip.
#pragma once

#include "bench/perf/options.h"

namespace ringlog::perf {

int run_consume(const perf_options& options);

}  // namespace ringlog::perf
