// The error codes of engine/log: what can be wrong with a partition's files
// (segments, indexes, checkpoints) as found on disk. OS failures (open, mmap,
// fsync) stay in the system domain with their errno; these codes are for
// content that is wrong although every syscall succeeded.
//
// The folder's namespace is ringlog::storage, not ringlog::log: base/log.h
// already declares the function ringlog::log, and a namespace of the same name
// cannot coexist with it in one translation unit.
//
// To add a code: append it to the enum (values are never reused or renumbered,
// tests and logs name them) and give it a line in describe_code (errc.cc).
//
// Thread safety: constants and pure functions only.
#pragma once

#include <string>
#include <string_view>

#include "base/error.h"

namespace ringlog::storage {

enum class errc {
  // An .index or .timeindex file whose size is not a whole number of entries,
  // whose entries are not monotonic, or that changed behind our back while
  // closed. Recovery answers by rebuilding the index from the .log.
  corrupt_index = 1,
  // An index has no free slot left; the segment must roll.
  index_full,
  // A checkpoint file (recovery point, log start offset, leader epochs) that
  // does not parse: wrong version, count mismatch, malformed line.
  corrupt_checkpoint,
  // A file read whole at start-up is larger than its configured cap.
  file_too_large,
  // A read asked for an offset below the log start or past the end
  // (Kafka's OFFSET_OUT_OF_RANGE).
  offset_out_of_range,
  // The log stopped taking appends after an I/O error (Kafka's
  // KAFKA_STORAGE_ERROR); recovery at the next start repairs it.
  log_offline,
  // A .log file whose bytes are not the batches its index promises.
  corrupt_segment,
};

const error_domain& domain_of(errc) noexcept;
std::string_view describe(errc code) noexcept;

// An error of this domain; `op` must have static storage ("open_index").
ringlog::error make_error(errc code, std::string_view op, std::string detail);

}  // namespace ringlog::storage
