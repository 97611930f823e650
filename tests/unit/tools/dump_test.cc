// ringlog-dump: what a user sees. Segments are built with batch_builder (plain,
// compressed, with headers, control batches), indexes with offset_index /
// time_index or by hand, and the tool's library entry point runs on them with
// its output captured. Covers the exact text lines, --print-values in utf8 and
// hex with the --max-bytes cut, --json, --verify-index on good and bad pairs,
// every kind of corrupt input (bad CRC, torn tail, garbage, zeros, empty
// files), checkpoints and the exit statuses.
#include "tools/dump/dump.h"

#include <fmt/core.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "engine/log/offset_index.h"
#include "engine/log/time_index.h"
#include "engine/record/batch_builder.h"
#include "engine/record/record_batch.h"
#include "tools/dump/file_reader.h"
#include "tools/dump/json.h"
#include "tools/dump/render.h"

namespace ringlog::dump {
namespace {

namespace rec = ringlog::record;

// ---------------------------------------------------------------- helpers

class scratch_dir {
 public:
  scratch_dir() {
    std::string templ = ::testing::TempDir() + "ringlog_dump_XXXXXX";
    const char* made = ::mkdtemp(templ.data());
    EXPECT_NE(made, nullptr) << "mkdtemp " << templ;
    _path = templ;
  }
  ~scratch_dir() {
    std::error_code ec;
    std::filesystem::remove_all(_path, ec);
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;

  std::string file(const std::string& name) const { return _path + "/" + name; }

 private:
  std::string _path;
};

void write_file(const std::string& path, std::span<const std::byte> bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

void write_text(const std::string& path, std::string_view text) {
  write_file(path, {reinterpret_cast<const std::byte*>(text.data()), text.size()});
}

std::vector<std::byte> bytes_of(std::string_view s) {
  const auto* p = reinterpret_cast<const std::byte*>(s.data());
  return {p, p + s.size()};
}

struct tool_output {
  int status;
  std::string out;
  std::string err;
};

tool_output run_tool(std::vector<std::string> args) {
  std::ostringstream out;
  std::ostringstream err;
  const int status = run(args, out, err);
  return {status, out.str(), err.str()};
}

tool_output run_files(const std::vector<std::string>& files, const dump_options& options) {
  std::ostringstream out;
  std::ostringstream err;
  const int status = dump_files(files, options, out, err);
  return {status, out.str(), err.str()};
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The lines of `text` that start with `prefix`.
std::vector<std::string> lines_with(const std::string& text, std::string_view prefix) {
  std::vector<std::string> out;
  for (std::string& l : lines_of(text)) {
    if (l.starts_with(prefix)) out.push_back(std::move(l));
  }
  return out;
}

bool contains(const std::string& text, std::string_view what) {
  return text.find(what) != std::string::npos;
}

struct record_spec {
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<std::pair<std::string, std::optional<std::string>>> headers{};
  int64_t timestamp_ms = 0;
};

std::vector<std::byte> make_batch(const rec::batch_options& options,
                                  const std::vector<record_spec>& records) {
  rec::batch_builder builder(options);
  for (const record_spec& r : records) {
    std::vector<rec::record_header> headers;
    for (const auto& [k, v] : r.headers) {
      headers.push_back({k, v ? rec::as_bytes(*v) : rec::nullable_bytes{}});
    }
    builder.add({.key = r.key ? rec::as_bytes(*r.key) : rec::nullable_bytes{},
                 .value = r.value ? rec::as_bytes(*r.value) : rec::nullable_bytes{},
                 .headers = headers,
                 .timestamp_ms = r.timestamp_ms});
  }
  auto built = builder.build();
  EXPECT_TRUE(built) << built.error().message();
  return built ? std::move(*built) : std::vector<std::byte>{};
}

uint32_t stored_crc(std::span<const std::byte> batch) {
  return load_be32(batch.data() + rec::k_crc_pos);
}

// A .log built batch by batch, remembering where each one went.
struct segment_bytes {
  struct placed {
    uint64_t position;
    uint64_t size;
    int64_t base_offset;
    int64_t last_offset;
    int64_t max_timestamp;
  };
  std::vector<std::byte> bytes;
  std::vector<placed> batches;

  void add(const std::vector<std::byte>& batch) {
    auto view = rec::record_batch_view::parse(batch, {.allow_offset_gaps = true});
    ASSERT_TRUE(view) << view.error().message();
    batches.push_back({bytes.size(), batch.size(), view->base_offset(), view->last_offset(),
                       view->max_timestamp()});
    bytes.insert(bytes.end(), batch.begin(), batch.end());
  }
};

constexpr int64_t k_t0 = 1700000000000;

// Four uncompressed batches of three records each (offsets 0..11), values of
// 100 bytes so the batches sit at clearly different positions.
segment_bytes four_batches(int64_t base = 0) {
  segment_bytes seg;
  for (int b = 0; b < 4; ++b) {
    std::vector<record_spec> records;
    for (int r = 0; r < 3; ++r) {
      records.push_back({fmt::format("key-{}-{}", b, r),
                         std::string(100, static_cast<char>('a' + b)),
                         {},
                         k_t0 + 10 * b + r});
    }
    seg.add(make_batch({.base_offset = base + 3 * b}, records));
  }
  return seg;
}

// An index of `entries` (relative offset, position) written by hand.
std::vector<std::byte> offset_index_bytes(const std::vector<std::pair<int32_t, int32_t>>& entries) {
  std::vector<std::byte> out;
  byte_writer w(out);
  for (auto [relative, position] : entries) {
    w.write_i32(relative);
    w.write_i32(position);
  }
  return out;
}

std::vector<std::byte> time_index_bytes(const std::vector<std::pair<int64_t, int32_t>>& entries) {
  std::vector<std::byte> out;
  byte_writer w(out);
  for (auto [timestamp, relative] : entries) {
    w.write_i64(timestamp);
    w.write_i32(relative);
  }
  return out;
}

// Writes the .index and .timeindex for `seg` with an entry per batch (as the
// engine would with a small index interval) and trims them, as a rolled
// segment has them.
void write_engine_indexes(const scratch_dir& dir, const segment_bytes& seg, int64_t base) {
  auto oi = storage::offset_index::open(dir.file(fmt::format("{:020}.index", base)), base, 4096,
                                        storage::index_access::read_write);
  ASSERT_TRUE(oi) << oi.error().message();
  auto ti = storage::time_index::open(dir.file(fmt::format("{:020}.timeindex", base)), base, 4096,
                                      storage::index_access::read_write);
  ASSERT_TRUE(ti) << ti.error().message();
  for (const auto& b : seg.batches) {
    ASSERT_TRUE(oi->append(b.last_offset, static_cast<uint32_t>(b.position)));
    // As the engine does: an entry only when the max timestamp grows.
    ASSERT_NE(ti->maybe_append(b.max_timestamp, b.last_offset),
              storage::time_index::append_result::full);
  }
  ASSERT_TRUE(oi->trim());
  ASSERT_TRUE(ti->trim());
}

// A small JSON syntax checker: the test's own, so "--json lines parse" means
// parsed by something other than the code under test.
class json_checker {
 public:
  explicit json_checker(std::string_view s) : _s(s) {}
  bool valid() {
    ws();
    if (!value()) return false;
    ws();
    return _i == _s.size();
  }

 private:
  bool value() {
    if (_i >= _s.size()) return false;
    switch (_s[_i]) {
      case '{':
        return object();
      case '[':
        return array();
      case '"':
        return string();
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      case 'n':
        return literal("null");
      default:
        return number();
    }
  }
  bool object() {
    ++_i;
    ws();
    if (peek('}')) return ++_i, true;
    for (;;) {
      ws();
      if (!peek('"') || !string()) return false;
      ws();
      if (!peek(':')) return false;
      ++_i;
      ws();
      if (!value()) return false;
      ws();
      if (peek('}')) return ++_i, true;
      if (!peek(',')) return false;
      ++_i;
    }
  }
  bool array() {
    ++_i;
    ws();
    if (peek(']')) return ++_i, true;
    for (;;) {
      ws();
      if (!value()) return false;
      ws();
      if (peek(']')) return ++_i, true;
      if (!peek(',')) return false;
      ++_i;
    }
  }
  bool string() {
    ++_i;
    while (_i < _s.size()) {
      const auto c = static_cast<unsigned char>(_s[_i++]);
      if (c == '"') return true;
      if (c < 0x20) return false;
      if (c != '\\') continue;
      if (_i >= _s.size()) return false;
      const char e = _s[_i++];
      if (e == 'u') {
        for (int k = 0; k < 4; ++k) {
          if (_i >= _s.size() || !std::isxdigit(static_cast<unsigned char>(_s[_i++]))) return false;
        }
      } else if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) {
        return false;
      }
    }
    return false;
  }
  bool number() {
    const size_t start = _i;
    if (peek('-')) ++_i;
    if (!digits()) return false;
    if (peek('.')) {
      ++_i;
      if (!digits()) return false;
    }
    return _i > start;
  }
  bool digits() {
    const size_t start = _i;
    while (_i < _s.size() && std::isdigit(static_cast<unsigned char>(_s[_i]))) ++_i;
    return _i > start;
  }
  bool literal(std::string_view word) {
    if (_s.substr(_i, word.size()) != word) return false;
    _i += word.size();
    return true;
  }
  bool peek(char c) const { return _i < _s.size() && _s[_i] == c; }
  void ws() {
    while (_i < _s.size() && std::isspace(static_cast<unsigned char>(_s[_i]))) ++_i;
  }

  std::string_view _s;
  size_t _i = 0;
};

// ------------------------------------------------------------- JSON, render

TEST(DumpJson, EscaperQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(json_string("plain"), R"("plain")");
  EXPECT_EQ(json_string("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(json_string("\n\r\t\b\f"), R"("\n\r\t\b\f")");
  EXPECT_EQ(json_string(std::string_view("\x01\x1f\x7f\0", 4)), R"("\u0001\u001f\u007f\u0000")");
  EXPECT_EQ(json_string(""), R"("")");
}

TEST(DumpJson, EscaperPassesValidUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(json_string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
  EXPECT_EQ(json_string("a\xff"
                        "b"),
            R"("a\ufffdb")");
  EXPECT_EQ(json_string("\xc3"), R"("\ufffd")") << "a truncated sequence";
  EXPECT_EQ(json_string("\xc0\xaf"), R"("\ufffd\ufffd")") << "an overlong form";
  EXPECT_EQ(json_string("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")") << "a surrogate";
  EXPECT_TRUE(json_checker(json_string("x\xff\x01\"")).valid());
}

TEST(DumpJson, ObjectBuilderKeepsFieldOrderAndTypes) {
  json_object o;
  o.str("type", "batch").num("n", int64_t{-5}).num("u", uint64_t{18446744073709551615ull});
  o.boolean("ok", true).null("none").raw("list", "[1,2]");
  const std::string s = o.finish();
  EXPECT_EQ(
      s, R"({"type":"batch","n":-5,"u":18446744073709551615,"ok":true,"none":null,"list":[1,2]})");
  EXPECT_TRUE(json_checker(s).valid());
}

TEST(DumpRender, Utf8TextEscapesNonPrintableAndInvalidBytes) {
  EXPECT_EQ(escape_text(bytes_of("caf\xc3\xa9 \"q\" \\ \n\t\r\x01\x7f\xff")),
            "caf\xc3\xa9 \\\"q\\\" \\\\ \\n\\t\\r\\x01\\x7f\\xff");
  EXPECT_EQ(escape_text(bytes_of("\xc2\x85")), "\\xc2\\x85") << "C1 control U+0085";
  EXPECT_EQ(render_text(std::nullopt, value_encoding::utf8, 10), "null");
  EXPECT_EQ(render_text(bytes_of(""), value_encoding::utf8, 10), "\"\"");
  EXPECT_EQ(render_text(bytes_of("ab"), value_encoding::hex, 10), "6162");
}

TEST(DumpRender, CutNeverSplitsAUtf8Character) {
  const auto euro = bytes_of(
      "a\xe2\x82\xac"
      "b");  // a, 3-byte euro sign, b
  EXPECT_EQ(cut_length(euro, value_encoding::utf8, 2), 1u);
  EXPECT_EQ(cut_length(euro, value_encoding::utf8, 4), 4u);
  EXPECT_EQ(cut_length(euro, value_encoding::hex, 2), 2u);
  EXPECT_EQ(cut_length(euro, value_encoding::utf8, 0), 5u) << "0 = no cut";
  EXPECT_EQ(render_text(euro, value_encoding::utf8, 3), "\"a\"...");
  EXPECT_EQ(render_text(euro, value_encoding::hex, 3), "61e282...");
}

// ------------------------------------------------------------ batch lines

TEST(DumpSegment, PrintsOneLinePerBatchWithEveryHeaderField) {
  scratch_dir dir;
  const auto batch =
      make_batch({.base_offset = 0,
                  .partition_leader_epoch = 5,
                  .producer_id = 42,
                  .producer_epoch = 1,
                  .base_sequence = 10},
                 {{"k0", "v0", {}, k_t0}, {"k1", "v1", {}, k_t0 + 7}, {"k2", "v2", {}, k_t0 + 2}});
  const std::string path = dir.file("00000000000000000000.log");
  write_file(path, batch);

  const tool_output r = run_tool({path});
  EXPECT_EQ(r.status, k_exit_clean) << r.out << r.err;
  EXPECT_EQ(lines_of(r.out),
            (std::vector<std::string>{
                fmt::format("file: {} kind: segment baseOffset: 0 size: {}", path, batch.size()),
                fmt::format("batch baseOffset: 0 lastOffset: 2 count: 3 position: 0 size: {} crc: "
                            "{:#010x} crcValid: true magic: 2 compression: none timestampType: "
                            "CreateTime baseTimestamp: {} maxTimestamp: {} producerId: 42 "
                            "producerEpoch: 1 baseSequence: 10 isTransactional: false isControl: "
                            "false partitionLeaderEpoch: 5",
                            batch.size(), stored_crc(batch), k_t0, k_t0 + 7),
                fmt::format("summary: {} batches: 1 records: 3 validBytes: {} size: {} problems: 0",
                            path, batch.size(), batch.size()),
            }));
  EXPECT_EQ(r.err, "");
}

TEST(DumpSegment, RecordLinesShowOffsetsTimestampsSizesAndWrappingSequences) {
  scratch_dir dir;
  const auto batch = make_batch(
      {.base_offset = 100, .producer_id = 7, .producer_epoch = 0, .base_sequence = 2147483646},
      {{"k", "value", {{"h1", "x"}}, k_t0},
       {std::nullopt, std::nullopt, {}, k_t0 + 1},
       {"", "", {}, k_t0 + 2}});
  const std::string path = dir.file("00000000000000000100.log");
  write_file(path, batch);

  const tool_output r = run_tool({"--records", path});
  EXPECT_EQ(r.status, k_exit_clean) << r.out;
  EXPECT_EQ(lines_with(r.out, "  record"),
            (std::vector<std::string>{
                fmt::format("  record offset: 100 timestamp: {} keySize: 1 valueSize: 5 "
                            "headerCount: 1 sequence: 2147483646",
                            k_t0),
                fmt::format("  record offset: 101 timestamp: {} keySize: -1 valueSize: -1 "
                            "headerCount: 0 sequence: 2147483647",
                            k_t0 + 1),
                fmt::format("  record offset: 102 timestamp: {} keySize: 0 valueSize: 0 "
                            "headerCount: 0 sequence: 0",
                            k_t0 + 2),
            }));
  EXPECT_EQ(run_tool({"--print-data-log", path}).out, r.out) << "the Kafka alias";
}

TEST(DumpSegment, PrintValuesInUtf8EscapesAndQuotes) {
  scratch_dir dir;
  const auto batch = make_batch(
      {},
      {{"k\xc3\xa9", "line\n\"q\"\x01\xff", {{"trace", "abc"}, {"empty", std::nullopt}}, k_t0}});
  const std::string path = dir.file("00000000000000000000.log");
  write_file(path, batch);

  const tool_output r = run_tool({"--print-values", path});
  EXPECT_EQ(r.status, k_exit_clean) << r.out;
  EXPECT_EQ(lines_with(r.out, "  record"),
            (std::vector<std::string>{fmt::format(
                "  record offset: 0 timestamp: {} keySize: 3 valueSize: 10 headerCount: 2 "
                "sequence: -1 key: \"k\xc3\xa9\" value: \"line\\n\\\"q\\\"\\x01\\xff\" headers: "
                "[\"trace\"=\"abc\", \"empty\"=null]",
                k_t0)}));
}

TEST(DumpSegment, PrintValuesInHex) {
  scratch_dir dir;
  const auto batch = make_batch({}, {{"ab", std::string("\x00\xff", 2), {{"h", "z"}}, k_t0}});
  const std::string path = dir.file("00000000000000000000.log");
  write_file(path, batch);

  const tool_output r = run_tool({"--print-values", "--encoding", "hex", path});
  EXPECT_EQ(r.status, k_exit_clean);
  EXPECT_EQ(lines_with(r.out, "  record"),
            (std::vector<std::string>{fmt::format(
                "  record offset: 0 timestamp: {} keySize: 2 valueSize: 2 headerCount: 1 "
                "sequence: -1 key: 6162 value: 00ff headers: [\"h\"=7a]",
                k_t0)}));
  EXPECT_EQ(run_tool({"--print-values", "--encoding=hex", path}).out, r.out);
}

TEST(DumpSegment, MaxBytesCutsEachPrintedKeyValueAndHeader) {
  scratch_dir dir;
  const std::string long_value(1000, 'v');
  const auto batch = make_batch({}, {{"0123456789", long_value, {{"hkey", "0123456789"}}, k_t0}});
  const std::string path = dir.file("00000000000000000000.log");
  write_file(path, batch);

  const tool_output cut = run_tool({"--print-values", "--max-bytes", "4", path});
  ASSERT_EQ(lines_with(cut.out, "  record").size(), 1u);
  EXPECT_TRUE(lines_with(cut.out, "  record")[0].ends_with(
      "keySize: 10 valueSize: 1000 headerCount: 1 sequence: -1 key: \"0123\"... value: "
      "\"vvvv\"... headers: [\"hkey\"=\"0123\"...]"))
      << cut.out;

  const tool_output hex = run_tool({"--print-values", "--encoding", "hex", "--max-bytes=3", path});
  EXPECT_TRUE(contains(hex.out, "key: 303132... value: 767676... headers: [\"hke\"...=303132...]"))
      << hex.out;

  const tool_output whole = run_tool({"--print-values", "--max-bytes", "0", path});
  EXPECT_TRUE(contains(whole.out, "value: \"" + long_value + "\" ")) << "0 = no cut";

  const tool_output by_default = run_tool({"--print-values", path});
  EXPECT_TRUE(contains(by_default.out, "value: \"" + std::string(256, 'v') + "\"..."))
      << "the default cut is 256 bytes";
}

TEST(DumpSegment, CompressedBatchesAreDecompressedOnlyForRecords) {
  for (const rec::compression codec : {rec::compression::gzip, rec::compression::snappy,
                                       rec::compression::lz4, rec::compression::zstd}) {
    SCOPED_TRACE(std::string(rec::to_string(codec)));
    scratch_dir dir;
    const auto batch =
        make_batch({.base_offset = 10, .codec = codec},
                   {{"a", "first", {{"h", "1"}}, k_t0}, {"b", "second", {}, k_t0 + 1}});
    const std::string path = dir.file("00000000000000000010.log");
    write_file(path, batch);

    const tool_output plain = run_tool({path});
    EXPECT_EQ(plain.status, k_exit_clean) << plain.out;
    ASSERT_EQ(lines_with(plain.out, "batch").size(), 1u);
    EXPECT_TRUE(contains(lines_with(plain.out, "batch")[0],
                         fmt::format(" compression: {} ", rec::to_string(codec))));
    EXPECT_TRUE(lines_with(plain.out, "  record").empty()) << "not decompressed without --records";

    const tool_output records = run_tool({"--print-values", path});
    EXPECT_EQ(records.status, k_exit_clean) << records.out;
    EXPECT_EQ(
        lines_with(records.out, "  record"),
        (std::vector<std::string>{
            fmt::format("  record offset: 10 timestamp: {} keySize: 1 valueSize: 5 "
                        "headerCount: 1 sequence: -1 key: \"a\" value: \"first\" headers: "
                        "[\"h\"=\"1\"]",
                        k_t0),
            fmt::format("  record offset: 11 timestamp: {} keySize: 1 valueSize: 6 "
                        "headerCount: 0 sequence: -1 key: \"b\" value: \"second\" headers: []",
                        k_t0 + 1),
        }));
  }
}

TEST(DumpSegment, ControlRecordsAreDecodedAsCommitOrAbortWithCoordinatorEpoch) {
  scratch_dir dir;
  segment_bytes seg;
  seg.add(make_batch({.base_offset = 0,
                      .producer_id = 42,
                      .producer_epoch = 3,
                      .base_sequence = 0,
                      .transactional = true},
                     {{"k", "v", {}, k_t0}}));
  seg.add(rec::build_control_batch({.type = rec::control_type::commit,
                                    .coordinator_epoch = 7,
                                    .producer_id = 42,
                                    .producer_epoch = 3,
                                    .timestamp_ms = k_t0 + 1,
                                    .base_offset = 1}));
  seg.add(rec::build_control_batch({.type = rec::control_type::abort,
                                    .coordinator_epoch = 8,
                                    .producer_id = 43,
                                    .producer_epoch = 0,
                                    .timestamp_ms = k_t0 + 2,
                                    .base_offset = 2}));
  const std::string path = dir.file("00000000000000000000.log");
  write_file(path, seg.bytes);

  const tool_output r = run_tool({"--records", path});
  EXPECT_EQ(r.status, k_exit_clean) << r.out;
  const auto batches = lines_with(r.out, "batch");
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_TRUE(contains(batches[1],
                       "producerId: 42 producerEpoch: 3 baseSequence: -1 "
                       "isTransactional: true isControl: true"))
      << batches[1];
  EXPECT_EQ(lines_with(r.out, "  record"),
            (std::vector<std::string>{
                fmt::format("  record offset: 0 timestamp: {} keySize: 1 valueSize: 1 "
                            "headerCount: 0 sequence: 0",
                            k_t0),
                fmt::format("  record offset: 1 timestamp: {} keySize: 4 valueSize: 6 "
                            "headerCount: 0 sequence: -1 control: COMMIT coordinatorEpoch: 7",
                            k_t0 + 1),
                fmt::format("  record offset: 2 timestamp: {} keySize: 4 valueSize: 6 "
                            "headerCount: 0 sequence: -1 control: ABORT coordinatorEpoch: 8",
                            k_t0 + 2),
            }));
}

// ---------------------------------------------------------------- --json

TEST(DumpJsonOutput, EveryLineIsAnObjectWithStableFields) {
  scratch_dir dir;
  segment_bytes seg;
  seg.add(make_batch({.base_offset = 0, .partition_leader_epoch = 2},
                     {{"k", "caf\xc3\xa9", {{"h", "x"}}, k_t0},
                      {"bin", std::string("\xff\x00", 2), {}, k_t0 + 1}}));
  seg.add(rec::build_control_batch({.type = rec::control_type::commit,
                                    .coordinator_epoch = 9,
                                    .producer_id = 5,
                                    .base_offset = 2}));
  auto corrupt = make_batch({.base_offset = 3}, {{"x", "y", {}, k_t0 + 2}});
  corrupt.back() ^= std::byte{0x01};
  seg.bytes.insert(seg.bytes.end(), corrupt.begin(), corrupt.end());
  const std::string path = dir.file("00000000000000000000.log");
  write_file(path, seg.bytes);

  const tool_output r = run_tool({"--json", "--print-values", path});
  EXPECT_EQ(r.status, k_exit_problems) << r.out;
  const auto lines = lines_of(r.out);
  ASSERT_FALSE(lines.empty());
  for (const std::string& l : lines) {
    EXPECT_TRUE(json_checker(l).valid()) << l;
    EXPECT_TRUE(l.starts_with("{\"type\":\"")) << l;
  }
  const auto of_type = [&](std::string_view type) {
    return lines_with(r.out, fmt::format("{{\"type\":\"{}\"", type));
  };
  ASSERT_EQ(of_type("file").size(), 1u);
  EXPECT_TRUE(contains(of_type("file")[0], "\"kind\":\"segment\",\"baseOffset\":0,\"size\":"));

  const auto batches = of_type("batch");
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_TRUE(contains(batches[0], fmt::format("\"file\":\"{}\",\"baseOffset\":0,\"lastOffset\":1,"
                                               "\"count\":2,\"position\":0,\"size\":{}",
                                               path, seg.batches[0].size)))
      << batches[0];
  EXPECT_TRUE(contains(batches[0], fmt::format("\"crc\":{},\"computedCrc\":{},\"crcValid\":true",
                                               stored_crc(seg.bytes), stored_crc(seg.bytes))));
  EXPECT_TRUE(contains(batches[0], "\"compression\":\"none\",\"timestampType\":\"CreateTime\""));
  EXPECT_TRUE(contains(batches[0], "\"partitionLeaderEpoch\":2,\"deleteHorizonMs\":null}"));
  EXPECT_TRUE(contains(batches[1], "\"isTransactional\":true,\"isControl\":true"));
  EXPECT_TRUE(contains(batches[2], "\"crcValid\":false")) << batches[2];

  const auto records = of_type("record");
  ASSERT_EQ(records.size(), 3u);
  EXPECT_TRUE(contains(records[0],
                       "\"offset\":0,\"timestamp\":1700000000000,\"keySize\":1,"
                       "\"valueSize\":5,\"headerCount\":1,\"sequence\":-1,"
                       "\"control\":null,\"key\":\"k\",\"keyEncoding\":\"utf8\","
                       "\"keyTruncated\":false,\"value\":\"caf\xc3\xa9\","
                       "\"valueEncoding\":\"utf8\",\"valueTruncated\":false,"
                       "\"headers\":[{\"key\":\"h\",\"keyEncoding\":\"utf8\","
                       "\"keyTruncated\":false,\"value\":\"x\",\"valueEncoding\":"
                       "\"utf8\",\"valueTruncated\":false}]"))
      << records[0];
  EXPECT_TRUE(contains(records[1], "\"value\":\"ff00\",\"valueEncoding\":\"hex\""))
      << "bytes that are not UTF-8 fall back to hex: " << records[1];
  EXPECT_TRUE(contains(records[2],
                       "\"control\":{\"type\":\"COMMIT\",\"typeId\":1,\"version\":0,"
                       "\"coordinatorEpoch\":9}"))
      << records[2];

  const auto problems = of_type("problem");
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_TRUE(contains(problems[0], fmt::format("\"kind\":\"crc_mismatch\",\"position\":{},"
                                                "\"entry\":null,\"line\":null,\"message\":\"crc "
                                                "mismatch: stored",
                                                seg.batches[1].position + seg.batches[1].size)))
      << problems[0];
  ASSERT_EQ(of_type("summary").size(), 1u);
  EXPECT_TRUE(contains(of_type("summary")[0], "\"batches\":3,\"records\":3,"));
  EXPECT_TRUE(contains(of_type("summary")[0], "\"problems\":1}"));
}

// ---------------------------------------------------------- corrupt input

TEST(DumpSegment, BadCrcIsReportedWithStoredAndComputedAndTheNextBatchStillPrinted) {
  scratch_dir dir;
  segment_bytes seg = four_batches();
  const auto& b1 = seg.batches[1];
  seg.bytes[b1.position + b1.size - 5] ^= std::byte{0x40};  // inside batch 1's CRC range
  const uint32_t stored = stored_crc(std::span(seg.bytes).subspan(b1.position));
  const uint32_t computed =
      rec::compute_batch_crc(std::span<const std::byte>(seg.bytes).subspan(b1.position, b1.size));
  ASSERT_NE(stored, computed);
  const std::string path = dir.file("00000000000000000000.log");
  write_file(path, seg.bytes);

  const tool_output r = run_tool({"--records", path});
  EXPECT_EQ(r.status, k_exit_problems);
  EXPECT_EQ(lines_with(r.out, "problem"),
            (std::vector<std::string>{fmt::format(
                "problem: {}: position {}: crc mismatch: stored {:#010x}, computed {:#010x} over "
                "positions [{}, {}): the batch is corrupt, its records are not decoded",
                path, b1.position, stored, computed, b1.position + 21, b1.position + b1.size)}));
  const auto batches = lines_with(r.out, "batch");
  ASSERT_EQ(batches.size(), 4u) << "the walk goes on after the bad batch";
  EXPECT_TRUE(contains(
      batches[1],
      fmt::format("crc: {:#010x} crcValid: false computedCrc: {:#010x}", stored, computed)))
      << batches[1];
  EXPECT_TRUE(batches[2].starts_with("batch baseOffset: 6 lastOffset: 8")) << batches[2];
  EXPECT_EQ(lines_with(r.out, "  record").size(), 9u) << "records of the three good batches";
  EXPECT_TRUE(contains(r.out, "batches: 4 records: 9 ")) << r.out;
}

TEST(DumpSegment, TornTailIsReportedWithItsPosition) {
  scratch_dir dir;
  segment_bytes seg = four_batches();
  seg.bytes.resize(seg.bytes.size() - 10);
  const auto& last = seg.batches[3];
  const std::string path = dir.file("00000000000000000000.log");
  write_file(path, seg.bytes);

  const tool_output r = run_tool({path});
  EXPECT_EQ(r.status, k_exit_problems);
  EXPECT_EQ(lines_with(r.out, "problem"),
            (std::vector<std::string>{fmt::format(
                "problem: {}: position {}: batch length {} runs past the end of the file (size {})",
                path, last.position, last.size - 12, seg.bytes.size())}));
  EXPECT_EQ(lines_with(r.out, "batch").size(), 3u);
  EXPECT_TRUE(
      contains(r.out, fmt::format("batches: 3 records: 9 validBytes: {} size: {} problems: 1",
                                  last.position, seg.bytes.size())));
}

TEST(DumpSegment, FramingProblemsStopTheWalkWithAPreciseReason) {
  scratch_dir dir;
  const segment_bytes good = four_batches();
  const uint64_t end = good.bytes.size();
  struct tail_case {
    const char* name;
    std::vector<std::byte> tail;
    std::string expected;
  };
  std::vector<std::byte> short_length(61, std::byte{0x11});
  store_be32(short_length.data() + 8, 20);
  short_length[16] = std::byte{2};
  std::vector<std::byte> bad_magic(61, std::byte{0x11});
  bad_magic[16] = std::byte{7};
  std::vector<std::byte> hole(100, std::byte{0});
  hole.push_back(std::byte{1});
  const std::vector<tail_case> cases = {
      {"trailing bytes",
       {std::byte{1}, std::byte{2}, std::byte{3}},
       fmt::format("position {}: 3 bytes left, too few for a batch (its baseOffset and batchLength "
                   "alone take 12)",
                   end)},
      {"zero tail", std::vector<std::byte>(4096, std::byte{0}),
       fmt::format("position {}: the last 4096 bytes of the file are zeros, not batches (a "
                   "preallocated or never-written tail)",
                   end)},
      {"hole", hole,
       fmt::format("position {}: 100 zero bytes where a batch should start, up to position {} "
                   "where data resumes (a hole: a lost write?); the rest of the file cannot be "
                   "framed",
                   end, end + 100)},
      {"short length", short_length,
       fmt::format("position {}: batch length 20 is below 49, the length of a batch with no "
                   "records: not a batch; the rest of the file cannot be framed",
                   end)},
      {"bad magic", bad_magic,
       fmt::format("position {}: magic 7 at position {} (batch length field 286331153): not a "
                   "record batch (magic 2); the rest of the file cannot be framed",
                   end, end + 16)},
  };
  for (const tail_case& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<std::byte> bytes = good.bytes;
    bytes.insert(bytes.end(), c.tail.begin(), c.tail.end());
    const std::string path = dir.file("00000000000000000000.log");
    write_file(path, bytes);
    const tool_output r = run_tool({path});
    EXPECT_EQ(r.status, k_exit_problems);
    EXPECT_EQ(lines_with(r.out, "problem"),
              (std::vector<std::string>{fmt::format("problem: {}: {}", path, c.expected)}));
    EXPECT_EQ(lines_with(r.out, "batch").size(), 4u);
  }
}

TEST(DumpSegment, LegacyMessageIsReportedAndSkippedByItsLength) {
  scratch_dir dir;
  std::vector<std::byte> bytes;
  byte_writer w(bytes);
  w.write_i64(0);   // offset
  w.write_i32(14);  // size: the smallest magic 0 message
  w.write_u32(0);   // crc (not checked)
  w.write_i8(0);    // magic 0
  w.write_i8(0);    // attributes
  w.write_i32(-1);  // null key
  w.write_i32(-1);  // null value
  const auto next = make_batch({.base_offset = 1}, {{"k", "v", {}, k_t0}});
  bytes.insert(bytes.end(), next.begin(), next.end());
  const std::string path = dir.file("00000000000000000000.log");
  write_file(path, bytes);

  const tool_output r = run_tool({path});
  EXPECT_EQ(r.status, k_exit_problems);
  EXPECT_EQ(lines_with(r.out, "problem"),
            (std::vector<std::string>{fmt::format(
                "problem: {}: position 0: legacy message (magic 0) of 26 bytes: not decoded (only "
                "magic 2 batches are); skipped",
                path)}));
  ASSERT_EQ(lines_with(r.out, "batch").size(), 1u);
  EXPECT_TRUE(
      lines_with(r.out, "batch")[0].starts_with("batch baseOffset: 1 lastOffset: 1 count: 1 "
                                                "position: 26 "));
}

TEST(DumpSegment, OffsetsGoingBackwardsOrBelowTheBaseAreReported) {
  scratch_dir dir;
  segment_bytes seg;
  seg.add(make_batch({.base_offset = 95}, {{"a", "1", {}, k_t0}}));
  seg.add(make_batch({.base_offset = 100}, {{"b", "2", {}, k_t0}, {"c", "3", {}, k_t0}}));
  seg.add(make_batch({.base_offset = 101}, {{"d", "4", {}, k_t0}}));
  const std::string path = dir.file("00000000000000000100.log");
  write_file(path, seg.bytes);

  const tool_output r = run_tool({path});
  EXPECT_EQ(r.status, k_exit_problems);
  EXPECT_EQ(lines_with(r.out, "problem"),
            (std::vector<std::string>{
                fmt::format("problem: {}: position 0: baseOffset 95 is below the segment's base "
                            "offset 100 (from the file name)",
                            path),
                fmt::format("problem: {}: position {}: baseOffset 101 is not above the previous "
                            "batch's last offset 101",
                            path, seg.batches[2].position),
            }));
}

TEST(DumpSegment, RecordsThatDoNotDecodeAreReportedWithDeepOrRecords) {
  scratch_dir dir;
  auto batch = make_batch({}, {{"key", "value", {}, k_t0}});
  // The key length varint of record 0 (after length, attributes, timestamp
  // delta and offset delta: one byte each) becomes -3; the CRC is made to
  // match so only the record decoder can object.
  batch[rec::k_records_pos + 4] = std::byte{0x05};
  store_be32(batch.data() + rec::k_crc_pos, rec::compute_batch_crc(batch));
  const std::string path = dir.file("00000000000000000000.log");
  write_file(path, batch);

  EXPECT_EQ(run_tool({path}).status, k_exit_clean) << "headers alone are fine without --deep";
  const tool_output deep = run_tool({"--deep", path});
  EXPECT_EQ(deep.status, k_exit_problems);
  const auto problems = lines_with(deep.out, "problem");
  ASSERT_EQ(problems.size(), 1u) << deep.out;
  EXPECT_TRUE(problems[0].starts_with(
      fmt::format("problem: {}: position 0: record 0 at batch byte 61", path)))
      << problems[0];
  EXPECT_TRUE(lines_with(deep.out, "  record").empty()) << "--deep checks without printing";
  EXPECT_EQ(lines_with(run_tool({"--records", path}).out, "problem"), problems);
}

TEST(DumpSegment, GarbageAndEmptyFilesNeverCrash) {
  scratch_dir dir;
  const std::string empty = dir.file("00000000000000000000.log");
  write_file(empty, {});
  const tool_output e = run_tool({"--records", "--verify-index", empty});
  EXPECT_EQ(e.status, k_exit_clean) << e.out << e.err;
  EXPECT_TRUE(
      contains(e.out, "batches: 0 records: 0 validBytes: 0 size: 0 verified: true problems: 0"))
      << e.out;

  std::mt19937_64 rng(7);
  std::vector<std::byte> garbage(5000);
  for (auto& b : garbage) b = static_cast<std::byte>(rng());
  const std::string g = dir.file("00000000000000000001.log");
  write_file(g, garbage);
  const tool_output r = run_tool({"--print-values", "--deep", g});
  EXPECT_EQ(r.status, k_exit_problems);
  EXPECT_EQ(lines_with(r.out, "problem").size(), 1u) << r.out;
}

// Seeded: random damage to a valid segment and its indexes never crashes or
// reads out of bounds (ASan builds check the latter), and every outcome is a
// clean run or a reported problem. RINGLOG_SEED=<n> replays a failure.
TEST(DumpSegment, RandomDamageNeverCrashes) {
  uint64_t seed = std::random_device{}();
  if (const char* env = std::getenv("RINGLOG_SEED"); env != nullptr && *env != '\0') {
    seed = std::strtoull(env, nullptr, 10);
  }
  std::printf("[   SEED   ] RINGLOG_SEED=%llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  scratch_dir dir;
  segment_bytes seg;
  for (int b = 0; b < 6; ++b) {
    const auto codec = static_cast<rec::compression>(b % 5);
    seg.add(make_batch({.base_offset = 2 * b, .codec = codec},
                       {{"k", std::string(50 + b, 'x'), {{"h", "v"}}, k_t0 + b},
                        {std::nullopt, "y", {}, k_t0 + b}}));
  }
  seg.add(rec::build_control_batch({.base_offset = 12}));
  write_engine_indexes(dir, seg, 0);
  const std::string log = dir.file("00000000000000000000.log");
  const std::string index = dir.file("00000000000000000000.index");
  const std::string timeindex = dir.file("00000000000000000000.timeindex");
  std::vector<std::byte> index_bytes(std::filesystem::file_size(index));
  std::vector<std::byte> time_bytes(std::filesystem::file_size(timeindex));
  {
    std::ifstream in(index, std::ios::binary);
    in.read(reinterpret_cast<char*>(index_bytes.data()),
            static_cast<std::streamsize>(index_bytes.size()));
    std::ifstream tin(timeindex, std::ios::binary);
    tin.read(reinterpret_cast<char*>(time_bytes.data()),
             static_cast<std::streamsize>(time_bytes.size()));
  }
  const auto damage = [&rng](std::vector<std::byte> bytes) {
    const int flips = static_cast<int>(rng() % 4);
    for (int i = 0; i < flips && !bytes.empty(); ++i) {
      bytes[rng() % bytes.size()] ^= static_cast<std::byte>(1u << (rng() % 8));
    }
    if (rng() % 3 == 0 && !bytes.empty()) bytes.resize(rng() % bytes.size());
    return bytes;
  };
  for (int round = 0; round < 200; ++round) {
    write_file(log, damage(seg.bytes));
    write_file(index, damage(index_bytes));
    write_file(timeindex, damage(time_bytes));
    for (const auto& args :
         std::vector<std::vector<std::string>>{{"--print-values", "--max-bytes", "8", log},
                                               {"--verify-index", "--deep", log},
                                               {"--json", index, timeindex}}) {
      const tool_output r = run_tool(args);
      EXPECT_TRUE(r.status == k_exit_clean || r.status == k_exit_problems)
          << "round " << round << " status " << r.status << "\n"
          << r.out << r.err;
      EXPECT_TRUE(contains(r.out, "summary")) << r.out;
    }
  }
}

TEST(DumpSegment, BatchAboveTheReadLimitGetsAPiecewiseCrcAndANote) {
  scratch_dir dir;
  segment_bytes seg = four_batches();
  const std::string path = dir.file("00000000000000000000.log");
  write_file(path, seg.bytes);
  dump_options options;
  options.records = true;
  options.batch_bytes_max = 100;
  options.read_chunk_bytes = 7;
  const tool_output r = run_files({path}, options);
  EXPECT_EQ(r.status, k_exit_clean) << r.out;
  EXPECT_EQ(lines_with(r.out, "batch").size(), 4u);
  EXPECT_EQ(lines_with(r.out, "note").size(), 4u);
  EXPECT_TRUE(contains(r.out, fmt::format("note: {}: position 0: batch of {} bytes is above the "
                                          "100-byte read limit: its CRC was checked piecewise "
                                          "(valid); header checks and records skipped",
                                          path, seg.batches[0].size)))
      << r.out;

  seg.bytes[seg.batches[2].position + 100] ^= std::byte{1};
  write_file(path, seg.bytes);
  const tool_output bad = run_files({path}, options);
  EXPECT_EQ(bad.status, k_exit_problems);
  const uint32_t computed = rec::compute_batch_crc(
      std::span<const std::byte>(seg.bytes).subspan(seg.batches[2].position, seg.batches[2].size));
  EXPECT_TRUE(contains(bad.out, fmt::format("computed {:#010x}", computed))) << bad.out;
}

TEST(DumpFileReader, WindowStaysBoundedByChunkOrLargestRequest) {
  scratch_dir dir;
  const std::string path = dir.file("f");
  std::vector<std::byte> bytes(10000);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::byte>(i * 7);
  write_file(path, bytes);
  auto file = file_reader::open(path);
  ASSERT_TRUE(file) << file.error().message();
  read_window w(*file, 1000);
  for (uint64_t pos = 0; pos + 300 <= bytes.size(); pos += 300) {
    auto got = w.get(pos, 300);
    ASSERT_TRUE(got);
    ASSERT_TRUE(std::equal(got->begin(), got->end(), bytes.begin() + static_cast<ptrdiff_t>(pos)));
  }
  EXPECT_EQ(w.buffer_bytes(), 1000u);
  auto big = w.get(100, 5000);
  ASSERT_TRUE(big);
  EXPECT_EQ(w.buffer_bytes(), 5000u);
  EXPECT_FALSE(file_reader::open(dir.file("missing")));
}

// ---------------------------------------------------------------- indexes

TEST(DumpIndex, ListsEntriesAndReportsAnUntrimmedZeroAreaAsANote) {
  scratch_dir dir;
  const std::string path = dir.file("00000000000000001000.index");
  {
    auto idx = storage::offset_index::open(path, 1000, 1024, storage::index_access::read_write);
    ASSERT_TRUE(idx);
    ASSERT_TRUE(idx->append(1002, 0));
    ASSERT_TRUE(idx->append(1010, 4200));
    ASSERT_TRUE(idx->persist());
    // Preallocated and not trimmed, as earlier versions left an active index.
    std::filesystem::resize_file(path, 1024);
  }
  const tool_output r = run_tool({path});
  EXPECT_EQ(r.status, k_exit_clean) << r.out;
  EXPECT_EQ(lines_of(r.out),
            (std::vector<std::string>{
                fmt::format("file: {} kind: offset_index baseOffset: 1000 size: 1024", path),
                "entry 0 offset: 1002 position: 0",
                "entry 1 offset: 1010 position: 4200",
                fmt::format("note: {}: position 16: 126 unused slots (bytes 16..1024) are zeros: "
                            "the index was preallocated and not trimmed (written by a Ringlog "
                            "before in-memory active indexes, or by another tool); they are not "
                            "entries",
                            path),
                fmt::format("summary: {} entries: 2 size: 1024 problems: 0", path),
            }));

  const std::string tpath = dir.file("00000000000000001000.timeindex");
  write_file(tpath, time_index_bytes({{k_t0, 2}, {k_t0 + 5, 10}}));
  const tool_output t = run_tool({tpath});
  EXPECT_EQ(t.status, k_exit_clean);
  EXPECT_EQ(
      lines_with(t.out, "entry"),
      (std::vector<std::string>{fmt::format("entry 0 timestamp: {} offset: 1002", k_t0),
                                fmt::format("entry 1 timestamp: {} offset: 1010", k_t0 + 5)}));
}

TEST(DumpIndex, NonZeroBytesAfterTheZeroAreaAndNonMonotonicEntriesAreProblems) {
  scratch_dir dir;
  const std::string path = dir.file("00000000000000000000.index");
  auto bytes = offset_index_bytes({{5, 100}, {9, 50}, {12, 300}});
  bytes.resize(800, std::byte{0});
  bytes[8 * 60 + 5] = std::byte{0x42};
  write_file(path, bytes);

  const tool_output r = run_tool({path});
  EXPECT_EQ(r.status, k_exit_problems);
  EXPECT_EQ(lines_with(r.out, "problem"),
            (std::vector<std::string>{
                fmt::format("problem: {}: entry 1 (byte 8): offset 9 at position 50 does not "
                            "follow entry 0 (offset 5 at position 100): offsets and positions "
                            "must both increase",
                            path),
                fmt::format("problem: {}: entry 60 (byte 485): slot 3 (byte 24) is all zeros, "
                            "so the index is read as 3 entries, but this slot after it is not "
                            "zero: entries after the first zero slot are ignored",
                            path),
            }));

  const std::string tpath = dir.file("00000000000000000000.timeindex");
  write_file(tpath, time_index_bytes({{-4, 0}, {k_t0, 3}, {k_t0, 4}, {k_t0 + 1, 2}}));
  const tool_output t = run_tool({tpath});
  EXPECT_EQ(lines_with(t.out, "problem"),
            (std::vector<std::string>{
                fmt::format("problem: {}: entry 0 (byte 0): timestamp -4 is negative", tpath),
                fmt::format("problem: {}: entry 2 (byte 24): timestamp {} at offset 4 does not "
                            "follow entry 1 (timestamp {} at offset 3): timestamps must increase "
                            "and offsets must not decrease",
                            tpath, k_t0, k_t0),
                fmt::format("problem: {}: entry 3 (byte 36): timestamp {} at offset 2 does not "
                            "follow entry 2 (timestamp {} at offset 4): timestamps must increase "
                            "and offsets must not decrease",
                            tpath, k_t0 + 1, k_t0),
            }));
}

TEST(DumpIndex, SizeThatIsNotWholeEntriesIsAProblemAndEmptyIndexIsClean) {
  scratch_dir dir;
  const std::string path = dir.file("00000000000000000000.index");
  write_file(path, std::vector<std::byte>(13, std::byte{1}));
  const tool_output r = run_tool({path});
  EXPECT_EQ(r.status, k_exit_problems);
  EXPECT_EQ(lines_with(r.out, "problem"),
            (std::vector<std::string>{fmt::format(
                "problem: {}: position 8: size 13 is not a multiple of the 8-byte entry (5 bytes "
                "after the last whole entry); not read",
                path)}));

  write_file(path, {});
  const tool_output e = run_tool({path});
  EXPECT_EQ(e.status, k_exit_clean);
  EXPECT_TRUE(contains(e.out, "entries: 0 size: 0 problems: 0")) << e.out;
}

// ---------------------------------------------------------- --verify-index

TEST(DumpVerifyIndex, EngineWrittenIndexesPass) {
  scratch_dir dir;
  const segment_bytes seg = four_batches(500);
  const std::string log = dir.file("00000000000000000500.log");
  write_file(log, seg.bytes);
  write_engine_indexes(dir, seg, 500);

  const tool_output r = run_tool({"--verify-index", log});
  EXPECT_EQ(r.status, k_exit_clean) << r.out;
  EXPECT_EQ(
      lines_of(r.out),
      (std::vector<std::string>{
          fmt::format("file: {} kind: segment baseOffset: 500 size: {}", log, seg.bytes.size()),
          fmt::format("summary: {} batches: 4 records: 12 validBytes: {} size: {} verified: "
                      "true offsetIndexEntries: 4 timeIndexEntries: 4 problems: 0",
                      log, seg.bytes.size(), seg.bytes.size()),
      }));

  const std::string index = dir.file("00000000000000000500.index");
  const tool_output direct = run_tool({"--verify-index", index});
  EXPECT_EQ(direct.status, k_exit_clean) << direct.out;
  EXPECT_TRUE(contains(direct.out, "entries: 4 size: 32 verified: true problems: 0")) << direct.out;

  const tool_output both = run_tool({"--verify-index", log, index});
  EXPECT_EQ(both.status, k_exit_clean);
  EXPECT_TRUE(contains(both.out,
                       fmt::format("note: {}: verified earlier in this run, with its log", index)))
      << both.out;
}

TEST(DumpVerifyIndex, EachKindOfBadOffsetEntryIsReportedWithItsPosition) {
  scratch_dir dir;
  const segment_bytes seg = four_batches();
  const std::string log = dir.file("00000000000000000000.log");
  write_file(log, seg.bytes);
  const auto& b = seg.batches;
  const auto pos = [&](size_t i) { return static_cast<int32_t>(b[i].position); };
  const std::string index = dir.file("00000000000000000000.index");
  write_file(index, offset_index_bytes({
                        {2, pos(0)},                                         // good
                        {4, pos(1) + 10},                                    // mid-batch
                        {5, pos(2)},                                         // below the batch
                        {20, pos(3)},                                        // beyond the log
                        {21, static_cast<int32_t>(seg.bytes.size() + 100)},  // past the end
                    }));

  const tool_output r = run_tool({"--verify-index", index});
  EXPECT_EQ(r.status, k_exit_problems);
  EXPECT_EQ(lines_with(r.out, "problem"),
            (std::vector<std::string>{
                fmt::format("problem: {}: entry 1 (byte 8): offset 4 at position {}: the position "
                            "is inside the batch at position {} ({} bytes, offsets 3..5), not at "
                            "its start",
                            index, pos(1) + 10, pos(1), b[1].size),
                fmt::format("problem: {}: entry 2 (byte 16): offset 5 at position {}: the batch "
                            "there holds offsets 6..8: an entry below its base offset makes "
                            "lookups of offsets 5..5 start after them",
                            index, pos(2)),
                fmt::format("problem: {}: entry 3 (byte 24): offset 20 at position {}: the batch "
                            "there holds offsets 9..11, not offset 20, and it is beyond the last "
                            "offset of the log (11)",
                            index, pos(3)),
                fmt::format("problem: {}: entry 4 (byte 32): offset 21 at position {}: the "
                            "position is at or past the end of the log (size {})",
                            index, seg.bytes.size() + 100, seg.bytes.size()),
            }));
}

TEST(DumpVerifyIndex, NonMonotonicEntriesAndEntriesPastATornTailAreReported) {
  scratch_dir dir;
  segment_bytes seg = four_batches();
  const auto& b = seg.batches;
  std::vector<std::byte> torn = seg.bytes;
  torn.resize(b[3].position + 30);
  const std::string log = dir.file("00000000000000000000.log");
  write_file(log, torn);
  const std::string index = dir.file("00000000000000000000.index");
  write_file(index, offset_index_bytes({{2, 0},
                                        {8, static_cast<int32_t>(b[2].position)},
                                        {5, static_cast<int32_t>(b[1].position)},
                                        {11, static_cast<int32_t>(b[3].position)}}));

  const tool_output r = run_tool({"--verify-index", log});
  EXPECT_EQ(r.status, k_exit_problems);
  EXPECT_EQ(lines_with(r.out, "problem"),
            (std::vector<std::string>{
                fmt::format("problem: {}: entry 2 (byte 16): offset 5 at position {} does not "
                            "follow entry 1 (offset 8 at position {}): offsets and positions must "
                            "both increase",
                            index, b[1].position, b[2].position),
                fmt::format("problem: {}: position {}: batch length {} runs past the end of "
                            "the file (size {})",
                            log, b[3].position, b[3].size - 12, torn.size()),
                fmt::format("problem: {}: entry 3 (byte 24): offset 11 at position {}: the "
                            "position is past the last readable batch (the log cannot be read "
                            "from position {})",
                            index, b[3].position, b[3].position),
            }));
  EXPECT_TRUE(contains(r.out, fmt::format("note: {}: no {} beside the log: not verified", log,
                                          dir.file("00000000000000000000.timeindex"))))
      << r.out;
}

TEST(DumpVerifyIndex, KafkaMultiBatchAppendEntryIsANoteNotAProblem) {
  scratch_dir dir;
  const segment_bytes seg = four_batches();
  const std::string log = dir.file("00000000000000000000.log");
  write_file(log, seg.bytes);
  // One append of batches 1 and 2, indexed by its last offset (8) at the
  // position where it started (batch 1), as Kafka's LogSegment.append does.
  write_file(dir.file("00000000000000000000.index"),
             offset_index_bytes({{8, static_cast<int32_t>(seg.batches[1].position)}}));
  const tool_output r = run_tool({"--verify-index", log});
  EXPECT_EQ(r.status, k_exit_clean) << r.out;
  EXPECT_EQ(lines_with(r.out, "note").size(), 2u) << r.out;  // and the missing .timeindex
  EXPECT_TRUE(contains(r.out, "entry 0: offset 8 at position")) << r.out;

  // Beyond the next entry's position it is a problem.
  write_file(dir.file("00000000000000000000.index"),
             offset_index_bytes({{8, static_cast<int32_t>(seg.batches[1].position)},
                                 {11, static_cast<int32_t>(seg.batches[2].position)}}));
  const tool_output bad = run_tool({"--verify-index", log});
  EXPECT_EQ(bad.status, k_exit_problems);
  EXPECT_TRUE(contains(bad.out,
                       "not offset 8, nor does any batch after it before the next "
                       "entry's position"))
      << bad.out;
}

TEST(DumpVerifyIndex, TimeIndexEntriesOutsideTheLogOrAboveItsTimestampsAreReported) {
  scratch_dir dir;
  const segment_bytes seg = four_batches();
  const std::string log = dir.file("00000000000000000000.log");
  write_file(log, seg.bytes);
  const std::string timeindex = dir.file("00000000000000000000.timeindex");
  // Batch b has max timestamp k_t0 + 10b + 2 and offsets 3b..3b+2.
  write_file(timeindex, time_index_bytes({
                            {k_t0 + 2, 2},    // good
                            {k_t0 + 15, 5},   // above batch 1's max (k_t0 + 12)
                            {k_t0 + 22, 8},   // good
                            {k_t0 + 40, 30},  // beyond the log
                        }));
  const tool_output r = run_tool({"--verify-index", timeindex});
  EXPECT_EQ(r.status, k_exit_problems);
  EXPECT_EQ(lines_with(r.out, "problem"),
            (std::vector<std::string>{
                fmt::format("problem: {}: entry 1 (byte 12): timestamp {} at offset 5: the "
                            "timestamp is above the largest batch max timestamp up to that offset "
                            "({})",
                            timeindex, k_t0 + 15, k_t0 + 12),
                fmt::format("problem: {}: entry 3 (byte 36): timestamp {} at offset 30: the offset "
                            "is beyond the last offset of the log (11)",
                            timeindex, k_t0 + 40),
            }));
}

// ------------------------------------------------------------- checkpoints

TEST(DumpCheckpoint, PrintsEntriesOfBothKinds) {
  scratch_dir dir;
  const std::string offsets = dir.file("recovery-point-offset-checkpoint");
  write_text(offsets, "0\n2\norders 0 1500\norders 1 700\n");
  const std::string epochs = dir.file("leader-epoch-checkpoint");
  write_text(epochs, "0\n2\n0 0\n3 1200\n");
  const std::string empty = dir.file("log-start-offset-checkpoint");
  write_text(empty, "");

  const size_t offsets_size = std::filesystem::file_size(offsets);
  const size_t epochs_size = std::filesystem::file_size(epochs);
  const tool_output r = run_tool({offsets, epochs, empty});
  EXPECT_EQ(r.status, k_exit_clean) << r.out << r.err;
  EXPECT_EQ(lines_of(r.out),
            (std::vector<std::string>{
                fmt::format("file: {} kind: offset_checkpoint size: {}", offsets, offsets_size),
                "entry topic: orders partition: 0 offset: 1500",
                "entry topic: orders partition: 1 offset: 700",
                fmt::format("summary: {} entries: 2 size: {} problems: 0", offsets, offsets_size),
                fmt::format("file: {} kind: leader_epoch_checkpoint size: {}", epochs, epochs_size),
                "entry epoch: 0 startOffset: 0",
                "entry epoch: 3 startOffset: 1200",
                fmt::format("summary: {} entries: 2 size: {} problems: 0", epochs, epochs_size),
                fmt::format("file: {} kind: offset_checkpoint size: 0", empty),
                fmt::format("summary: {} entries: 0 size: 0 problems: 0", empty),
            }));

  const tool_output j = run_tool({"--json", offsets, epochs});
  for (const std::string& l : lines_of(j.out)) EXPECT_TRUE(json_checker(l).valid()) << l;
  EXPECT_TRUE(contains(j.out, fmt::format("{{\"type\":\"checkpoint_entry\",\"file\":\"{}\","
                                          "\"topic\":\"orders\",\"partition\":1,\"offset\":700}}",
                                          offsets)));
  EXPECT_TRUE(contains(j.out, fmt::format("{{\"type\":\"leader_epoch_entry\",\"file\":\"{}\","
                                          "\"epoch\":3,\"startOffset\":1200}}",
                                          epochs)));
}

TEST(DumpCheckpoint, MalformedFileReportsItsLine) {
  scratch_dir dir;
  const std::string path = dir.file("replication-offset-checkpoint");
  write_text(path, "0\n2\norders 0 1500\norders x 700\n");
  const tool_output r = run_tool({path});
  EXPECT_EQ(r.status, k_exit_problems);
  EXPECT_EQ(lines_with(r.out, "problem"),
            (std::vector<std::string>{
                fmt::format("problem: {}:4: partition is not a number: 'x'", path)}));

  const tool_output j = run_tool({"--json", path});
  EXPECT_TRUE(contains(j.out,
                       "\"kind\":\"checkpoint\",\"position\":null,\"entry\":null,\"line\":4,"
                       "\"message\":\"partition is not a number: 'x'\""))
      << j.out;

  const std::string epochs = dir.file("leader-epoch-checkpoint");
  write_text(epochs, "0\n3\n1 10\n");
  EXPECT_EQ(lines_with(run_tool({epochs}).out, "problem"),
            (std::vector<std::string>{
                fmt::format("problem: {}:4: expected 3 entries (line 2), found 1", epochs)}));
}

// ------------------------------------------------------------ exit status

TEST(DumpUsage, ExitStatusesAndUsageErrors) {
  scratch_dir dir;
  const std::string log = dir.file("00000000000000000000.log");
  write_file(log, make_batch({}, {{"k", "v", {}, k_t0}}));

  EXPECT_EQ(run_tool({log}).status, k_exit_clean);

  const tool_output help = run_tool({"--help"});
  EXPECT_EQ(help.status, k_exit_clean);
  EXPECT_TRUE(help.out.starts_with("usage: ringlog-dump [OPTIONS] FILE..."));
  for (const char* word :
       {"--records", "--print-data-log", "--print-values", "--encoding", "--max-bytes", "--deep",
        "--verify-index", "--json", "Exit status", "Examples"}) {
    EXPECT_TRUE(contains(help.out, word)) << word;
  }

  struct usage_case {
    std::vector<std::string> args;
    std::string err;
  };
  const std::vector<usage_case> cases = {
      {{}, "ringlog-dump: no FILE given (see --help)\n"},
      {{"--bogus", log}, "ringlog-dump: unknown option --bogus (see --help)\n"},
      {{"--encoding", "base64", log},
       "ringlog-dump: --encoding base64: expected utf8 or hex (see --help)\n"},
      {{"--max-bytes", "-1", log},
       "ringlog-dump: --max-bytes -1: expected a number of bytes (0 = no cut) (see --help)\n"},
      {{"--json=yes", log}, "ringlog-dump: --json takes no value (see --help)\n"},
      {{"--max-bytes"}, "ringlog-dump: --max-bytes needs a number of bytes (see --help)\n"},
      {{dir.file("notes.txt")},
       fmt::format("ringlog-dump: {}: cannot tell what \"notes.txt\" is from its name: "
                   "ringlog-dump reads NNNNNNNNNNNNNNNNNNNN.log, .index and .timeindex files and "
                   "the checkpoint files (see --help)\n",
                   dir.file("notes.txt"))},
      {{dir.file("12.index")},
       fmt::format("ringlog-dump: {}: cannot take the base offset from the name \"12.index\": "
                   "segment files are named by it in 20 digits, like 00000000000000001000.index\n",
                   dir.file("12.index"))},
  };
  for (const usage_case& c : cases) {
    const tool_output r = run_tool(c.args);
    EXPECT_EQ(r.status, k_exit_usage) << r.err;
    EXPECT_EQ(r.err, c.err);
    EXPECT_EQ(r.out, "") << "usage errors come before any output";
  }

  // A file that cannot be read: reported on stderr, the others still dumped.
  const std::string missing = dir.file("00000000000000000099.log");
  const tool_output r = run_tool({missing, log});
  EXPECT_EQ(r.status, k_exit_usage);
  EXPECT_TRUE(
      contains(r.err, "ringlog-dump: open: No such file or directory (errno 2): " + missing))
      << r.err;
  EXPECT_EQ(lines_with(r.out, "batch").size(), 1u);

  // A problem (1) and an unreadable file (2): 2 wins.
  const std::string bad = dir.file("00000000000000000001.log");
  write_file(bad, std::vector<std::byte>(5, std::byte{1}));
  EXPECT_EQ(run_tool({bad}).status, k_exit_problems);
  EXPECT_EQ(run_tool({bad, missing}).status, k_exit_usage);

  // A non-20-digit .log is dumped without its base offset, but cannot be verified.
  const std::string copy = dir.file("copy.log");
  write_file(copy, make_batch({}, {{"k", "v", {}, k_t0}}));
  const tool_output c = run_tool({copy});
  EXPECT_EQ(c.status, k_exit_clean);
  EXPECT_TRUE(contains(c.out, "kind: segment baseOffset: unknown")) << c.out;
  EXPECT_EQ(run_tool({"--verify-index", copy}).status, k_exit_usage);
}

TEST(DumpUsage, IdentifiesFilesByName) {
  std::string why;
  auto seg = identify("/d/t-0/00000000000000001234.log.deleted", false, why);
  ASSERT_TRUE(seg) << why;
  EXPECT_EQ(seg->kind, file_kind::segment);
  EXPECT_EQ(seg->base_offset, 1234);
  EXPECT_EQ(seg->sibling(".timeindex"), "/d/t-0/00000000000000001234.timeindex.deleted");
  auto idx = identify("00000000000000000007.index", false, why);
  ASSERT_TRUE(idx);
  EXPECT_EQ(idx->kind, file_kind::offset_index);
  EXPECT_EQ(idx->sibling(".log"), "00000000000000000007.log");
  EXPECT_EQ(identify("x/leader-epoch-checkpoint", false, why)->kind,
            file_kind::leader_epoch_checkpoint);
  EXPECT_EQ(identify("cleaner-offset-checkpoint", false, why)->kind, file_kind::offset_checkpoint);
  EXPECT_FALSE(identify("00000000000000000000.txnindex", false, why));
  EXPECT_TRUE(contains(why, "not read by ringlog-dump")) << why;
  EXPECT_FALSE(identify("dir/", false, why));
}

}  // namespace
}  // namespace ringlog::dump
