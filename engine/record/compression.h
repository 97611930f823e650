// The compressed streams of a RecordBatch (everything after byte 61 when the
// codec bits are set), in the exact framings Kafka clients write:
//   gzip    a gzip stream (RFC 1952); concatenated members are accepted.
//   snappy  snappy-java's "xerial" framing: 8-byte magic 82 'SNAPPY' 00, int32
//           version 1, int32 min-compatible version 1, then blocks of
//           [int32 BE compressed length][raw snappy block] (32 KiB input each).
//           Decompress also accepts one raw snappy block when the magic is
//           absent: snappy-java's reader falls back to that, and some clients write it.
//   lz4     the LZ4 frame format (not Kafka's pre-0.10 broken-checksum variant);
//           we write independent 64 KiB blocks, which Kafka's own reader needs.
//   zstd    zstd frames, with or without a content size.
//
// Both functions append to `out` and never shrink what was there. Decompression
// stops with errc::message_too_large as soon as the output would pass
// `max_output_bytes`, so a small stream cannot expand without limit (zip bomb),
// and it never allocates much beyond what it has produced.
//
// Thread safety: any thread; decompression reuses per-thread codec contexts so
// the produce path does not allocate one per batch.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "base/result.h"
#include "engine/record/batch_header.h"

namespace ringlog::record {

// Appends the compressed form of `input` (at most 2^31-1 bytes, the largest a
// batch can hold) using each codec's Kafka default level (gzip 6, lz4 frame
// default, zstd 3). compression::none appends `input` as is.
status compress(compression codec, std::span<const std::byte> input, std::vector<std::byte>& out);

// Appends the decompressed form of `input`. Errors: corrupt_message (the codec
// rejects the stream, it ends early, or bytes follow it), message_too_large
// (more than max_output_bytes would come out).
status decompress(compression codec, std::span<const std::byte> input, std::vector<std::byte>& out,
                  size_t max_output_bytes);

}  // namespace ringlog::record
