// segment_writer: writes one partition through the engine's own write path
// (partition_log::append, group commit, roll, clean close) with a fixed,
// deterministic set of batches, and describes every batch and record it wrote
// in expected.json. kafka_python_parity.py then reads the segments with
// kafka-python's record parser, an implementation we did not write, and
// compares both field by field: the proof that our .log files are Kafka's.
//
//   segment_writer DIR   writes DIR/parity-0/ (removed first) and DIR/expected.json
//
// The batches cover every codec (none, gzip, snappy, lz4, zstd), null keys,
// tombstones (null values), empty keys and values, headers (a null header
// value, an empty key, a repeated key, a UTF-8 key), 1 and 500 records, values
// large enough for several snappy/lz4 blocks and for a batch bigger than a
// segment, idempotent and transactional batches with producer id, epoch and
// sequence, and commit and abort markers from build_control_batch. Timestamps
// are CreateTime, fixed, and not monotonic inside a batch (maxTimestamp is not
// the last record's). Small segments and a small index interval give several
// segments, each with several index entries.
//
// expected.json is written from the record descriptions below, not from the
// bytes the builder produced: firstTimestamp, maxTimestamp, the control
// records' key and value are computed here independently. Offsets come from
// the log (append's answer), and are checked to be consecutive.
//
// Single-threaded: one runtime shard does all the log work; main waits.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iterator>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/assert.h"
#include "base/log.h"
#include "engine/log/flusher.h"
#include "engine/log/partition_log.h"
#include "engine/record/batch_builder.h"
#include "engine/record/control_record.h"
#include "engine/runtime/shard.h"
#include "engine/runtime/spawn.h"

namespace ringlog::parity {
namespace {

namespace fs = std::filesystem;
using record::compression;

// 2023-11-14T22:13:20Z: fixed, so two runs write identical files.
constexpr int64_t k_base_timestamp_ms = 1'700'000'000'000;
constexpr const char* k_partition_dir = "parity-0";

struct header_spec {
  std::string key{};
  std::optional<std::string> value{};
};

struct record_spec {
  std::optional<std::string> key{};
  std::optional<std::string> value{};
  std::vector<header_spec> headers{};
  int64_t timestamp_ms = 0;
};

struct marker_spec {
  record::control_type type = record::control_type::commit;
  int32_t coordinator_epoch = 0;
};

struct batch_spec {
  std::string name{};
  compression codec = compression::none;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
  bool transactional = false;
  std::optional<marker_spec> marker{};  // a control batch: records holds its one record
  std::vector<record_spec> records{};
  // Filled from append's answer.
  int64_t base_offset = -1;
  int64_t last_offset = -1;
};

// splitmix64: a fixed sequence, so the data is the same on every run.
class rng {
 public:
  explicit rng(uint64_t seed) : _state(seed) {}
  uint64_t next() {
    uint64_t z = (_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return static_cast<size_t>(next() % n); }

 private:
  uint64_t _state;
};

// Text that compresses (words) with some bytes of every value mixed in.
std::string make_value(rng& r, size_t bytes) {
  static constexpr std::string_view words[] = {"kafka", "segment", "offset", "ring",   "log",
                                               "batch", "record",  "zstd",   "snappy", "lz4",
                                               "gzip",  "crc32c",  "leader", "epoch"};
  std::string out;
  out.reserve(bytes);
  while (out.size() < bytes) {
    if (r.below(8) == 0) {
      out.push_back(static_cast<char>(r.below(256)));
    } else {
      out.append(words[r.below(std::size(words))]);
      out.push_back(' ');
    }
  }
  out.resize(bytes);
  return out;
}

std::string bytes_of(std::initializer_list<int> values) {
  std::string out;
  for (int v : values) out.push_back(static_cast<char>(v));
  return out;
}

std::vector<batch_spec> make_batches() {
  rng r(20240601);
  std::vector<batch_spec> out;
  int64_t ts = k_base_timestamp_ms;
  const compression codecs[] = {compression::none, compression::gzip, compression::snappy,
                                compression::lz4, compression::zstd};

  // One record, nothing special.
  out.push_back(
      {.name = "single", .records = {{.key = "key-0", .value = "value-0", .timestamp_ms = ts}}});

  // Every codec: a mix of null keys, tombstones, empty keys and values, binary
  // bytes and headers, with timestamps going back and forth.
  for (compression c : codecs) {
    batch_spec b{.name = fmt::format("mixed-{}", record::to_string(c)), .codec = c};
    for (int j = 0; j < 20; ++j) {
      record_spec rec;
      if (j % 5 != 0) rec.key = fmt::format("mixed-key-{}", j);
      if (j % 11 == 4) rec.key = "";
      if (j % 7 == 3) {
        rec.value = std::nullopt;  // tombstone
      } else if (j % 7 == 5) {
        rec.value = "";
      } else {
        rec.value = make_value(r, 1 + r.below(300));
      }
      for (int h = 0; h < j % 4; ++h) {
        header_spec hs{.key = fmt::format("h{}", h)};
        if (h != 1) hs.value = make_value(r, r.below(20));
        rec.headers.push_back(std::move(hs));
      }
      rec.timestamp_ms = ts + ((j * 7919) % 1000) - 500;
      b.records.push_back(std::move(rec));
    }
    out.push_back(std::move(b));
    ts += 10'000;
  }

  // Every codec: 500 records (Kafka's default batch.size fills about this many).
  for (compression c : codecs) {
    batch_spec b{.name = fmt::format("bulk-{}", record::to_string(c)), .codec = c};
    for (int j = 0; j < 500; ++j) {
      b.records.push_back({.key = fmt::format("user-{:05}", r.below(100'000)),
                           .value = make_value(r, 20 + r.below(100)),
                           .timestamp_ms = ts + j + (j % 10 == 9 ? 3'000 : 0)});
    }
    out.push_back(std::move(b));
    ts += 10'000;
  }

  out.push_back({.name = "null-keys",
                 .records = {{.value = "a", .timestamp_ms = ts},
                             {.value = "b", .timestamp_ms = ts + 1},
                             {.value = "c", .timestamp_ms = ts + 2}}});
  out.push_back({.name = "tombstones",
                 .records = {{.key = "gone-1", .timestamp_ms = ts + 3},
                             {.key = "gone-2", .timestamp_ms = ts + 4}}});
  out.push_back({.name = "empty-values",
                 .records = {{.key = "empty", .value = "", .timestamp_ms = ts + 5},
                             {.key = "", .value = "", .timestamp_ms = ts + 6},
                             {.timestamp_ms = ts + 7}}});  // null key and null value
  out.push_back({.name = "headers",
                 .records = {{.key = "with-headers",
                              .value = "v",
                              .headers = {{"h1", "v1"},
                                          {"null-value", std::nullopt},
                                          {"", "empty key"},
                                          {"empty-value", ""},
                                          {"h1", "repeated key"},
                                          {"\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87", "utf-8 key"},
                                          {"binary", bytes_of({0, 1, 0xff, 0x80, 0x7f})}},
                              .timestamp_ms = ts + 8},
                             {.key = "no-headers", .value = "v", .timestamp_ms = ts + 9},
                             {.value = "only-null-header",
                              .headers = {{"x", std::nullopt}},
                              .timestamp_ms = ts + 10}}});
  ts += 10'000;

  // Large values: several 32 KiB snappy (xerial) blocks and 64 KiB lz4 frame
  // blocks; uncompressed, a batch bigger than a segment gets one of its own.
  for (compression c : codecs) {
    out.push_back(
        {.name = fmt::format("large-{}", record::to_string(c)),
         .codec = c,
         .records = {{.key = "large", .value = make_value(r, 150'000), .timestamp_ms = ts},
                     {.key = "small", .value = "after", .timestamp_ms = ts + 1}}});
    ts += 10'000;
  }

  // An idempotent producer: id, epoch and sequences, no transaction.
  auto five = [&](int64_t at) {
    std::vector<record_spec> recs;
    for (int j = 0; j < 5; ++j)
      recs.push_back(
          {.key = fmt::format("idem-{}", j), .value = make_value(r, 40), .timestamp_ms = at + j});
    return recs;
  };
  out.push_back({.name = "idempotent-0",
                 .producer_id = 1001,
                 .producer_epoch = 0,
                 .base_sequence = 0,
                 .records = five(ts)});
  out.push_back({.name = "idempotent-5",
                 .codec = compression::zstd,
                 .producer_id = 1001,
                 .producer_epoch = 0,
                 .base_sequence = 5,
                 .records = five(ts + 100)});
  ts += 10'000;

  // A committed transaction over two batches, then an aborted one.
  out.push_back({.name = "txn-commit-a",
                 .codec = compression::lz4,
                 .producer_id = 4242,
                 .producer_epoch = 3,
                 .base_sequence = 0,
                 .transactional = true,
                 .records = {{.key = "t1", .value = "one", .timestamp_ms = ts},
                             {.key = "t2", .value = "two", .timestamp_ms = ts + 1},
                             {.key = "t3", .value = "three", .timestamp_ms = ts + 2}}});
  out.push_back({.name = "txn-commit-b",
                 .codec = compression::gzip,
                 .producer_id = 4242,
                 .producer_epoch = 3,
                 .base_sequence = 3,
                 .transactional = true,
                 .records = {{.key = "t4", .value = "four", .timestamp_ms = ts + 3},
                             {.key = "t5", .value = std::nullopt, .timestamp_ms = ts + 4}}});
  out.push_back({.name = "commit-marker",
                 .producer_id = 4242,
                 .producer_epoch = 3,
                 .transactional = true,
                 .marker = marker_spec{record::control_type::commit, 7},
                 .records = {{.timestamp_ms = ts + 5}}});
  out.push_back({.name = "txn-abort",
                 .codec = compression::snappy,
                 .producer_id = 4343,
                 .producer_epoch = 1,
                 .base_sequence = 0,
                 .transactional = true,
                 .records = {{.key = "a1", .value = "undone", .timestamp_ms = ts + 6}}});
  out.push_back({.name = "abort-marker",
                 .producer_id = 4343,
                 .producer_epoch = 1,
                 .transactional = true,
                 .marker = marker_spec{record::control_type::abort, 9},
                 .records = {{.timestamp_ms = ts + 7}}});
  ts += 10'000;

  // Small batches of every codec after the markers, so the last segments hold
  // several batches and index entries too.
  for (int round = 0; round < 3; ++round) {
    for (compression c : codecs) {
      batch_spec b{.name = fmt::format("tail-{}-{}", record::to_string(c), round), .codec = c};
      for (int j = 0; j < 1 + round * 4; ++j)
        b.records.push_back({.key = fmt::format("tail-{}", j),
                             .value = make_value(r, 200),
                             .timestamp_ms = ts + j});
      out.push_back(std::move(b));
      ts += 1'000;
    }
  }

  // The control record's key and value, written here from FORMATS.md §3
  // rather than taken from the builder: {version 0, type}, {version 0, epoch}.
  for (batch_spec& b : out) {
    if (!b.marker) continue;
    const auto type = static_cast<uint16_t>(b.marker->type);
    const auto epoch = static_cast<uint32_t>(b.marker->coordinator_epoch);
    b.records[0].key = bytes_of({0, 0, type >> 8, type & 0xff});
    b.records[0].value =
        bytes_of({0, 0, static_cast<int>(epoch >> 24), static_cast<int>((epoch >> 16) & 0xff),
                  static_cast<int>((epoch >> 8) & 0xff), static_cast<int>(epoch & 0xff)});
  }
  return out;
}

record::nullable_bytes view(const std::optional<std::string>& s) {
  if (!s) return std::nullopt;
  return record::as_bytes(*s);
}

std::vector<std::byte> encode(const batch_spec& b) {
  if (b.marker) {
    return record::build_control_batch({.type = b.marker->type,
                                        .coordinator_epoch = b.marker->coordinator_epoch,
                                        .producer_id = b.producer_id,
                                        .producer_epoch = b.producer_epoch,
                                        .timestamp_ms = b.records[0].timestamp_ms});
  }
  record::batch_builder builder({.producer_id = b.producer_id,
                                 .producer_epoch = b.producer_epoch,
                                 .base_sequence = b.base_sequence,
                                 .transactional = b.transactional,
                                 .codec = b.codec});
  for (const record_spec& rec : b.records) {
    std::vector<record::record_header> headers;
    for (const header_spec& h : rec.headers)
      headers.push_back({.key = h.key, .value = view(h.value)});
    builder.add({.key = view(rec.key),
                 .value = view(rec.value),
                 .headers = headers,
                 .timestamp_ms = rec.timestamp_ms});
  }
  auto built = builder.build();
  RINGLOG_ASSERT(built.has_value(), "build {}: {}", b.name, built.error().message());
  return std::move(built).value();
}

// Small segments and a small index interval: several segments, each with
// several index entries, from a few hundred KiB of data.
storage::log_config parity_config() {
  return {
      .segment_bytes = 64 * 1024,
      .segment_ms = std::numeric_limits<int64_t>::max() / 2,  // fixed old timestamps must not roll
      .index_interval_bytes = 1024,
      .retention_ms = -1};
}

task<status> write_all(std::string dir, std::vector<batch_spec>* batches, storage::flusher* f) {
  auto opened = co_await storage::partition_log::open(dir, parity_config(), *f, {});
  if (!opened) co_return opened.error();
  auto& log = **opened;
  int64_t next = 0;
  for (batch_spec& b : *batches) {
    std::vector<std::byte> bytes = encode(b);
    auto info = co_await log.append(bytes);
    if (!info) co_return info.error();
    RINGLOG_ASSERT(info->base_offset == next, "batch {} got base offset {}, expected {}", b.name,
                   info->base_offset, next);
    RINGLOG_ASSERT(info->last_offset == next + static_cast<int64_t>(b.records.size()) - 1,
                   "batch {} got last offset {}", b.name, info->last_offset);
    b.base_offset = info->base_offset;
    b.last_offset = info->last_offset;
    next = info->last_offset + 1;
  }
  co_return co_await log.close();
}

std::string hex(const std::string& s) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() * 2);
  for (unsigned char c : s) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 0xf]);
  }
  return out;
}

std::string json_hex(const std::optional<std::string>& s) {
  return s ? "\"" + hex(*s) + "\"" : "null";
}

// Keys and values are hex (null stays null), header keys too, so the JSON
// never needs escaping and binary bytes survive.
std::string to_json(const std::vector<batch_spec>& batches) {
  std::string out =
      fmt::format("{{\n  \"partition\": \"{}\",\n  \"batches\": [\n", k_partition_dir);
  for (size_t i = 0; i < batches.size(); ++i) {
    const batch_spec& b = batches[i];
    int64_t first_ts = b.records.front().timestamp_ms;
    int64_t max_ts = first_ts;
    for (const record_spec& rec : b.records) max_ts = std::max(max_ts, rec.timestamp_ms);
    out += fmt::format(
        "    {{\"name\": \"{}\", \"base_offset\": {}, \"last_offset\": {}, \"codec\": \"{}\", "
        "\"records_count\": {}, \"timestamp_type\": \"create_time\", \"first_timestamp\": {}, "
        "\"max_timestamp\": {}, \"producer_id\": {}, \"producer_epoch\": {}, "
        "\"base_sequence\": {}, \"is_transactional\": {}, \"is_control\": {},\n     \"records\": "
        "[\n",
        b.name, b.base_offset, b.last_offset, record::to_string(b.codec), b.records.size(),
        first_ts, max_ts, b.producer_id, b.producer_epoch, b.base_sequence, b.transactional,
        b.marker.has_value());
    for (size_t j = 0; j < b.records.size(); ++j) {
      const record_spec& rec = b.records[j];
      std::string headers;
      for (const header_spec& h : rec.headers) {
        if (!headers.empty()) headers += ", ";
        headers += fmt::format("[\"{}\", {}]", hex(h.key), json_hex(h.value));
      }
      out += fmt::format(
          "      {{\"offset\": {}, \"timestamp\": {}, \"key\": {}, \"value\": {}, \"headers\": "
          "[{}]}}{}\n",
          b.base_offset + static_cast<int64_t>(j), rec.timestamp_ms, json_hex(rec.key),
          json_hex(rec.value), headers, j + 1 < b.records.size() ? "," : "");
    }
    out += fmt::format("     ]}}{}\n", i + 1 < batches.size() ? "," : "");
  }
  out += "  ]\n}\n";
  return out;
}

int run(const std::string& root) {
  const std::string dir = root + "/" + k_partition_dir;
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(root, ec);
  if (ec) {
    std::fprintf(stderr, "segment_writer: cannot create %s: %s\n", root.c_str(),
                 ec.message().c_str());
    return 1;
  }

  std::vector<batch_spec> batches = make_batches();
  status written;
  {
    runtime rt(runtime_options{.shards = 1, .pin_threads = false});
    if (auto st = rt.start(); !st) {
      std::fprintf(stderr, "segment_writer: runtime: %s\n", st.error().message().c_str());
      return 1;
    }
    storage::flusher f;
    written = rt.block_on(0, write_all(dir, &batches, &f));
    rt.stop();
  }
  if (!written) {
    std::fprintf(stderr, "segment_writer: %s\n", written.error().message().c_str());
    return 1;
  }

  const std::string json = to_json(batches);
  const std::string path = root + "/expected.json";
  FILE* out = std::fopen(path.c_str(), "wb");
  if (out == nullptr || std::fwrite(json.data(), 1, json.size(), out) != json.size() ||
      std::fclose(out) != 0) {
    std::fprintf(stderr, "segment_writer: cannot write %s\n", path.c_str());
    return 1;
  }
  size_t records = 0;
  for (const batch_spec& b : batches) records += b.records.size();
  std::printf("segment_writer: %zu batches, %zu records, offsets 0..%lld in %s\n", batches.size(),
              records, static_cast<long long>(batches.back().last_offset), dir.c_str());
  return 0;
}

}  // namespace
}  // namespace ringlog::parity

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: segment_writer DIR\n");
    return 2;
  }
  return ringlog::parity::run(argv[1]);
}
