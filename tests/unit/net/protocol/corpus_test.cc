// Frames from outside our code: the request_fuzz seeds (tests/fuzz/corpus/
// request_fuzz/), written by kafka-python's protocol classes ("kp-*") and by
// hand for flexible versions ("flex-*"), must decode whole with our codecs,
// and kafka-python's frames must re-encode byte for byte.
//
// Then a seeded property test: random mutations of valid frames (byte flips,
// cuts, insertions) decode to ok or to a clean failure, never a crash, and
// whatever decodes re-encodes stably. RINGLOG_SEED=N replays a run.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "net/protocol/api/all.h"
#include "net/protocol/api/all_testing.h"
#include "net/protocol/api/api_table.h"
#include "net/protocol/api/request_header.h"
#include "net/protocol/wire.h"
#include "tests/unit/net/protocol/bytes_util.h"

namespace ringlog::protocol {
namespace {

using testutil::hex;

std::vector<std::byte> read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<char> chars((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> out(chars.size());
  for (size_t i = 0; i < chars.size(); ++i) out[i] = static_cast<std::byte>(chars[i]);
  return out;
}

// Decodes body as M at version; returns whether it decoded whole, and the
// re-encoding in `reencoded`.
template <class M>
bool decode_whole(std::span<std::byte> body, int16_t version, std::string& error,
                  std::vector<std::byte>& reencoded) {
  wire_reader r(body);
  M m;
  m.decode(r, version);
  if (!r.ok()) {
    error = r.error_message();
    return false;
  }
  if (r.remaining() != 0) {
    error = std::to_string(r.remaining()) + " bytes left after the body";
    return false;
  }
  wire_writer w(false);
  m.encode(w, version);
  reencoded = w.memory();
  return true;
}

bool decode_request(int16_t key, int16_t version, std::span<std::byte> body, std::string& error,
                    std::vector<std::byte>& reencoded) {
  switch (key) {
#define RINGLOG_CORPUS_CASE(api) \
  case api##_request::api_key:   \
    return decode_whole<api##_request>(body, version, error, reencoded);
    RINGLOG_PROTOCOL_FOR_EACH_API(RINGLOG_CORPUS_CASE)
#undef RINGLOG_CORPUS_CASE
    default:
      error = "api key not declared";
      return false;
  }
}

TEST(CorpusFrames, EveryIndependentlyEncodedRequestDecodesWhole) {
  const std::filesystem::path dir =
      std::filesystem::path(RINGLOG_SOURCE_DIR) / "tests/fuzz/corpus/request_fuzz";
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  size_t seen = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    SCOPED_TRACE(name);
    auto frame = read_file(entry.path());
    wire_reader r(frame);
    request_header h;
    ASSERT_TRUE(decode_request_header(r, h)) << r.error_message();
    const api_spec* api = find_api(h.api_key);
    ASSERT_NE(api, nullptr);
    ASSERT_GE(h.api_version, api->min_version);
    ASSERT_LE(h.api_version, api->max_version);
    auto body = std::span<std::byte>(frame).subspan(r.position());
    std::string error;
    std::vector<std::byte> reencoded;
    ASSERT_TRUE(decode_request(h.api_key, h.api_version, body, error, reencoded))
        << api->name << " v" << h.api_version << ": " << error;
    if (name.starts_with("kp-")) {
      EXPECT_EQ(hex(reencoded), hex(body)) << api->name << " v" << h.api_version;
    }
    ++seen;
  }
  EXPECT_GE(seen, 30u);
}

uint64_t seed_from_env() {
  if (const char* s = std::getenv("RINGLOG_SEED")) return std::strtoull(s, nullptr, 10);
  return std::random_device{}();
}

template <class M>
void mutate_and_decode(const char* name, std::mt19937_64& rng) {
  for (int16_t v = M::min_version; v <= M::max_version; ++v) {
    M in;
    testing::fill(in, v, (rng() & 1) != 0);
    wire_writer w(false);
    in.encode(w, v);
    const std::vector<std::byte> valid = w.memory();
    for (int round = 0; round < 40; ++round) {
      std::vector<std::byte> bytes = valid;
      const int edits = 1 + static_cast<int>(rng() % 4);
      for (int e = 0; e < edits && !bytes.empty(); ++e) {
        const size_t at = rng() % bytes.size();
        switch (rng() % 4) {
          case 0:
            bytes[at] = static_cast<std::byte>(rng());
            break;
          case 1:
            bytes[at] = std::byte{0xff};  // -1 lengths, huge varints
            break;
          case 2:
            bytes.resize(at);
            break;
          default:
            bytes.insert(bytes.begin() + static_cast<ptrdiff_t>(at), static_cast<std::byte>(rng()));
            break;
        }
      }
      wire_reader r(bytes);
      M out;
      out.decode(r, v);
      if (!r.ok()) {
        EXPECT_FALSE(r.error_message().empty());
        continue;
      }
      wire_writer once(false);
      out.encode(once, v);
      std::vector<std::byte> first = once.memory();
      wire_reader r2(first);
      M again;
      again.decode(r2, v);
      ASSERT_TRUE(r2.ok()) << name << " v" << v << ": " << r2.error_message();
      wire_writer twice(false);
      again.encode(twice, v);
      ASSERT_EQ(twice.memory(), first) << name << " v" << v;
    }
  }
}

TEST(MutatedFrames, FailCleanlyOrRoundTripStably) {
  const uint64_t seed = seed_from_env();
  RecordProperty("seed", std::to_string(seed));
  std::printf("RINGLOG_SEED=%llu\n", static_cast<unsigned long long>(seed));
  SCOPED_TRACE("RINGLOG_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
#define RINGLOG_MUTATE(api)                               \
  mutate_and_decode<api##_request>(#api "_request", rng); \
  mutate_and_decode<api##_response>(#api "_response", rng);
  RINGLOG_PROTOCOL_FOR_EACH_API(RINGLOG_MUTATE)
#undef RINGLOG_MUTATE
}

}  // namespace
}  // namespace ringlog::protocol
