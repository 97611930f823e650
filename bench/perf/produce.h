// `ringlog-perf produce`: the producer load (producer.h has the model), with
// progress every second and a summary at the end.
#pragma once

#include "bench/perf/options.h"

namespace ringlog::perf {

// Runs the whole command; returns the exit status (0 ok, 1 failed).
int run_produce(const perf_options& options);

}  // namespace ringlog::perf
