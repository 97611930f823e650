// group: one classic consumer group (Kafka's GroupMetadata and the state
// machine of its GroupCoordinator): members, generations, the JoinGroup /
// SyncGroup rendezvous, heartbeats, static membership and committed offsets.
//
//   Empty -> PreparingRebalance -> CompletingRebalance -> Stable
//      ^            ^  |                   |               |
//      +------------+--+-------------------+---------------+
//
// A JoinGroup or SyncGroup that has to wait (for the other members, for the
// leader's assignment) is parked as a callback on its member; the group calls
// every parked callback exactly once: with the rebalance's result, or with an
// error when the member is removed, fenced or the rebalance restarts. Time
// comes in as `now_ms` (monotonic) on every call and from tick(), so the whole
// machine runs under a fake clock in the unit tests.
//
// Thread safety: owned by one group_coordinator and touched only on its shard.
// Invariants: a member id is in at most one of members/pending; every static
// instance id maps to a present member; the leader, when set, is a member.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/group/group_records.h"
#include "broker/group/offsets.h"
#include "net/protocol/errors.h"

namespace ringlog::broker {

using protocol::kafka_error;

enum class group_state { empty, preparing_rebalance, completing_rebalance, stable, dead };

// Kafka's names, as DescribeGroups and ListGroups report them.
std::string_view state_name(group_state s) noexcept;

// Broker-wide limits (Kafka's defaults unless the caller changes them).
// Kafka's default offsets.retention.minutes (7 days), in ms.
inline constexpr int64_t k_default_offsets_retention_ms = 7LL * 24 * 60 * 60 * 1000;

// Kafka's GroupCoordinator.NewMemberJoinTimeoutMs (KIP-394): how long a new
// member's first JoinGroup may stay parked before the member is dropped.
inline constexpr int64_t k_new_member_join_timeout_ms = 300'000;

struct group_limits {
  int32_t min_session_timeout_ms = 6'000;                  // group.min.session.timeout.ms
  int32_t max_session_timeout_ms = 1'800'000;              // group.max.session.timeout.ms
  int32_t initial_rebalance_delay_ms = 3'000;              // group.initial.rebalance.delay.ms
  int32_t max_size = std::numeric_limits<int32_t>::max();  // group.max.size
  int64_t offsets_retention_ms = k_default_offsets_retention_ms;  // offsets.retention.minutes
  int64_t offsets_retention_check_interval_ms = 600'000;  // offsets.retention.check.interval.ms
};

struct group_protocol {
  std::string name;
  std::vector<std::byte> metadata;
};

struct join_params {
  std::string member_id;  // empty: a new member
  std::optional<std::string> group_instance_id;
  std::string client_id;
  std::string client_host;
  int32_t session_timeout_ms = 0;
  int32_t rebalance_timeout_ms = 0;
  std::string protocol_type;
  std::vector<group_protocol> protocols;
  bool require_known_member_id = false;   // JoinGroup v4+: MEMBER_ID_REQUIRED first
  bool supports_skip_assignment = false;  // JoinGroup v9+
};

struct join_result {
  kafka_error error = kafka_error::none;
  int32_t generation_id = -1;
  std::optional<std::string> protocol_type;
  std::optional<std::string> protocol_name;
  std::string leader;
  std::string member_id;
  bool skip_assignment = false;
  struct member {
    std::string member_id;
    std::optional<std::string> group_instance_id;
    std::vector<std::byte> metadata;
  };
  std::vector<member> members;  // only for the leader
};

struct sync_result {
  kafka_error error = kafka_error::none;
  std::optional<std::string> protocol_type;
  std::optional<std::string> protocol_name;
  std::vector<std::byte> assignment;
};

using join_callback = std::function<void(join_result)>;
using sync_callback = std::function<void(sync_result)>;

struct group_member {
  std::string id;
  std::optional<std::string> group_instance_id;
  std::string client_id;
  std::string client_host;
  int32_t session_timeout_ms = 0;
  int32_t rebalance_timeout_ms = 0;
  std::string protocol_type;
  std::vector<group_protocol> protocols;
  std::vector<std::byte> assignment;
  join_callback awaiting_join;  // set while its JoinGroup is parked
  sync_callback awaiting_sync;  // set while its SyncGroup is parked
  int64_t heartbeat_deadline_ms = 0;
  uint64_t join_order = 0;  // leader choice: the earliest joined member
  // Joined but not yet through a completed join phase: its parked JoinGroup
  // does not keep it alive past k_new_member_join_timeout_ms (a client that
  // hung up mid-rebalance must not hold the group for a long rebalance timeout).
  bool is_new = false;

  const std::vector<std::byte>* metadata_for(std::string_view protocol) const noexcept;
};

// Generates member ids (`<client.id>-<uuid>`); the coordinator's is random,
// the tests' is a counter.
using member_id_source = std::function<std::string(std::string_view client_id)>;

class group {
 public:
  group(std::string id, const group_limits& limits, member_id_source ids);
  ~group();
  group(const group&) = delete;
  group& operator=(const group&) = delete;

  const std::string& id() const noexcept { return _id; }
  group_state state() const noexcept { return _state; }
  int32_t generation() const noexcept { return _generation; }
  const std::optional<std::string>& protocol_type() const noexcept { return _protocol_type; }
  const std::optional<std::string>& protocol_name() const noexcept { return _protocol_name; }
  const std::string& leader() const noexcept { return _leader; }
  const std::map<std::string, group_member>& members() const noexcept { return _members; }
  size_t pending_members() const noexcept { return _pending.size(); }
  offset_store& offsets() noexcept { return _offsets; }
  const offset_store& offsets() const noexcept { return _offsets; }

  // JoinGroup (group id already checked non-empty). `done` is called now or
  // once the rebalance completes.
  void join(join_params p, int64_t now_ms, join_callback done);
  // SyncGroup; `assignments` counts only from the leader.
  void sync(int32_t generation, const std::string& member_id,
            const std::optional<std::string>& group_instance_id,
            const std::optional<std::string>& protocol_type,
            const std::optional<std::string>& protocol_name,
            std::map<std::string, std::vector<std::byte>> assignments, int64_t now_ms,
            sync_callback done);
  kafka_error heartbeat(int32_t generation, const std::string& member_id,
                        const std::optional<std::string>& group_instance_id, int64_t now_ms);
  // One LeaveGroup member (member id may be empty when the instance id is given).
  kafka_error leave(const std::string& member_id,
                    const std::optional<std::string>& group_instance_id, int64_t now_ms);
  // Whether an OffsetCommit from this member at this generation may commit.
  kafka_error validate_commit(int32_t generation, const std::string& member_id,
                              const std::optional<std::string>& group_instance_id, int64_t now_ms);
  // Expires sessions and pending members, ends overdue rebalances.
  void tick(int64_t now_ms);
  // The group is being deleted or the coordinator stops: every parked call
  // gets `why`, members are dropped and the state becomes Dead.
  void shut(kafka_error why);

  // Topics the members subscribe to (consumer protocol), for OffsetDelete.
  std::vector<std::string> subscribed_topics() const;

  // The group as GroupMetadataValue stores it (members only when Stable).
  group_snapshot snapshot(int64_t wall_now_ms) const;
  // Loading __consumer_offsets: the group as of its last stored rebalance;
  // members (each with the session timeout from now) make it Stable.
  void restore(const group_snapshot& s, int64_t now_ms);
  // The generation last written to __consumer_offsets (the coordinator's):
  // `stored_generation` once its write started, `durable_generation` once the
  // write ended, with `store_error` its outcome.
  int32_t stored_generation = -1;
  int32_t durable_generation = -1;
  kafka_error store_error = kafka_error::none;

  // offsets.retention.minutes (Kafka's rules since KIP-211/KIP-496): an
  // offset with an explicit expire timestamp (OffsetCommit v2-4) expires
  // then; otherwise, in a group without a protocol ("simple" commits), one
  // retention after its commit; in an Empty group, one retention after the
  // group became empty; in a Stable consumer group, offsets of topics no
  // member subscribes to, one retention after their commit. Others stay.
  std::vector<std::pair<std::string, int32_t>> expired_offsets(int64_t wall_now_ms,
                                                               int64_t retention_ms) const;
  // Wall time of the last change to Empty (or of loading), -1 if never.
  int64_t state_timestamp_ms = -1;

 private:
  bool supports_protocols(const std::string& type, const std::vector<group_protocol>& ps) const;
  bool is_fenced(const std::optional<std::string>& instance, const std::string& member_id) const;
  std::string select_protocol() const;
  void add_member(join_params p, const std::string& member_id, int64_t now_ms, join_callback done);
  void update_member(group_member& m, join_params& p, join_callback done);
  void maybe_prepare_rebalance(int64_t now_ms);
  void prepare_rebalance(int64_t now_ms);
  void maybe_complete_join(int64_t now_ms);
  void complete_join(int64_t now_ms);
  void remove_member(const std::string& member_id, int64_t now_ms);
  void replace_static_member(const std::string& instance, const std::string& old_id,
                             const std::string& new_id);
  join_result current_join_result(const group_member& m, bool with_members) const;
  int32_t rebalance_timeout_ms() const noexcept;

  std::string _id;
  group_limits _limits;
  member_id_source _ids;
  group_state _state = group_state::empty;
  int32_t _generation = 0;
  std::optional<std::string> _protocol_type;
  std::optional<std::string> _protocol_name;
  std::string _leader;
  std::map<std::string, group_member> _members;
  std::map<std::string, int64_t> _pending;     // member id -> deadline (MEMBER_ID_REQUIRED)
  std::map<std::string, std::string> _static;  // group.instance.id -> member id
  uint64_t _next_join_order = 0;
  // PreparingRebalance: when the join phase ends at the latest; the initial
  // delay of a group that was empty holds it open until then.
  int64_t _join_deadline_ms = 0;
  int64_t _join_deadline_max_ms = 0;
  bool _initial_delay = false;
  offset_store _offsets;
};

}  // namespace ringlog::broker
