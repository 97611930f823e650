// Every declared message at every declared version, through the generated
// codecs: a populated value encodes, decodes to the same value (fields absent
// in the version come back as their defaults) and re-encodes to the same
// bytes; every truncation of those bytes fails cleanly; a decoded object
// reused for another decode holds exactly the new message.
//
// The populated values come from the generated *_testing.h fill() functions:
// every field non-default, so a field the codec forgot would show up.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "net/protocol/api/all.h"
#include "net/protocol/api/all_testing.h"
#include "net/protocol/api/api_table.h"
#include "net/protocol/wire.h"
#include "tests/unit/net/protocol/bytes_util.h"

namespace ringlog::protocol {
namespace {

using testutil::hex;

template <class M>
std::vector<std::byte> encode(const M& m, int16_t version) {
  wire_writer w(false);
  m.encode(w, version);
  return w.memory();
}

// nulls=false: populated with every field of every version, expecting only
// the fields of `version` back. nulls=true: only the version's fields, with
// every nullable one null.
template <class M>
void check_round_trip(const char* name, int16_t version, bool nulls) {
  SCOPED_TRACE(std::string(name) + " v" + std::to_string(version) + (nulls ? " with nulls" : ""));
  M in;
  testing::fill(in, nulls ? version : int16_t{-1}, nulls);
  M expected;
  testing::fill(expected, version, nulls);

  std::vector<std::byte> bytes = encode(in, version);
  EXPECT_EQ(encode(expected, version), bytes) << "fields absent in the version were written";

  wire_reader r(bytes);
  M out;
  out.decode(r, version);
  ASSERT_TRUE(r.ok()) << r.error_message() << "\n" << hex(bytes);
  EXPECT_EQ(r.remaining(), 0u);
  EXPECT_TRUE(out == expected) << "decoded value differs; bytes " << hex(bytes) << "\nre-encoded "
                               << hex(encode(out, version));
  EXPECT_EQ(encode(out, version), bytes);

  // A reused object (full of other values) must end up equal as well.
  M reused;
  testing::fill(reused, -1, false);
  wire_reader r2(bytes);
  reused.decode(r2, version);
  ASSERT_TRUE(r2.ok()) << r2.error_message();
  EXPECT_TRUE(reused == expected) << "decoding into a used object kept stale fields";
}

template <class M>
void check_truncations(const char* name, int16_t version) {
  SCOPED_TRACE(std::string(name) + " v" + std::to_string(version));
  M in;
  testing::fill(in, version, false);
  std::vector<std::byte> bytes = encode(in, version);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    std::vector<std::byte> prefix(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(cut));
    wire_reader r(prefix);
    M out;
    out.decode(r, version);
    EXPECT_FALSE(r.ok()) << "decoded a frame cut at byte " << cut << " of " << bytes.size();
    EXPECT_FALSE(r.error_message().empty());
  }
}

template <class M>
void check_all_versions(const char* name) {
  static_assert(M::min_version <= M::max_version);
  for (int16_t v = M::min_version; v <= M::max_version; ++v) {
    check_round_trip<M>(name, v, false);
    check_round_trip<M>(name, v, true);
    check_truncations<M>(name, v);
  }
}

#define RINGLOG_ROUND_TRIP_TEST(api)                                                     \
  TEST(RoundTrip, api##_request) { check_all_versions<api##_request>(#api "_request"); } \
  TEST(RoundTrip, api##_response) { check_all_versions<api##_response>(#api "_response"); }
RINGLOG_PROTOCOL_FOR_EACH_API(RINGLOG_ROUND_TRIP_TEST)
#undef RINGLOG_ROUND_TRIP_TEST

TEST(ApiTable, ListsEveryDeclaredApiOnceSortedByKey) {
  auto apis = declared_apis();
  ASSERT_FALSE(apis.empty());
  for (size_t i = 0; i < apis.size(); ++i) {
    if (i > 0) {
      EXPECT_LT(apis[i - 1].key, apis[i].key);
    }
    EXPECT_EQ(find_api(apis[i].key), &apis[i]);
    EXPECT_LE(apis[i].min_version, apis[i].max_version);
  }
  const api_spec* produce = find_api(produce_request::api_key);
  ASSERT_NE(produce, nullptr);
  EXPECT_STREQ(produce->name, "Produce");
  EXPECT_EQ(produce->max_version, 11);
  EXPECT_EQ(produce->flexible_from, 9);
  EXPECT_EQ(find_api(sasl_handshake_request::api_key)->flexible_from, k_never_flexible);
  EXPECT_EQ(find_api(-1), nullptr);
  EXPECT_EQ(find_api(4), nullptr);  // LeaderAndIsr: never ours
  EXPECT_EQ(find_api(10000), nullptr);
}

TEST(GeneratedDefaults, MembersStartWithKafkasDefaults) {
  fetch_request f;
  EXPECT_EQ(f.replica_id, -1);
  EXPECT_EQ(f.max_bytes, 0x7fffffff);
  EXPECT_EQ(f.session_epoch, -1);
  EXPECT_EQ(f.replica_state.replica_epoch, -1);
  EXPECT_FALSE(f.cluster_id.has_value());
  fetch_request::fetch_partition p;
  EXPECT_EQ(p.current_leader_epoch, -1);
  EXPECT_EQ(p.log_start_offset, -1);
  metadata_request m;
  EXPECT_TRUE(m.allow_auto_topic_creation);
  ASSERT_TRUE(m.topics.has_value());  // nullable, default empty (not null)
  metadata_response mr;
  EXPECT_EQ(mr.cluster_authorized_operations, std::numeric_limits<int32_t>::min());
  EXPECT_FALSE(mr.cluster_id.has_value());
  create_topics_request c;
  EXPECT_EQ(c.timeout_ms, 60000);
  list_offsets_request::list_offsets_partition lp;
  EXPECT_EQ(lp.max_num_offsets, 1);
  describe_cluster_request d;
  EXPECT_EQ(d.endpoint_type, 1);
}

}  // namespace
}  // namespace ringlog::protocol
