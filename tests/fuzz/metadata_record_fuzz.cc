// libFuzzer target for the cluster metadata log's records
// (controller/metadata_records.h, docs/formats/metadata_log.md): arbitrary
// bytes as the value of one __cluster_metadata record, or as a sequence of
// them replayed into a metadata image as controller start-up does
// (controller.cc start_on_shard: metadata_log::replay -> decode ->
// metadata_delta::replay). Decoding and replay must never crash, assert or
// read past the input, whatever the log holds.
//
// Where a record decodes, it must survive a round trip: decode(encode(r)) == r
// and encode of that equals encode(r). The first encoding may differ from the
// input (unknown tags dropped, non-canonical bools, v0 RegisterBrokerRecord
// written as v1), the second may not. A replayed image must keep the
// invariants metadata_image.h promises; any violation is a __builtin_trap.
//
// The first input byte picks a mode:
//   0  the rest is one framed record (uvarint frame | type | version | body)
//   1  the rest is a sequence of records, each as uvarint length + value; each
//      is round-tripped and the decoded ones are replayed, in order, at
//      increasing offsets, into a metadata_delta on the empty image, with the
//      image built (published) every few records
//   2  as 1, and the decoded records are also written as one batch by
//      batch_builder (as metadata_log::append does) and read back the way
//      metadata_log::replay reads a log; they must come back equal
// Anything else is mode 0.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <variant>
#include <vector>

#include "base/bytes.h"
#include "controller/metadata_image.h"
#include "controller/metadata_records.h"
#include "engine/record/batch_builder.h"
#include "engine/record/record.h"
#include "engine/record/record_batch.h"

namespace {

using namespace ringlog;
using namespace ringlog::controller;

// Decodes `value`; when it decodes, checks the round trip and returns it.
std::optional<metadata_record> check_one(std::span<const std::byte> value) {
  auto decoded = decode(value);
  if (!decoded) {
    // A failure always says what failed.
    if (decoded.error().detail().empty()) __builtin_trap();
    return std::nullopt;
  }
  const std::vector<std::byte> once = encode(*decoded);
  auto again = decode(once);
  if (!again) __builtin_trap();
  if (!(*again == *decoded)) __builtin_trap();
  if (type_of(*again) != type_of(*decoded)) __builtin_trap();
  if (encode(*again) != once) __builtin_trap();
  (void)name_of(type_of(*decoded));
  return std::move(*decoded);
}

// metadata_image.h's invariants, on a built image.
void check_image(const metadata_image& image, int64_t last_offset) {
  if (image.offset() > last_offset) __builtin_trap();
  size_t partitions = 0;
  for (const auto& [name, t] : image.topics()) {
    if (t == nullptr || t->name != name || t->id.is_zero()) __builtin_trap();
    if (image.find_topic(t->id) != t.get()) __builtin_trap();
    if (image.find_topic(std::string_view(name)) != t.get()) __builtin_trap();
    if (image.topic_ptr(name).get() != t.get()) __builtin_trap();
    for (size_t i = 0; i < t->partitions.size(); ++i) {
      if (t->partitions[i].id != static_cast<int32_t>(i)) __builtin_trap();
    }
    partitions += t->partitions.size();
  }
  if (partitions != image.partition_count()) __builtin_trap();
  for (const auto& [id, b] : image.brokers()) {
    if (b.id != id || id < 0 || image.find_broker(id) != &b) __builtin_trap();
  }
  for (const auto& [name, level] : image.features()) {
    if (level == 0) __builtin_trap();
  }
  (void)image.metadata_version();
}

// Splits `rest` into uvarint-length-prefixed values (the fuzzer's framing,
// not a product format).
std::vector<std::span<const std::byte>> split(std::span<const std::byte> rest) {
  std::vector<std::span<const std::byte>> out;
  byte_reader r(rest);
  while (r.ok() && r.remaining() > 0) {
    const uint32_t n = r.read_uvarint();
    if (!r.ok()) break;
    const size_t take = n < r.remaining() ? n : r.remaining();
    out.push_back(r.read_bytes(take));
  }
  return out;
}

void replay_all(const std::vector<metadata_record>& records) {
  std::shared_ptr<const metadata_image> image = metadata_image::empty();
  auto delta = std::make_unique<metadata_delta>(*image);
  int64_t offset = 0;
  int64_t next_producer_id = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    const metadata_record& r = records[i];
    status st = delta->replay(r, offset);
    if (!st) {
      if (st.error().message().empty()) __builtin_trap();
    } else {
      if (delta->current().offset() != offset) __builtin_trap();
    }
    // next_producer_id never decreases.
    if (delta->current().next_producer_id() < next_producer_id) __builtin_trap();
    next_producer_id = delta->current().next_producer_id();
    if (const auto* rm = std::get_if<remove_topic_record>(&r); rm != nullptr && st) {
      if (delta->current().find_topic(rm->id) != nullptr) __builtin_trap();
    }
    // An offset gap now and then: the log may have gaps (never going back).
    offset += 1 + static_cast<int64_t>(i % 3 == 2);
    // Publish every few records, then continue on a delta of the new image
    // (a controller commit), or keep replaying on the same delta after build.
    if (i % 4 == 3) {
      image = delta->build();
      check_image(*image, offset);
      if (i % 8 == 7) delta = std::make_unique<metadata_delta>(*image);
    }
  }
  auto last = delta->build();
  check_image(*last, offset);
  // Images published earlier must be untouched by later replays.
  check_image(*image, offset);
}

// The records as metadata_log::append writes them, read back the way
// metadata_log::replay does.
void through_the_log(const std::vector<metadata_record>& records) {
  if (records.empty()) return;
  record::batch_builder builder({});
  std::vector<std::vector<std::byte>> values;
  values.reserve(records.size());
  for (const metadata_record& r : records) {
    values.push_back(encode(r));
    builder.add({.value = std::span<const std::byte>(values.back()), .timestamp_ms = 1});
  }
  auto batch = builder.build();
  if (!batch) return;  // too large: append refuses it too
  record::batch_iterator batches(*batch);
  std::vector<std::byte> scratch;
  size_t seen = 0;
  for (;;) {
    auto b = batches.next();
    if (!b) __builtin_trap();
    if (!*b) break;
    auto it = record::record_iterator::open(**b, scratch);
    if (!it) __builtin_trap();
    for (;;) {
      auto rec = it->next();
      if (!rec) __builtin_trap();
      if (!*rec) break;
      if ((*rec)->key().has_value() || !(*rec)->value().has_value()) __builtin_trap();
      auto decoded = decode(*(*rec)->value());
      if (!decoded || seen >= records.size() || !(*decoded == records[seen])) __builtin_trap();
      ++seen;
    }
  }
  if (seen != records.size()) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const auto* bytes = reinterpret_cast<const std::byte*>(data);
  const uint8_t mode = data[0];
  // A copy, so that ASan sees reads past the exact end of the value.
  const std::vector<std::byte> rest(bytes + 1, bytes + size);

  if (mode != 1 && mode != 2) {
    (void)check_one(rest);
    return 0;
  }
  std::vector<metadata_record> decoded;
  for (std::span<const std::byte> piece : split(rest)) {
    const std::vector<std::byte> value(piece.begin(), piece.end());
    if (auto r = check_one(value)) decoded.push_back(std::move(*r));
  }
  replay_all(decoded);
  if (mode == 2) through_the_log(decoded);
  return 0;
}
