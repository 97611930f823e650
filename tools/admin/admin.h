// ringlog-admin's commands: consumer-group administration over the Kafka
// protocol with ringlog-perf's client (bench/perf/kafka_connection.h), so it
// works against Ringlog and any Kafka cluster.
//
// Routing: group requests go to the group's coordinator (FindCoordinator; a
// second connection when it is not the bootstrap broker); Metadata, ListGroups
// and ListOffsets go to the bootstrap broker, which is right for a single
// broker (Ringlog today). A multi-broker Kafka cluster needs ListOffsets routed
// to each partition's leader and ListGroups sent to every broker: not done yet.
//
// Thread safety: run() starts its own one-shard runtime and returns after it
// has stopped; call it from one thread at a time.
#pragma once

#include <ostream>
#include <string_view>
#include <vector>

#include "tools/admin/options.h"

namespace ringlog::admin {

// Parses args, runs the command, prints to out (results) and err (errors);
// returns the exit status (k_exit_ok, k_exit_error, k_exit_usage).
int run(const std::vector<std::string_view>& args, std::ostream& out, std::ostream& err);

// Runs already-parsed options (no --help handling).
int run_command(const admin_options& o, std::ostream& out, std::ostream& err);

}  // namespace ringlog::admin
