// The options of one ringlog-dump run and its exit statuses, shared by the
// command line (dump.h), the log walk (segment_walk.h) and the index checks
// (index_check.h).
//
// Thread safety: a value type.
#pragma once

#include <cstddef>

#include "tools/dump/render.h"

namespace ringlog::dump {

// Exit statuses: every file clean; a problem found in some file; bad usage or
// a file that could not be read at all (2 wins over 1).
inline constexpr int k_exit_clean = 0;
inline constexpr int k_exit_problems = 1;
inline constexpr int k_exit_usage = 2;

struct dump_options {
  // --records / --print-data-log: a line per record (implied by --print-values).
  bool records = false;
  // --print-values: keys, values and headers on the record lines.
  bool print_values = false;
  value_encoding encoding = value_encoding::utf8;
  // --max-bytes: each printed key/value/header is cut to this; 0 = no cut.
  size_t max_bytes = 256;
  // --deep: decode and check every record of every batch (decompressing),
  // without printing them unless --records is given too.
  bool deep = false;
  // --verify-index: check indexes against their log instead of dumping.
  bool verify_index = false;
  bool json = false;

  // Knobs without a flag, for tests. read_chunk_bytes: read-ahead of the log
  // walk. batch_bytes_max: the largest batch read whole; a larger one has its
  // CRC computed piecewise and its records skipped (with a note), so memory
  // stays bounded whatever a length field claims. 64 MiB is 64x Kafka's
  // default message.max.bytes and the engine's decompression cap.
  size_t read_chunk_bytes = size_t{1} << 20;
  size_t batch_bytes_max = size_t{64} << 20;
};

}  // namespace ringlog::dump
