// libFuzzer entry for engine/record: arbitrary bytes through the batch parser,
// the record iterator and every decompressor. Build with clang, e.g.
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I. FILES
// where FILES are this file and engine/record/*.cc, linked with ringlog_base
// and zlib, snappy, lz4 and zstd.
//
// Random bytes almost never carry a valid CRC-32C, so the first input byte
// picks a mode, and two modes patch the CRC (and batchLength) before parsing so
// that the fuzzer reaches the record decoder and the codecs:
//   0  the rest is a stream of batches, walked as is (framing, CRC, headers)
//   1  the rest is one batch with its batchLength and CRC made consistent
//   2  the rest is one batch, CRC fixed, with the compression bits forced to
//      the codec chosen by the second byte, so every codec sees fuzzed streams
//   3  the rest goes straight to decompress() with codec (second byte % 5)
// Anything else is treated as mode 0. The decompression cap is kept small so a
// fuzzed zip bomb fails fast instead of exhausting the fuzzer's memory limit.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "base/bytes.h"
#include "base/crc32c.h"
#include "engine/record/batch_header.h"
#include "engine/record/compression.h"
#include "engine/record/control_record.h"
#include "engine/record/record.h"
#include "engine/record/record_batch.h"

namespace {

using namespace ringlog;
using namespace ringlog::record;

constexpr size_t k_fuzz_decompressed_cap = size_t{4} << 20;

// Consumes every field the decoders expose, so the optimiser keeps the reads.
size_t g_sink = 0;

void walk_records(const record_batch_view& batch, const validate_options& options,
                  std::vector<std::byte>& scratch) {
  auto it = record_iterator::open(batch, scratch, options);
  if (!it) return;
  for (int guard = 0; guard <= batch.records_count(); ++guard) {
    auto rec = it->next();
    if (!rec || !*rec) return;
    const record_view& r = **rec;
    g_sink +=
        static_cast<size_t>(r.offset()) + static_cast<size_t>(r.timestamp()) + r.bytes().size();
    if (r.key()) g_sink += r.key()->size();
    if (r.value()) g_sink += r.value()->size();
    for (const record_header& h : r.headers())
      g_sink += h.key.size() + (h.value ? h.value->size() : 0);
    if (batch.is_control()) {
      if (auto key = parse_control_key(r.key())) g_sink += static_cast<size_t>(key->type);
      if (auto marker = parse_end_txn_marker(r.value()))
        g_sink += static_cast<size_t>(marker->coordinator_epoch);
    }
  }
}

void check_one(std::span<const std::byte> bytes, std::vector<std::byte>& scratch) {
  for (bool gaps : {false, true}) {
    const validate_options options{.max_batch_bytes = k_no_size_limit,
                                   .allow_offset_gaps = gaps,
                                   .max_decompressed_bytes = k_fuzz_decompressed_cap};
    auto batch = record_batch_view::parse(bytes, options);
    if (!batch) continue;
    // Unsigned sums: the fields are arbitrary and may overflow int64.
    for (int64_t field :
         {batch->base_offset(), batch->last_offset(), batch->max_timestamp(), batch->producer_id(),
          int64_t{batch->producer_epoch()}, int64_t{batch->base_sequence()}}) {
      g_sink += static_cast<size_t>(field);
    }
    walk_records(*batch, options, scratch);
  }
}

// Makes batchLength cover the whole buffer and the CRC match, as a valid
// producer would have written them.
void make_consistent(std::vector<std::byte>& batch) {
  if (batch.size() < k_batch_header_bytes) return;
  store_be32(batch.data() + k_batch_length_pos,
             static_cast<uint32_t>(batch.size() - k_log_overhead));
  batch[k_magic_pos] = static_cast<std::byte>(k_magic_v2);
  store_be32(batch.data() + k_crc_pos,
             crc32c(std::span<const std::byte>(batch).subspan(k_crc_range_pos)));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto* bytes = reinterpret_cast<const std::byte*>(data);
  const uint8_t mode = data[0];
  std::span<const std::byte> rest(bytes + 1, size - 1);
  std::vector<std::byte> scratch;

  switch (mode) {
    case 1: {
      std::vector<std::byte> batch(rest.begin(), rest.end());
      make_consistent(batch);
      check_one(batch, scratch);
      if (batch.size() >= k_batch_header_bytes) {
        // The append-path stamps must keep a parsed batch parseable.
        if (record_batch_view::parse(batch, {.allow_offset_gaps = true})) {
          set_base_offset(batch, 12345);
          set_partition_leader_epoch(batch, 7);
          set_max_timestamp_and_type(batch, 99, timestamp_type::log_append_time);
          if (!record_batch_view::parse(batch, {.allow_offset_gaps = true})) __builtin_trap();
        }
      }
      break;
    }
    case 2: {
      if (rest.empty()) break;
      const auto codec = static_cast<uint16_t>(static_cast<uint8_t>(rest[0]) % (k_max_codec + 1));
      std::vector<std::byte> batch(rest.begin() + 1, rest.end());
      if (batch.size() >= k_batch_header_bytes) {
        uint16_t attributes = load_be16(batch.data() + k_attributes_pos);
        attributes = static_cast<uint16_t>(
            (attributes & ~k_attr_compression_mask & ~k_attr_unused_mask) | codec);
        store_be16(batch.data() + k_attributes_pos, attributes);
      }
      make_consistent(batch);
      check_one(batch, scratch);
      break;
    }
    case 3: {
      if (rest.empty()) break;
      const auto codec =
          static_cast<compression>(static_cast<uint8_t>(rest[0]) % (k_max_codec + 1));
      std::vector<std::byte> out;
      if (decompress(codec, rest.subspan(1), out, k_fuzz_decompressed_cap)) {
        if (out.size() > k_fuzz_decompressed_cap) __builtin_trap();
        g_sink += out.size();
      }
      break;
    }
    default: {
      batch_iterator it(
          rest, {.allow_offset_gaps = true, .max_decompressed_bytes = k_fuzz_decompressed_cap});
      for (;;) {
        auto batch = it.next();
        if (!batch || !*batch) break;
        walk_records(**batch,
                     {.allow_offset_gaps = true, .max_decompressed_bytes = k_fuzz_decompressed_cap},
                     scratch);
      }
      if (auto n = record_batch_view::peek_size(rest)) g_sink += *n;
      break;
    }
  }
  return 0;
}
