// libFuzzer target for the __consumer_offsets records
// (broker/group/group_records.h, docs/formats/consumer_offsets.md): arbitrary
// bytes through decode_key, decode_offset_value and decode_group_value, and a
// decoded GroupMetadataValue restored into a group as loading the topic does
// (group_coordinator::apply -> group::restore), then driven by the requests a
// client could send next. The records may have been written by Kafka, by an
// older Ringlog or by a faulty tool; nothing in them may crash the broker,
// assert or leave a group that asserts later.
//
// Where a decoder succeeds, the value must survive a round trip: encoding it
// and decoding that gives the same value (the encoders write one version, so
// the bytes may differ from the input). A restored group's snapshot must
// encode and decode to itself, and restoring it again must give the same
// snapshot.
//
// The first input byte picks a mode:
//   0  the rest is a record key
//   1  the rest is an OffsetCommitValue
//   2  the rest is a GroupMetadataValue, restored into group "g"
//   3  as 2, with a request script first: one byte n (at most 64), then n op
//      bytes (see run_ops), then the value
//   4  the rest is a sequence of records, each int16 key length, key, int32
//      value length (-1: null, a tombstone), value; applied in order as
//      group_coordinator::apply does, then every group's state is checked
// Anything else is mode 0.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "broker/group/group.h"
#include "broker/group/group_records.h"

namespace {

using namespace ringlog::broker;

constexpr int64_t k_wall_ms = 1'700'000'000'000;

bool same(const offset_key& a, const offset_key& b) {
  return a.group == b.group && a.topic == b.topic && a.partition == b.partition;
}

// Any negative expire timestamp means "none" (the encoder writes v3 without
// one, and group::expired_offsets only honours one >= 0): equal as -1.
bool same(const committed_offset& a, const committed_offset& b) {
  auto expire = [](int64_t ts) { return ts < 0 ? int64_t{-1} : ts; };
  return a.offset == b.offset && a.leader_epoch == b.leader_epoch && a.metadata == b.metadata &&
         a.commit_timestamp_ms == b.commit_timestamp_ms &&
         expire(a.expire_timestamp_ms) == expire(b.expire_timestamp_ms);
}

bool same(const group_snapshot::member& a, const group_snapshot::member& b) {
  return a.member_id == b.member_id && a.group_instance_id == b.group_instance_id &&
         a.client_id == b.client_id && a.client_host == b.client_host &&
         a.rebalance_timeout_ms == b.rebalance_timeout_ms &&
         a.session_timeout_ms == b.session_timeout_ms && a.subscription == b.subscription &&
         a.assignment == b.assignment;
}

bool same(const group_snapshot& a, const group_snapshot& b) {
  if (a.protocol_type != b.protocol_type || a.generation != b.generation ||
      a.protocol != b.protocol || a.leader != b.leader ||
      a.current_state_timestamp_ms != b.current_state_timestamp_ms ||
      a.members.size() != b.members.size()) {
    return false;
  }
  for (size_t i = 0; i < a.members.size(); ++i) {
    if (!same(a.members[i], b.members[i])) return false;
  }
  return true;
}

std::optional<parsed_key> check_key(std::span<const std::byte> b) {
  auto k = decode_key(b);
  if (!k) return std::nullopt;
  switch (k->type) {
    case parsed_key::kind::offset: {
      if (k->group != k->offset.group) __builtin_trap();
      auto again = decode_key(encode_offset_key(k->offset));
      if (!again || again->type != parsed_key::kind::offset || !same(again->offset, k->offset) ||
          again->group != k->group) {
        __builtin_trap();
      }
      break;
    }
    case parsed_key::kind::group: {
      auto again = decode_key(encode_group_key(k->group));
      if (!again || again->type != parsed_key::kind::group || again->group != k->group) {
        __builtin_trap();
      }
      break;
    }
    case parsed_key::kind::other:
      break;
  }
  return k;
}

std::optional<committed_offset> check_offset_value(std::span<const std::byte> b) {
  auto v = decode_offset_value(b);
  if (!v) return std::nullopt;
  auto again = decode_offset_value(encode_offset_value(*v));
  if (!again || !same(*again, *v)) __builtin_trap();
  return v;
}

std::optional<group_snapshot> check_group_value(std::span<const std::byte> b) {
  auto v = decode_group_value(b);
  if (!v) return std::nullopt;
  auto again = decode_group_value(encode_group_value(*v));
  if (!again || !same(*again, *v)) __builtin_trap();
  return v;
}

// Member ids from a counter reset for every input, so that a crash replays
// with the same ids (and the same map order of members).
uint64_t g_next_member = 0;

std::string counter_ids(std::string_view client_id) {
  return std::string(client_id) + "-" + std::to_string(g_next_member++);
}

group_limits fuzz_limits() {
  group_limits limits;
  limits.initial_rebalance_delay_ms = 0;  // keeps rebalances short in the scripts
  limits.max_size = 8;
  return limits;
}

// What a group's snapshot says must be what it stores: it round-trips through
// the record, and a group restored from it snapshots the same.
void check_group_state(const group& g, int64_t now_ms) {
  const group_snapshot s = g.snapshot(k_wall_ms);
  auto decoded = decode_group_value(encode_group_value(s));
  if (!decoded || !same(*decoded, s)) __builtin_trap();
  group again(g.id().empty() ? "g" : g.id(), fuzz_limits(), counter_ids);
  again.restore(*decoded, now_ms);
  const group_snapshot s2 = again.snapshot(k_wall_ms);
  if (g.state() == group_state::stable || g.state() == group_state::empty) {
    if (!same(s2, s)) __builtin_trap();
  }
  // The leader, when set, is a member.
  if (!g.leader().empty() && g.members().count(g.leader()) == 0) __builtin_trap();
  (void)g.subscribed_topics();
  (void)g.expired_offsets(k_wall_ms, 1000);
  again.shut(kafka_error::coordinator_not_available);
}

// Results of the calls the script makes, kept outside the group: parked
// callbacks may run when the group shuts.
struct script_state {
  std::vector<std::string> member_ids;
  std::vector<std::optional<std::string>> instance_ids;
  std::optional<std::string> pending_id;  // from MEMBER_ID_REQUIRED
  int callbacks = 0;
};

// One op byte: the low 4 bits pick the request, the high 4 the member (an
// index into the ids seen so far).
void run_ops(group& g, std::span<const uint8_t> ops, const group_snapshot& restored,
             script_state& st, int64_t& now_ms) {
  for (const auto& m : restored.members) {
    st.member_ids.push_back(m.member_id);
    st.instance_ids.push_back(m.group_instance_id);
  }
  const std::string protocol_type =
      restored.protocol_type.empty() ? std::string("consumer") : restored.protocol_type;
  const std::string protocol_name = restored.protocol.value_or("range");
  auto join_cb = [&st](join_result r) {
    ++st.callbacks;
    if (!r.member_id.empty()) {
      st.member_ids.push_back(r.member_id);
      st.instance_ids.push_back(std::nullopt);
    }
    if (r.error == kafka_error::member_id_required) st.pending_id = r.member_id;
  };
  auto sync_cb = [&st](sync_result) { ++st.callbacks; };
  for (uint8_t op : ops) {
    const size_t k = op >> 4;
    const std::string member =
        st.member_ids.empty() ? std::string() : st.member_ids[k % st.member_ids.size()];
    std::optional<std::string> instance =
        st.instance_ids.empty() ? std::nullopt : st.instance_ids[k % st.instance_ids.size()];
    join_params p;
    p.client_id = "c";
    p.client_host = "/127.0.0.1";
    p.session_timeout_ms = 10'000;
    p.rebalance_timeout_ms = 30'000;
    p.protocol_type = protocol_type;
    p.protocols = {{protocol_name, {std::byte{0}, std::byte{1}}}};
    switch (op & 0xf) {
      case 0:
        (void)g.leave(member, std::nullopt, now_ms);
        break;
      case 1:
        if (instance) (void)g.leave("", instance, now_ms);
        break;
      case 2:  // a static member (re)joins without its member id
        p.group_instance_id = instance ? instance : std::optional<std::string>("i" + std::to_string(k));
        g.join(std::move(p), now_ms, join_cb);
        break;
      case 3:  // a known member rejoins
        p.member_id = member;
        p.group_instance_id = instance;
        g.join(std::move(p), now_ms, join_cb);
        break;
      case 4:  // a new dynamic member
        p.require_known_member_id = (k & 1) != 0;
        p.supports_skip_assignment = (k & 2) != 0;
        g.join(std::move(p), now_ms, join_cb);
        break;
      case 5:
        (void)g.heartbeat(g.generation(), member, instance, now_ms);
        break;
      case 6: {
        std::map<std::string, std::vector<std::byte>> assignments;
        for (const auto& [id, m] : g.members()) assignments[id] = {std::byte{7}};
        g.sync(g.generation(), member, instance, std::nullopt, std::nullopt,
               std::move(assignments), now_ms, sync_cb);
        break;
      }
      case 7:
        (void)g.validate_commit(g.generation(), member, instance, now_ms);
        break;
      case 8:
        now_ms += 1'000;
        g.tick(now_ms);
        break;
      case 9:
        now_ms += 10'000'000;
        g.tick(now_ms);
        break;
      case 10:
        check_group_state(g, now_ms);
        break;
      case 11:
        if (st.pending_id) {
          p.member_id = *st.pending_id;
          st.pending_id.reset();
          g.join(std::move(p), now_ms, join_cb);
        }
        break;
      case 12:
        (void)g.leave(member, instance, now_ms);
        break;
      case 13:
        (void)g.heartbeat(g.generation(), member, std::nullopt, now_ms);
        break;
      case 14:  // a static member rejoins with another protocol
        p.group_instance_id = instance;
        p.protocols = {{protocol_name + "x", {}}, {protocol_name, {}}};
        g.join(std::move(p), now_ms, join_cb);
        break;
      default:
        (void)g.subscribed_topics();
        (void)g.expired_offsets(k_wall_ms, 1000);
        break;
    }
  }
}

void restore_and_drive(const group_snapshot& s, std::span<const uint8_t> ops) {
  script_state st;  // outlives the group: shut() runs parked callbacks
  int64_t now_ms = 1'000'000;
  group g("g", fuzz_limits(), counter_ids);
  g.restore(s, now_ms);
  if (g.generation() != s.generation) __builtin_trap();
  check_group_state(g, now_ms);
  run_ops(g, ops, s, st, now_ms);
  check_group_state(g, now_ms);
  g.tick(now_ms + 100'000'000);
  g.shut(kafka_error::coordinator_not_available);
}

// group_coordinator::apply's handling of one loaded record, on `groups`.
void apply(std::map<std::string, std::unique_ptr<group>>& groups, std::span<const std::byte> key,
           const std::optional<std::span<const std::byte>>& value, int64_t now_ms) {
  auto k = check_key(key);
  if (!k) return;
  auto get_or_create = [&](const std::string& id) -> group& {
    auto& slot = groups[id];
    if (!slot) slot = std::make_unique<group>(id, fuzz_limits(), counter_ids);
    return *slot;
  };
  switch (k->type) {
    case parsed_key::kind::offset: {
      if (!value) {
        if (auto it = groups.find(k->group); it != groups.end()) {
          it->second->offsets().erase(k->offset.topic, k->offset.partition);
        }
        return;
      }
      auto v = check_offset_value(*value);
      if (!v) return;
      get_or_create(k->group).offsets().commit(k->offset.topic, k->offset.partition, *v);
      return;
    }
    case parsed_key::kind::group: {
      if (!value) {
        if (auto it = groups.find(k->group); it != groups.end()) {
          it->second->shut(kafka_error::coordinator_not_available);
          groups.erase(it);
        }
        return;
      }
      auto v = check_group_value(*value);
      if (!v) return;
      get_or_create(k->group).restore(*v, now_ms);
      return;
    }
    case parsed_key::kind::other:
      return;
  }
}

void load_records(std::span<const std::byte> rest) {
  std::map<std::string, std::unique_ptr<group>> groups;
  const int64_t now_ms = 5'000'000;
  size_t at = 0;
  auto be = [&](size_t n) -> std::optional<uint64_t> {
    if (rest.size() - at < n) return std::nullopt;
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v = (v << 8) | std::to_integer<uint8_t>(rest[at + i]);
    at += n;
    return v;
  };
  for (int guard = 0; guard < 256 && at < rest.size(); ++guard) {
    auto key_len = be(2);
    if (!key_len) break;
    const size_t kn = std::min<size_t>(*key_len, rest.size() - at);
    const std::vector<std::byte> key(rest.begin() + at, rest.begin() + at + kn);
    at += kn;
    auto value_len = be(4);
    std::optional<std::vector<std::byte>> value;
    if (value_len && static_cast<int32_t>(*value_len) >= 0) {
      const size_t vn = std::min<size_t>(static_cast<uint32_t>(*value_len), rest.size() - at);
      value.emplace(rest.begin() + at, rest.begin() + at + vn);
      at += vn;
    }
    std::optional<std::span<const std::byte>> view;
    if (value) view = std::span<const std::byte>(*value);
    apply(groups, key, view, now_ms);
  }
  for (auto& [id, g] : groups) {
    check_group_state(*g, now_ms);
    for (const auto& [topic, partitions] : g->offsets().topics()) {
      for (const auto& [p, c] : partitions) {
        if (g->offsets().find(topic, p) != &c) __builtin_trap();
      }
    }
    g->tick(now_ms + 100'000'000);
    g->shut(kafka_error::coordinator_not_available);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  g_next_member = 0;
  const uint8_t mode = data[0];
  std::vector<std::byte> rest(reinterpret_cast<const std::byte*>(data) + 1,
                              reinterpret_cast<const std::byte*>(data) + size);
  switch (mode) {
    case 1:
      (void)check_offset_value(rest);
      break;
    case 2:
      if (auto s = check_group_value(rest)) restore_and_drive(*s, {});
      break;
    case 3: {
      if (rest.empty()) break;
      const size_t n = std::min<size_t>(std::to_integer<uint8_t>(rest[0]) % 65, rest.size() - 1);
      std::vector<uint8_t> ops(n);
      for (size_t i = 0; i < n; ++i) ops[i] = std::to_integer<uint8_t>(rest[1 + i]);
      const std::vector<std::byte> value(rest.begin() + 1 + static_cast<ptrdiff_t>(n), rest.end());
      if (auto s = check_group_value(value)) restore_and_drive(*s, ops);
      break;
    }
    case 4:
      load_records(rest);
      break;
    default:
      (void)check_key(rest);
      break;
  }
  return 0;
}
