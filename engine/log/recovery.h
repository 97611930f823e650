// The segment scans shared by recovery (partition_log::open) and truncation.
#pragma once

#include <cstdint>

#include "base/result.h"
#include "engine/log/partition_log.h"
#include "engine/log/segment.h"
#include "engine/runtime/task.h"

namespace ringlog::storage {

// Reads `seg` from position 0 up to file_size, validating every batch (CRC,
// offsets increasing from next_offset) and rebuilding its indexes; returns
// the position after the last valid batch and leaves next_offset after its
// last offset.
task<result<uint64_t>> scan_segment(segment& seg, uint64_t file_size, int64_t& next_offset,
                                    recovery_report& report);

// Walks batch headers (no CRC) from the last offset-index entry to the end of
// a segment known to be whole; returns the offset after its last batch.
task<result<int64_t>> segment_end_offset(segment& seg);

}  // namespace ringlog::storage
