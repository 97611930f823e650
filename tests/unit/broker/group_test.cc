// The classic group state machine driven directly under a fake clock: the
// join/sync rendezvous and generations, MEMBER_ID_REQUIRED, protocol vote
// and INCONSISTENT_GROUP_PROTOCOL, session expiry, rebalance timeout, the
// initial rebalance delay, group.max.size, static membership (rejoin keeps
// the assignment, a duplicate fences), LeaveGroup, commit validation, and
// the __consumer_offsets partition of a group id (Java's String.hashCode),
// and the __consumer_offsets record formats (byte layouts as Kafka writes
// them, round trips, bad input) with a group's snapshot and restore.
#include "broker/group/group.h"

#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "broker/group/group_coordinator.h"
#include "broker/group/group_records.h"
#include "engine/runtime/shard.h"
#include "engine/runtime/spawn.h"

namespace ringlog::broker {
namespace {

std::vector<std::byte> bytes(std::string_view s) {
  std::vector<std::byte> out;
  for (char c : s) out.push_back(static_cast<std::byte>(c));
  return out;
}

struct harness {
  group_limits limits;
  int next_id = 0;
  std::unique_ptr<group> g;
  int64_t now = 1'000'000;

  explicit harness(int32_t initial_delay_ms = 0, int32_t max_size = 1'000) {
    limits.initial_rebalance_delay_ms = initial_delay_ms;
    limits.max_size = max_size;
    g = std::make_unique<group>("g", limits, [this](std::string_view client) {
      return std::string(client) + "-" + std::to_string(++next_id);
    });
  }
  ~harness() { g->shut(kafka_error::coordinator_not_available); }

  join_params params(std::string member_id = "", std::vector<std::string> protocols = {"range"},
                     std::optional<std::string> instance = std::nullopt) {
    join_params p;
    p.member_id = std::move(member_id);
    p.group_instance_id = std::move(instance);
    p.client_id = "c";
    p.client_host = "/127.0.0.1";
    p.session_timeout_ms = 10'000;
    p.rebalance_timeout_ms = 20'000;
    p.require_known_member_id = true;  // JoinGroup v4+
    p.protocol_type = "consumer";
    for (auto& name : protocols) p.protocols.push_back({name, bytes(name)});
    return p;
  }

  // Joins and returns a slot that the group fills now or later.
  std::shared_ptr<std::optional<join_result>> join(join_params p) {
    auto slot = std::make_shared<std::optional<join_result>>();
    g->join(std::move(p), now, [slot](join_result r) { *slot = std::move(r); });
    return slot;
  }
  std::shared_ptr<std::optional<sync_result>> sync(
      int32_t gen, const std::string& member, std::map<std::string, std::vector<std::byte>> a = {},
      std::optional<std::string> instance = std::nullopt) {
    auto slot = std::make_shared<std::optional<sync_result>>();
    g->sync(gen, member, instance, std::nullopt, std::nullopt, std::move(a), now,
            [slot](sync_result r) { *slot = std::move(r); });
    return slot;
  }
  // A new member through the MEMBER_ID_REQUIRED dance.
  std::shared_ptr<std::optional<join_result>> join_new(std::vector<std::string> protocols = {
                                                           "range"}) {
    auto first = join(params("", protocols));
    EXPECT_TRUE(first->has_value());
    EXPECT_EQ((*first)->error, kafka_error::member_id_required);
    return join(params((*first)->member_id, protocols));
  }
  void advance(int64_t ms) {
    now += ms;
    g->tick(now);
  }
};

TEST(Group, SingleMemberJoinsSyncsAndBecomesStable) {
  harness h;
  auto j = h.join_new();
  ASSERT_TRUE(j->has_value()) << "a lone member's join completes at once without a delay";
  const join_result& r = **j;
  EXPECT_EQ(r.error, kafka_error::none);
  EXPECT_EQ(r.generation_id, 1);
  EXPECT_EQ(r.leader, r.member_id);
  EXPECT_EQ(r.protocol_name, "range");
  ASSERT_EQ(r.members.size(), 1u);
  EXPECT_EQ(h.g->state(), group_state::completing_rebalance);
  auto s = h.sync(1, r.member_id, {{r.member_id, bytes("A")}});
  ASSERT_TRUE(s->has_value());
  EXPECT_EQ((*s)->assignment, bytes("A"));
  EXPECT_EQ(h.g->state(), group_state::stable);
  EXPECT_EQ(h.g->heartbeat(1, r.member_id, std::nullopt, h.now), kafka_error::none);
  EXPECT_EQ(h.g->heartbeat(0, r.member_id, std::nullopt, h.now), kafka_error::illegal_generation);
  EXPECT_EQ(h.g->heartbeat(1, "nobody", std::nullopt, h.now), kafka_error::unknown_member_id);
}

TEST(Group, FirstJoinV4NeedsMemberIdAndPendingMemberExpires) {
  harness h;
  auto first = h.join(h.params());
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ((*first)->error, kafka_error::member_id_required);
  EXPECT_EQ((*first)->member_id, "c-1");
  EXPECT_EQ(h.g->pending_members(), 1u);
  h.advance(10'001);
  EXPECT_EQ(h.g->pending_members(), 0u);
  auto late = h.join(h.params("c-1"));
  EXPECT_EQ((*late)->error, kafka_error::unknown_member_id);
}

TEST(Group, SecondMemberRebalancesAndLeaderAssignsBoth) {
  harness h;
  auto a = h.join_new();
  const std::string ida = (*a)->member_id;
  h.sync(1, ida, {{ida, bytes("all")}});
  ASSERT_EQ(h.g->state(), group_state::stable);

  auto b = h.join_new();
  EXPECT_FALSE(b->has_value()) << "the new member waits for the old one to rejoin";
  EXPECT_EQ(h.g->state(), group_state::preparing_rebalance);
  EXPECT_EQ(h.g->heartbeat(1, ida, std::nullopt, h.now), kafka_error::rebalance_in_progress);
  EXPECT_EQ(h.g->validate_commit(1, ida, std::nullopt, h.now), kafka_error::none)
      << "Kafka accepts commits of the current generation while preparing";
  auto a2 = h.join(h.params(ida));
  ASSERT_TRUE(a2->has_value() && b->has_value());
  EXPECT_EQ((*a2)->generation_id, 2);
  EXPECT_EQ((*a2)->leader, ida);
  EXPECT_EQ((*a2)->members.size(), 2u);
  EXPECT_TRUE((*b)->members.empty()) << "only the leader gets the members";
  const std::string idb = (*b)->member_id;

  EXPECT_EQ(h.g->validate_commit(2, ida, std::nullopt, h.now), kafka_error::rebalance_in_progress);
  auto sb = h.sync(2, idb);
  EXPECT_FALSE(sb->has_value()) << "a follower waits for the leader's assignment";
  auto sa = h.sync(2, ida, {{ida, bytes("p0")}, {idb, bytes("p1")}});
  ASSERT_TRUE(sa->has_value() && sb->has_value());
  EXPECT_EQ((*sb)->assignment, bytes("p1"));
  EXPECT_EQ(h.g->validate_commit(2, idb, std::nullopt, h.now), kafka_error::none);
  EXPECT_EQ(h.g->validate_commit(1, idb, std::nullopt, h.now), kafka_error::illegal_generation);
}

TEST(Group, MemberThatDoesNotRejoinIsRemovedAtTheRebalanceTimeout) {
  harness h;
  auto a = h.join_new();
  const std::string ida = (*a)->member_id;
  h.sync(1, ida, {});
  auto b = h.join_new();
  ASSERT_FALSE(b->has_value());
  // a keeps heartbeating (REBALANCE_IN_PROGRESS) but never rejoins.
  for (int i = 0; i < 4; ++i) {
    h.advance(4'999);
    EXPECT_EQ(h.g->heartbeat(1, ida, std::nullopt, h.now), kafka_error::rebalance_in_progress);
  }
  h.advance(3);
  EXPECT_FALSE(b->has_value());
  h.advance(2);
  ASSERT_TRUE(b->has_value());
  EXPECT_EQ((*b)->generation_id, 2);
  EXPECT_EQ((*b)->leader, (*b)->member_id) << "the only member left leads";
  EXPECT_EQ(h.g->members().size(), 1u);
}

TEST(Group, NewMemberParkedPastTheJoinTimeoutIsDropped) {
  harness h;
  auto a = h.join_new();
  const std::string ida = (*a)->member_id;
  h.sync(1, ida, {});
  // a's rebalance timeout is long (10 min): the join phase would wait that
  // long for it, but a new member's parked join lasts 5 min at most.
  auto pa = h.params(ida);
  pa.rebalance_timeout_ms = 600'000;
  auto a2 = h.join(std::move(pa));
  ASSERT_TRUE(a2->has_value());
  auto sa = h.sync((*a2)->generation_id, ida, {});
  ASSERT_EQ(h.g->state(), group_state::stable);

  auto b = h.join_new();
  ASSERT_FALSE(b->has_value());
  ASSERT_EQ(h.g->state(), group_state::preparing_rebalance);
  for (int64_t t = 0; t < k_new_member_join_timeout_ms - 5'000; t += 5'000) {
    h.advance(5'000);
    EXPECT_EQ(h.g->heartbeat((*a2)->generation_id, ida, std::nullopt, h.now),
              kafka_error::rebalance_in_progress);
  }
  EXPECT_FALSE(b->has_value()) << "still inside the new member's join timeout";
  h.advance(5'000);
  ASSERT_TRUE(b->has_value());
  EXPECT_EQ((*b)->error, kafka_error::unknown_member_id);
  EXPECT_EQ(h.g->members().size(), 1u) << "the old member stays";
  EXPECT_EQ(h.g->members().count(ida), 1u);
}

TEST(Group, SessionTimeoutExpiresASilentMember) {
  harness h;
  auto a = h.join_new();
  const std::string ida = (*a)->member_id;
  h.sync(1, ida, {});
  h.advance(9'000);
  EXPECT_EQ(h.g->heartbeat(1, ida, std::nullopt, h.now), kafka_error::none);
  h.advance(9'000);
  EXPECT_EQ(h.g->members().size(), 1u) << "the heartbeat moved the deadline";
  h.advance(1'001);
  EXPECT_TRUE(h.g->members().empty());
  EXPECT_EQ(h.g->state(), group_state::empty);
  EXPECT_EQ(h.g->generation(), 2);
}

// What a lookup of the coordinator sees right after the last member's
// session ended, on a manual clock with no background tick running.
struct expiry_seen {
  size_t members_before = 0;
  size_t members_after = 0;
  group_state state_after = group_state::dead;
};

task<expiry_seen> look_just_after_the_session_ends(manual_clock* time) {
  group_limits limits;
  limits.initial_rebalance_delay_ms = 0;
  group_coordinator gc(limits, *time);
  group& g = gc.get_or_create("g");
  join_params p;
  p.group_instance_id = "static-1";
  p.client_id = "c";
  p.client_host = "/127.0.0.1";
  p.session_timeout_ms = 6'000;
  p.rebalance_timeout_ms = 6'000;
  p.protocol_type = "consumer";
  p.protocols.push_back({"range", bytes("range")});
  const int64_t now_ms = time->monotonic_ns() / 1'000'000;
  std::optional<join_result> joined;
  g.join(std::move(p), now_ms, [&](join_result r) { joined = std::move(r); });
  expiry_seen seen;
  if (!joined || joined->error != kafka_error::none) co_return seen;
  std::optional<sync_result> synced;
  g.sync(joined->generation_id, joined->member_id, std::string("static-1"), std::nullopt,
         std::nullopt, {{joined->member_id, bytes("A")}}, now_ms,
         [&](sync_result r) { synced = std::move(r); });
  time->advance_ns(5'999'000'000);
  seen.members_before = gc.find("g")->members().size();
  time->advance_ns(4'000'000);  // 3 ms past the deadline
  const group* after = gc.find("g");
  seen.members_after = after->members().size();
  seen.state_after = after->state();
  gc.stop();
  co_return seen;
}

TEST(GroupCoordinator, ALookupExpiresSessionsAtTheirDeadlineNotAtTheNextTick) {
  runtime rt(runtime_options{.shards = 1, .pin_threads = false});
  ASSERT_TRUE(rt.start());
  manual_clock time(1'000'000'000'000);
  const expiry_seen seen = rt.block_on(0, look_just_after_the_session_ends(&time));
  rt.stop();
  EXPECT_EQ(seen.members_before, 1u) << "1 ms before the deadline the static member is there";
  EXPECT_EQ(seen.members_after, 0u) << "3 ms after it, the lookup has removed it";
  EXPECT_EQ(seen.state_after, group_state::empty) << "so DeleteGroups finds the group Empty";
}

TEST(Group, LeaveTriggersAnImmediateRebalance) {
  harness h;
  auto a = h.join_new();
  const std::string ida = (*a)->member_id;
  h.sync(1, ida, {});
  auto b = h.join_new();
  auto a2 = h.join(h.params(ida));
  ASSERT_TRUE(b->has_value());
  const std::string idb = (*b)->member_id;
  h.sync(2, ida, {});
  h.sync(2, idb, {});
  ASSERT_EQ(h.g->state(), group_state::stable);
  EXPECT_EQ(h.g->leave(ida, std::nullopt, h.now), kafka_error::none);
  EXPECT_EQ(h.g->state(), group_state::preparing_rebalance);
  EXPECT_EQ(h.g->leader(), idb);
  EXPECT_EQ(h.g->heartbeat(2, idb, std::nullopt, h.now), kafka_error::rebalance_in_progress);
  auto b2 = h.join(h.params(idb));
  ASSERT_TRUE(b2->has_value()) << "the remaining member completes the join alone";
  EXPECT_EQ((*b2)->generation_id, 3);
  EXPECT_EQ(h.g->leave(ida, std::nullopt, h.now), kafka_error::unknown_member_id);
}

TEST(Group, ProtocolVoteAndInconsistentProtocol) {
  harness h;
  auto a = h.join_new({"roundrobin", "range"});
  const std::string ida = (*a)->member_id;
  EXPECT_EQ((*a)->protocol_name, "roundrobin");
  h.sync(1, ida, {});
  auto bad = h.join(h.params("", {"sticky"}));
  EXPECT_EQ((*bad)->error, kafka_error::inconsistent_group_protocol);
  auto wrong_type = h.params("", {"range"});
  wrong_type.protocol_type = "connect";
  EXPECT_EQ((*h.join(std::move(wrong_type)))->error, kafka_error::inconsistent_group_protocol);
  auto b = h.join_new({"range"});
  h.join(h.params(ida, {"roundrobin", "range"}));
  ASSERT_TRUE(b->has_value());
  EXPECT_EQ((*b)->protocol_name, "range") << "only range is supported by both";
}

TEST(Group, InitialRebalanceDelayHoldsTheFirstJoin) {
  harness h(3'000);
  auto a = h.join_new();
  EXPECT_FALSE(a->has_value());
  h.advance(2'000);
  auto b = h.join_new();
  h.advance(2'000);
  EXPECT_FALSE(a->has_value()) << "the newcomer extended the delay";
  h.advance(1'001);
  ASSERT_TRUE(a->has_value() && b->has_value());
  EXPECT_EQ((*a)->generation_id, 1);
  EXPECT_EQ((*a)->members.size(), 2u);
}

TEST(Group, GroupMaxSizeRefusesNewMembers) {
  harness h(0, 1);
  auto a = h.join_new();
  h.sync(1, (*a)->member_id, {});
  auto b = h.join(h.params(""));
  EXPECT_EQ((*b)->error, kafka_error::group_max_size_reached);
}

TEST(Group, InvalidSessionTimeout) {
  harness h;
  auto p = h.params();
  p.session_timeout_ms = 10;
  EXPECT_EQ((*h.join(std::move(p)))->error, kafka_error::invalid_session_timeout);
}

TEST(Group, StaticMemberRejoinKeepsAssignmentWithoutRebalance) {
  harness h;
  auto a = h.join(h.params("", {"range"}, "inst-a"));
  ASSERT_TRUE(a->has_value()) << "static members skip MEMBER_ID_REQUIRED";
  const std::string ida = (*a)->member_id;
  auto b = h.join(h.params("", {"range"}, "inst-b"));
  h.join(h.params(ida, {"range"}, "inst-a"));
  ASSERT_TRUE(b->has_value());
  const std::string idb = (*b)->member_id;
  h.sync(2, ida, {{ida, bytes("A")}, {idb, bytes("B")}}, "inst-a");
  ASSERT_EQ(h.g->state(), group_state::stable);

  // inst-b restarts: a new member id, same generation, same assignment.
  auto b2 = h.join(h.params("", {"range"}, "inst-b"));
  ASSERT_TRUE(b2->has_value());
  EXPECT_EQ((*b2)->error, kafka_error::none);
  EXPECT_EQ((*b2)->generation_id, 2);
  EXPECT_NE((*b2)->member_id, idb);
  EXPECT_EQ(h.g->state(), group_state::stable);
  auto s = h.sync(2, (*b2)->member_id, {}, "inst-b");
  EXPECT_EQ((*s)->assignment, bytes("B"));
  // The old member id of inst-b is fenced.
  EXPECT_EQ(h.g->heartbeat(2, idb, "inst-b", h.now), kafka_error::fenced_instance_id);
  EXPECT_EQ(h.g->validate_commit(2, idb, "inst-b", h.now), kafka_error::fenced_instance_id);
  EXPECT_EQ(h.g->heartbeat(2, (*b2)->member_id, "inst-b", h.now), kafka_error::none);
  // A static leave by instance id removes the member.
  EXPECT_EQ(h.g->leave("", "inst-b", h.now), kafka_error::none);
  EXPECT_EQ(h.g->leave("", "inst-b", h.now), kafka_error::unknown_member_id);
}

TEST(Group, SimpleCommitsOnlyWhileEmpty) {
  harness h;
  EXPECT_EQ(h.g->validate_commit(-1, "", std::nullopt, h.now), kafka_error::none);
  auto a = h.join_new();
  EXPECT_EQ(h.g->validate_commit(-1, "", std::nullopt, h.now), kafka_error::unknown_member_id);
  EXPECT_EQ(h.g->validate_commit(5, "nobody", std::nullopt, h.now), kafka_error::unknown_member_id);
}

TEST(Group, SyncErrors) {
  harness h;
  auto a = h.join_new();
  const std::string ida = (*a)->member_id;
  EXPECT_EQ((*h.sync(2, ida))->error, kafka_error::illegal_generation);
  EXPECT_EQ((*h.sync(1, "x"))->error, kafka_error::unknown_member_id);
  h.sync(1, ida, {});
  auto b = h.join_new();
  EXPECT_EQ((*h.sync(1, ida))->error, kafka_error::rebalance_in_progress);
}

TEST(Group, ShutAnswersParkedCalls) {
  harness h(3'000);
  auto a = h.join_new();
  ASSERT_FALSE(a->has_value());
  h.g->shut(kafka_error::coordinator_not_available);
  ASSERT_TRUE(a->has_value());
  EXPECT_EQ((*a)->error, kafka_error::coordinator_not_available);
  EXPECT_EQ(h.g->state(), group_state::dead);
}

TEST(Group, SubscribedTopicsFromConsumerProtocolMetadata) {
  harness h;
  auto p = h.params();
  // version 0, topics ["a", "bc"], user data null
  const char raw[] = {0, 0, 0, 0, 0, 2, 0, 1, 'a', 0, 2, 'b', 'c', -1, -1, -1, -1};
  p.protocols[0].metadata.assign(reinterpret_cast<const std::byte*>(raw),
                                 reinterpret_cast<const std::byte*>(raw) + sizeof(raw));
  auto first = h.join(p);
  p.member_id = (*first)->member_id;
  h.join(std::move(p));
  EXPECT_EQ(h.g->subscribed_topics(), (std::vector<std::string>{"a", "bc"}));
}

TEST(OffsetsPartition, MatchesJavaStringHashCode) {
  EXPECT_EQ(java_string_hash(""), 0);
  EXPECT_EQ(java_string_hash("a"), 97);
  EXPECT_EQ(java_string_hash("hello"), 99162322);
  EXPECT_EQ(java_string_hash("my-group"), -1906497762);  // "my-group".hashCode() in Java
  EXPECT_EQ(offsets_partition_for("my-group", 50), 1906497762 % 50);
  // U+00E9 is one UTF-16 unit; U+1F600 is a surrogate pair (D83D DE00).
  EXPECT_EQ(java_string_hash("\xC3\xA9"), 0xE9);
  EXPECT_EQ(java_string_hash("\xF0\x9F\x98\x80"), 0xD83D * 31 + 0xDE00);
  EXPECT_EQ(offsets_partition_for("hello", 50), 99162322 % 50);
  // "polygenelubricants".hashCode() == Integer.MIN_VALUE: Kafka's Utils.abs gives 0.
  EXPECT_EQ(java_string_hash("polygenelubricants"), std::numeric_limits<int32_t>::min());
  EXPECT_EQ(offsets_partition_for("polygenelubricants", 50), 0);
  // Negative hashes use their absolute value.
  const int32_t h = java_string_hash("console-consumer-12345");
  EXPECT_EQ(offsets_partition_for("console-consumer-12345", 50), (h < 0 ? -h : h) % 50);
}

TEST(OffsetsRetention, KafkasRulesPerGroupState) {
  constexpr int64_t day = 24LL * 3600 * 1000;
  const int64_t t0 = 1'700'000'000'000;
  committed_offset c;
  c.offset = 1;
  c.commit_timestamp_ms = t0;
  // A simple group (no protocol): one retention after the commit.
  harness simple;
  simple.g->offsets().commit("t", 0, c);
  EXPECT_TRUE(simple.g->expired_offsets(t0 + 7 * day - 1, 7 * day).empty());
  EXPECT_EQ(simple.g->expired_offsets(t0 + 7 * day, 7 * day).size(), 1u);
  // An explicit expire timestamp (OffsetCommit v2-4 retention) wins.
  committed_offset e = c;
  e.expire_timestamp_ms = t0 + 1000;
  simple.g->offsets().commit("t", 1, e);
  auto early = simple.g->expired_offsets(t0 + 1000, 7 * day);
  ASSERT_EQ(early.size(), 1u);
  EXPECT_EQ(early[0], (std::pair<std::string, int32_t>{"t", 1}));

  // A Stable consumer group keeps offsets of subscribed topics, however old.
  harness h;
  auto p = h.params();
  const char raw[] = {0, 0, 0, 0, 0, 1, 0, 1, 't', -1, -1, -1, -1};
  p.protocols[0].metadata.assign(reinterpret_cast<const std::byte*>(raw),
                                 reinterpret_cast<const std::byte*>(raw) + sizeof(raw));
  auto first = h.join(p);
  p.member_id = (*first)->member_id;
  auto j = h.join(p);
  h.sync(1, (*j)->member_id, {});
  ASSERT_EQ(h.g->state(), group_state::stable);
  h.g->offsets().commit("t", 0, c);
  h.g->offsets().commit("gone", 0, c);
  auto stale = h.g->expired_offsets(t0 + 8 * day, 7 * day);
  ASSERT_EQ(stale.size(), 1u);
  EXPECT_EQ(stale[0].first, "gone");
  // Once Empty, the clock starts when the group became empty.
  EXPECT_EQ(h.g->leave((*j)->member_id, std::nullopt, h.now), kafka_error::none);
  ASSERT_EQ(h.g->state(), group_state::empty);
  const int64_t empty_at = h.g->state_timestamp_ms;
  ASSERT_GT(empty_at, 0);
  EXPECT_TRUE(h.g->expired_offsets(empty_at + 7 * day - 1, 7 * day).empty());
  EXPECT_EQ(h.g->expired_offsets(empty_at + 7 * day, 7 * day).size(), 2u);
}

TEST(GroupRecords, OffsetCommitKeyAndValueBytesAreKafkas) {
  offset_key k{"g", "t", 3};
  const std::vector<std::byte> key = encode_offset_key(k);
  const char want_key[] = {0, 1, 0, 1, 'g', 0, 1, 't', 0, 0, 0, 3};
  ASSERT_EQ(key.size(), sizeof(want_key));
  EXPECT_EQ(std::memcmp(key.data(), want_key, key.size()), 0);
  committed_offset c;
  c.offset = 42;
  c.leader_epoch = 7;
  c.metadata = "m";
  c.commit_timestamp_ms = 1000;
  const std::vector<std::byte> value = encode_offset_value(c);
  // v3: version, offset, leaderEpoch, metadata, commitTimestamp.
  ASSERT_EQ(value.size(), 2u + 8 + 4 + 3 + 8);
  EXPECT_EQ(std::to_integer<int>(value[1]), 3);
  auto back = decode_offset_value(value);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->offset, 42);
  EXPECT_EQ(back->leader_epoch, 7);
  EXPECT_EQ(back->metadata, "m");
  EXPECT_EQ(back->commit_timestamp_ms, 1000);
  c.expire_timestamp_ms = 5000;
  auto v1 = decode_offset_value(encode_offset_value(c));
  ASSERT_TRUE(v1.has_value());
  EXPECT_EQ(v1->expire_timestamp_ms, 5000);
  EXPECT_EQ(v1->leader_epoch, -1) << "v1 has no leader epoch";
  auto pk = decode_key(key);
  ASSERT_TRUE(pk.has_value());
  EXPECT_EQ(pk->type, parsed_key::kind::offset);
  EXPECT_EQ(pk->offset.topic, "t");
  EXPECT_EQ(pk->offset.partition, 3);
}

TEST(GroupRecords, TruncatedOrUnknownInputIsRefused) {
  const std::vector<std::byte> key = encode_offset_key({"group", "topic", 1});
  for (size_t n = 0; n < key.size(); ++n) {
    EXPECT_FALSE(decode_key(std::span(key.data(), n)).has_value()) << "prefix of " << n;
  }
  committed_offset c;
  const std::vector<std::byte> value = encode_offset_value(c);
  for (size_t n = 0; n < value.size(); ++n) {
    EXPECT_FALSE(decode_offset_value(std::span(value.data(), n)).has_value());
  }
  const std::vector<std::byte> v9 = bytes(std::string("\x00\x09", 2));
  EXPECT_FALSE(decode_offset_value(v9).has_value());
  EXPECT_FALSE(decode_group_value(v9).has_value());
}

TEST(GroupRecords, GroupSnapshotRestoresAStableGroup) {
  harness h;
  auto a = h.join(h.params("", {"range"}, "inst-a"));
  const std::string ida = (*a)->member_id;
  h.sync(1, ida, {{ida, bytes("A")}}, "inst-a");
  ASSERT_EQ(h.g->state(), group_state::stable);
  const group_snapshot snap = h.g->snapshot(123);
  const std::vector<std::byte> key = encode_group_key("g");
  auto pk = decode_key(key);
  ASSERT_TRUE(pk.has_value());
  EXPECT_EQ(pk->type, parsed_key::kind::group);
  EXPECT_EQ(pk->group, "g");
  auto back = decode_group_value(encode_group_value(snap));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->generation, 1);
  EXPECT_EQ(back->protocol, "range");
  EXPECT_EQ(back->leader, ida);
  ASSERT_EQ(back->members.size(), 1u);
  EXPECT_EQ(back->members[0].group_instance_id, "inst-a");
  EXPECT_EQ(back->members[0].assignment, bytes("A"));

  harness h2;
  h2.g->restore(*back, h2.now);
  EXPECT_EQ(h2.g->state(), group_state::stable);
  EXPECT_EQ(h2.g->generation(), 1);
  EXPECT_EQ(h2.g->stored_generation, 1);
  // The static member comes back after a broker restart: same assignment, no rebalance.
  auto a2 = h2.join(h2.params("", {"range"}, "inst-a"));
  ASSERT_TRUE(a2->has_value());
  EXPECT_EQ((*a2)->generation_id, 1);
  EXPECT_EQ(h2.g->state(), group_state::stable);
  auto s = h2.sync(1, (*a2)->member_id, {}, "inst-a");
  EXPECT_EQ((*s)->assignment, bytes("A"));
}

// What a hostile or corrupt __consumer_offsets record can hold (found by
// tests/fuzz/group_record_fuzz): none of it may abort or overflow.
TEST(GroupRecords, AStoredGroupNamingOneMemberTwiceKeepsTheFirst) {
  group_snapshot snap;
  snap.protocol_type = "consumer";
  snap.generation = 5;
  snap.protocol = "range";
  snap.leader = "m";
  for (const char* instance : {"i1", "i2"}) {
    group_snapshot::member m;
    m.member_id = "m";
    m.group_instance_id = instance;
    m.client_id = "c";
    m.client_host = "/h";
    m.session_timeout_ms = 30'000;
    m.rebalance_timeout_ms = 10'000;
    snap.members.push_back(m);
  }
  harness h;
  h.g->restore(snap, h.now);
  ASSERT_EQ(h.g->members().size(), 1u);
  EXPECT_EQ(h.g->leave("m", std::nullopt, h.now), kafka_error::none);
  // i2 was dropped with the duplicate: joining as it is a new static member.
  auto j = h.join(h.params("", {"range"}, "i2"));
  ASSERT_TRUE(j->has_value());
  EXPECT_EQ((*j)->error, kafka_error::none);
}

TEST(GroupRecords, AStoredGenerationOfInt32MaxWrapsToOne) {
  group_snapshot snap;
  snap.protocol_type = "consumer";
  snap.generation = std::numeric_limits<int32_t>::max();
  harness h;
  h.g->restore(snap, h.now);
  auto j = h.join_new();
  ASSERT_TRUE(j->has_value());
  EXPECT_EQ((*j)->generation_id, 1);
}

TEST(OffsetsRetention, ACommitTimestampOfInt64MinIsLongExpired) {
  committed_offset c;
  c.offset = 1;
  c.commit_timestamp_ms = std::numeric_limits<int64_t>::min();
  harness h;
  h.g->offsets().commit("t", 0, c);
  EXPECT_EQ(h.g->expired_offsets(1'700'000'000'000, 7LL * 24 * 3600 * 1000).size(), 1u);
}

}  // namespace
}  // namespace ringlog::broker
