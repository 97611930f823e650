// The classic group protocol's state machine; the rules follow Kafka's
// GroupCoordinator (doJoinGroup, doSyncGroup, heartbeat, leave, commit
// validation) and are named after its functions where they match one.
#include "broker/group/group.h"

#include <algorithm>
#include <utility>

#include "base/assert.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/saturating.h"

namespace ringlog::broker {

std::string_view state_name(group_state s) noexcept {
  switch (s) {
    case group_state::empty:
      return "Empty";
    case group_state::preparing_rebalance:
      return "PreparingRebalance";
    case group_state::completing_rebalance:
      return "CompletingRebalance";
    case group_state::stable:
      return "Stable";
    case group_state::dead:
      return "Dead";
  }
  return "Dead";
}

const std::vector<std::byte>* group_member::metadata_for(std::string_view protocol) const noexcept {
  for (const auto& p : protocols) {
    if (p.name == protocol) return &p.metadata;
  }
  return nullptr;
}

namespace {

bool same_protocols(const std::vector<group_protocol>& a, const std::vector<group_protocol>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].name != b[i].name || a[i].metadata != b[i].metadata) return false;
  }
  return true;
}

join_result join_error(kafka_error e, std::string member_id = {}) {
  join_result r;
  r.error = e;
  r.member_id = std::move(member_id);
  return r;
}

sync_result sync_error(kafka_error e) {
  sync_result r;
  r.error = e;
  return r;
}

}  // namespace

group::group(std::string id, const group_limits& limits, member_id_source ids)
    : _id(std::move(id)), _limits(limits), _ids(std::move(ids)) {}

group::~group() {
  for (auto& [id, m] : _members) {
    RINGLOG_ASSERT(!m.awaiting_join && !m.awaiting_sync,
                   "group {} destroyed with a parked call of member {}", _id, id);
  }
}

bool group::supports_protocols(const std::string& type,
                               const std::vector<group_protocol>& ps) const {
  if (type.empty() || ps.empty()) return false;
  if (_members.empty()) return true;
  if (!_protocol_type || *_protocol_type != type) return false;
  for (const auto& p : ps) {
    const bool all = std::all_of(_members.begin(), _members.end(), [&](const auto& kv) {
      return kv.second.metadata_for(p.name) != nullptr;
    });
    if (all) return true;
  }
  return false;
}

bool group::is_fenced(const std::optional<std::string>& instance,
                      const std::string& member_id) const {
  if (!instance) return false;
  auto it = _static.find(*instance);
  return it != _static.end() && it->second != member_id;
}

// Kafka's vote: among the protocols every member supports, each member votes
// for the first of its own list; the most votes win (ties: the candidate
// that comes first in the leader's list).
std::string group::select_protocol() const {
  RINGLOG_ASSERT(!_members.empty(), "protocol vote in the empty group {}", _id);
  const group_member& first =
      _members.count(_leader) ? _members.at(_leader) : _members.begin()->second;
  std::vector<std::string> candidates;
  for (const auto& p : first.protocols) {
    const bool all = std::all_of(_members.begin(), _members.end(), [&](const auto& kv) {
      return kv.second.metadata_for(p.name) != nullptr;
    });
    if (all) candidates.push_back(p.name);
  }
  RINGLOG_ASSERT(!candidates.empty(), "group {} has no protocol in common", _id);
  std::map<std::string, int> votes;
  for (const auto& [id, m] : _members) {
    for (const auto& p : m.protocols) {
      if (std::find(candidates.begin(), candidates.end(), p.name) != candidates.end()) {
        ++votes[p.name];
        break;
      }
    }
  }
  std::string best = candidates.front();
  for (const auto& c : candidates) {
    if (votes[c] > votes[best]) best = c;
  }
  return best;
}

int32_t group::rebalance_timeout_ms() const noexcept {
  int32_t t = 0;
  for (const auto& [id, m] : _members) t = std::max(t, m.rebalance_timeout_ms);
  return t;
}

join_result group::current_join_result(const group_member& m, bool with_members) const {
  join_result r;
  r.generation_id = _generation;
  r.protocol_type = _protocol_type;
  r.protocol_name = _protocol_name;
  r.leader = _leader;
  r.member_id = m.id;
  if (with_members && _protocol_name) {
    for (const auto& [id, other] : _members) {
      const auto* md = other.metadata_for(*_protocol_name);
      r.members.push_back(
          {id, other.group_instance_id, md != nullptr ? *md : std::vector<std::byte>{}});
    }
  }
  return r;
}

void group::join(join_params p, int64_t now_ms, join_callback done) {
  RINGLOG_ASSERT(!_id.empty(), "join of a group without an id");
  if (_state == group_state::dead) {
    done(join_error(kafka_error::coordinator_not_available, p.member_id));
    return;
  }
  if (p.session_timeout_ms < _limits.min_session_timeout_ms ||
      p.session_timeout_ms > _limits.max_session_timeout_ms) {
    done(join_error(kafka_error::invalid_session_timeout, p.member_id));
    return;
  }
  if (!supports_protocols(p.protocol_type, p.protocols)) {
    done(join_error(kafka_error::inconsistent_group_protocol, p.member_id));
    return;
  }
  // acceptJoiningMember: a full group refuses a member it does not know.
  const bool known = !p.member_id.empty() && _members.count(p.member_id) > 0;
  if (!known && _state != group_state::empty &&
      static_cast<int64_t>(_members.size()) >= _limits.max_size) {
    done(join_error(kafka_error::group_max_size_reached, p.member_id));
    return;
  }

  if (p.member_id.empty()) {
    // doNewMemberJoinGroup / doStaticNewMemberJoinGroup.
    if (p.group_instance_id && _static.count(*p.group_instance_id)) {
      const std::string old_id = _static.at(*p.group_instance_id);
      const std::string new_id = _ids(p.client_id);
      const std::string old_leader = _leader;
      replace_static_member(*p.group_instance_id, old_id, new_id);
      group_member& m = _members.at(new_id);
      const std::string previous_protocol = _protocol_name.value_or("");
      m.protocols = std::move(p.protocols);
      m.session_timeout_ms = p.session_timeout_ms;
      m.rebalance_timeout_ms = p.rebalance_timeout_ms;
      m.client_id = p.client_id;
      m.client_host = p.client_host;
      m.heartbeat_deadline_ms = now_ms + m.session_timeout_ms;
      switch (_state) {
        case group_state::stable:
          if (select_protocol() == previous_protocol) {
            // The same assignment stands: no rebalance. The leader learns the
            // members (v9 skip_assignment) or, before v9, sees the old
            // leader id so that it does not assign (Kafka's KIP-814 rule).
            join_result r = current_join_result(m, false);
            if (_leader == new_id) {
              if (p.supports_skip_assignment) {
                r = current_join_result(m, true);
                r.skip_assignment = true;
              } else {
                r.leader = old_leader;
              }
            }
            done(std::move(r));
            return;
          }
          m.awaiting_join = std::move(done);
          prepare_rebalance(now_ms);
          return;
        case group_state::completing_rebalance:
          m.awaiting_join = std::move(done);
          prepare_rebalance(now_ms);
          return;
        case group_state::preparing_rebalance:
          m.awaiting_join = std::move(done);
          maybe_complete_join(now_ms);
          return;
        case group_state::empty:
        case group_state::dead:
          break;
      }
      RINGLOG_ASSERT(false, "group {}: static member {} in state {}", _id, *p.group_instance_id,
                     state_name(_state));
    }
    const std::string new_id = _ids(p.client_id);
    if (!p.group_instance_id && p.require_known_member_id) {
      _pending[new_id] = now_ms + p.session_timeout_ms;
      done(join_error(kafka_error::member_id_required, new_id));
      return;
    }
    add_member(std::move(p), new_id, now_ms, std::move(done));
    return;
  }

  // doCurrentMemberJoinGroup.
  if (auto pending = _pending.find(p.member_id); pending != _pending.end()) {
    _pending.erase(pending);
    const std::string id = p.member_id;
    add_member(std::move(p), id, now_ms, std::move(done));
    return;
  }
  if (is_fenced(p.group_instance_id, p.member_id)) {
    done(join_error(kafka_error::fenced_instance_id, p.member_id));
    return;
  }
  if (!known || (p.group_instance_id && !_static.count(*p.group_instance_id))) {
    done(join_error(kafka_error::unknown_member_id, p.member_id));
    return;
  }
  group_member& m = _members.at(p.member_id);
  switch (_state) {
    case group_state::preparing_rebalance:
      update_member(m, p, std::move(done));
      maybe_complete_join(now_ms);
      return;
    case group_state::completing_rebalance:
      if (same_protocols(m.protocols, p.protocols)) {
        done(current_join_result(m, m.id == _leader));
        return;
      }
      update_member(m, p, std::move(done));
      prepare_rebalance(now_ms);
      return;
    case group_state::stable:
      if (m.id == _leader || !same_protocols(m.protocols, p.protocols)) {
        update_member(m, p, std::move(done));
        prepare_rebalance(now_ms);
        return;
      }
      m.heartbeat_deadline_ms = now_ms + m.session_timeout_ms;
      done(current_join_result(m, false));
      return;
    case group_state::empty:
    case group_state::dead:
      done(join_error(kafka_error::unknown_member_id, p.member_id));
      return;
  }
}

void group::add_member(join_params p, const std::string& member_id, int64_t now_ms,
                       join_callback done) {
  if (_members.empty()) _protocol_type = p.protocol_type;
  group_member m;
  m.id = member_id;
  m.group_instance_id = p.group_instance_id;
  m.client_id = std::move(p.client_id);
  m.client_host = std::move(p.client_host);
  m.session_timeout_ms = p.session_timeout_ms;
  m.rebalance_timeout_ms = p.rebalance_timeout_ms;
  m.protocol_type = std::move(p.protocol_type);
  m.protocols = std::move(p.protocols);
  m.awaiting_join = std::move(done);
  m.is_new = true;
  m.heartbeat_deadline_ms = now_ms + k_new_member_join_timeout_ms;
  m.join_order = _next_join_order++;
  if (m.group_instance_id) _static[*m.group_instance_id] = member_id;
  if (_leader.empty()) _leader = member_id;
  _members.emplace(member_id, std::move(m));
  if (_state == group_state::preparing_rebalance) {
    if (_initial_delay) {
      // Kafka's InitialDelayedJoin: each newcomer holds the door open for
      // another delay, up to the rebalance timeout.
      _join_deadline_ms =
          std::min(_join_deadline_max_ms, now_ms + _limits.initial_rebalance_delay_ms);
    }
    maybe_complete_join(now_ms);
  } else {
    maybe_prepare_rebalance(now_ms);
  }
}

void group::update_member(group_member& m, join_params& p, join_callback done) {
  m.protocols = std::move(p.protocols);
  m.session_timeout_ms = p.session_timeout_ms;
  m.rebalance_timeout_ms = p.rebalance_timeout_ms;
  m.client_id = p.client_id;
  m.client_host = p.client_host;
  if (m.awaiting_join) {
    // A client that repeats its JoinGroup has given up on the first one.
    auto old = std::move(m.awaiting_join);
    m.awaiting_join = nullptr;
    old(join_error(kafka_error::rebalance_in_progress, m.id));
  }
  m.awaiting_join = std::move(done);
}

void group::maybe_prepare_rebalance(int64_t now_ms) {
  if (_state == group_state::stable || _state == group_state::completing_rebalance ||
      _state == group_state::empty) {
    prepare_rebalance(now_ms);
  }
}

void group::prepare_rebalance(int64_t now_ms) {
  if (_state == group_state::completing_rebalance) {
    for (auto& [id, m] : _members) {
      if (m.awaiting_sync) {
        auto cb = std::move(m.awaiting_sync);
        m.awaiting_sync = nullptr;
        cb(sync_error(kafka_error::rebalance_in_progress));
      }
    }
  }
  const int32_t timeout = rebalance_timeout_ms();
  _initial_delay = _state == group_state::empty && _limits.initial_rebalance_delay_ms > 0;
  _state = group_state::preparing_rebalance;
  _join_deadline_max_ms = now_ms + timeout;
  _join_deadline_ms = _initial_delay
                          ? now_ms + std::min(_limits.initial_rebalance_delay_ms, timeout)
                          : _join_deadline_max_ms;
  maybe_complete_join(now_ms);
}

void group::maybe_complete_join(int64_t now_ms) {
  if (_state != group_state::preparing_rebalance || _initial_delay) return;
  const bool all =
      _pending.empty() && std::all_of(_members.begin(), _members.end(), [](const auto& kv) {
        return static_cast<bool>(kv.second.awaiting_join);
      });
  if (all) complete_join(now_ms);
}

void group::complete_join(int64_t now_ms) {
  RINGLOG_ASSERT(_state == group_state::preparing_rebalance, "group {}: join completes in {}", _id,
                 state_name(_state));
  _initial_delay = false;
  // Members that did not rejoin in time leave the group.
  std::vector<std::string> gone;
  for (const auto& [id, m] : _members) {
    if (!m.awaiting_join) gone.push_back(id);
  }
  for (const auto& id : gone) {
    auto it = _members.find(id);
    if (it->second.group_instance_id) _static.erase(*it->second.group_instance_id);
    _members.erase(it);
  }
  // A generation restored from a record may be INT32_MAX: the next one wraps
  // to 1 (Java's int would wrap negative, which clients read as "none").
  _generation = _generation >= std::numeric_limits<int32_t>::max() || _generation < 0
                    ? 1
                    : _generation + 1;
  if (_members.empty()) {
    _state = group_state::empty;
    state_timestamp_ms = wall_ms();
    _protocol_name.reset();
    _leader.clear();
    return;
  }
  if (!_members.count(_leader)) {
    const auto first = std::min_element(
        _members.begin(), _members.end(),
        [](const auto& a, const auto& b) { return a.second.join_order < b.second.join_order; });
    _leader = first->first;
  }
  _protocol_name = select_protocol();
  _state = group_state::completing_rebalance;
  for (auto& [id, m] : _members) {
    m.assignment.clear();
    m.is_new = false;
    m.heartbeat_deadline_ms = now_ms + m.session_timeout_ms;
    auto cb = std::move(m.awaiting_join);
    m.awaiting_join = nullptr;
    cb(current_join_result(m, id == _leader));
  }
  RINGLOG_ASSERT(_members.count(_leader), "group {}: leader {} is not a member", _id, _leader);
}

void group::replace_static_member(const std::string& instance, const std::string& old_id,
                                  const std::string& new_id) {
  auto node = _members.extract(old_id);
  RINGLOG_ASSERT(!node.empty(), "group {}: static member {} has no member", _id, instance);
  group_member& m = node.mapped();
  if (m.awaiting_join) {
    auto cb = std::move(m.awaiting_join);
    m.awaiting_join = nullptr;
    cb(join_error(kafka_error::fenced_instance_id, old_id));
  }
  if (m.awaiting_sync) {
    auto cb = std::move(m.awaiting_sync);
    m.awaiting_sync = nullptr;
    cb(sync_error(kafka_error::fenced_instance_id));
  }
  m.id = new_id;
  node.key() = new_id;
  _members.insert(std::move(node));
  _static[instance] = new_id;
  if (_leader == old_id) _leader = new_id;
}

void group::sync(int32_t generation, const std::string& member_id,
                 const std::optional<std::string>& group_instance_id,
                 const std::optional<std::string>& protocol_type,
                 const std::optional<std::string>& protocol_name,
                 std::map<std::string, std::vector<std::byte>> assignments, int64_t now_ms,
                 sync_callback done) {
  if (_state == group_state::dead) return done(sync_error(kafka_error::coordinator_not_available));
  if (is_fenced(group_instance_id, member_id))
    return done(sync_error(kafka_error::fenced_instance_id));
  auto it = _members.find(member_id);
  if (it == _members.end()) return done(sync_error(kafka_error::unknown_member_id));
  if (generation != _generation) return done(sync_error(kafka_error::illegal_generation));
  if ((protocol_type && protocol_type != _protocol_type) ||
      (protocol_name && protocol_name != _protocol_name)) {
    return done(sync_error(kafka_error::inconsistent_group_protocol));
  }
  group_member& m = it->second;
  switch (_state) {
    case group_state::empty:
    case group_state::dead:
      return done(sync_error(kafka_error::unknown_member_id));
    case group_state::preparing_rebalance:
      return done(sync_error(kafka_error::rebalance_in_progress));
    case group_state::stable: {
      m.heartbeat_deadline_ms = now_ms + m.session_timeout_ms;
      sync_result r;
      r.protocol_type = _protocol_type;
      r.protocol_name = _protocol_name;
      r.assignment = m.assignment;
      return done(std::move(r));
    }
    case group_state::completing_rebalance:
      break;
  }
  m.heartbeat_deadline_ms = now_ms + m.session_timeout_ms;
  if (m.awaiting_sync) {
    auto old = std::move(m.awaiting_sync);
    m.awaiting_sync = nullptr;
    old(sync_error(kafka_error::rebalance_in_progress));
  }
  m.awaiting_sync = std::move(done);
  if (member_id != _leader) return;
  for (auto& [id, other] : _members) {
    auto a = assignments.find(id);
    other.assignment = a != assignments.end() ? std::move(a->second) : std::vector<std::byte>{};
  }
  _state = group_state::stable;
  for (auto& [id, other] : _members) {
    if (!other.awaiting_sync) continue;
    auto cb = std::move(other.awaiting_sync);
    other.awaiting_sync = nullptr;
    sync_result r;
    r.protocol_type = _protocol_type;
    r.protocol_name = _protocol_name;
    r.assignment = other.assignment;
    cb(std::move(r));
  }
}

kafka_error group::heartbeat(int32_t generation, const std::string& member_id,
                             const std::optional<std::string>& group_instance_id, int64_t now_ms) {
  if (_state == group_state::dead) return kafka_error::coordinator_not_available;
  if (_state == group_state::empty) return kafka_error::unknown_member_id;
  if (is_fenced(group_instance_id, member_id)) return kafka_error::fenced_instance_id;
  auto it = _members.find(member_id);
  if (it == _members.end()) return kafka_error::unknown_member_id;
  if (generation != _generation) return kafka_error::illegal_generation;
  it->second.heartbeat_deadline_ms = now_ms + it->second.session_timeout_ms;
  if (_state == group_state::preparing_rebalance) return kafka_error::rebalance_in_progress;
  return kafka_error::none;
}

kafka_error group::leave(const std::string& member_id,
                         const std::optional<std::string>& group_instance_id, int64_t now_ms) {
  if (_state == group_state::dead) return kafka_error::coordinator_not_available;
  std::string id = member_id;
  if (group_instance_id) {
    auto s = _static.find(*group_instance_id);
    if (s == _static.end()) return kafka_error::unknown_member_id;
    if (!member_id.empty() && s->second != member_id) return kafka_error::fenced_instance_id;
    id = s->second;
  } else if (_pending.erase(member_id) > 0) {
    maybe_complete_join(now_ms);
    return kafka_error::none;
  }
  if (!_members.count(id)) return kafka_error::unknown_member_id;
  remove_member(id, now_ms);
  return kafka_error::none;
}

void group::remove_member(const std::string& member_id, int64_t now_ms) {
  auto it = _members.find(member_id);
  RINGLOG_ASSERT(it != _members.end(), "group {}: removing unknown member {}", _id, member_id);
  group_member& m = it->second;
  if (m.awaiting_join) {
    auto cb = std::move(m.awaiting_join);
    m.awaiting_join = nullptr;
    cb(join_error(kafka_error::unknown_member_id, member_id));
  }
  if (m.awaiting_sync) {
    auto cb = std::move(m.awaiting_sync);
    m.awaiting_sync = nullptr;
    cb(sync_error(kafka_error::unknown_member_id));
  }
  if (m.group_instance_id) _static.erase(*m.group_instance_id);
  _members.erase(it);
  if (_leader == member_id) {
    _leader.clear();
    const group_member* best = nullptr;
    for (const auto& [id, other] : _members) {
      if (best == nullptr || other.join_order < best->join_order) best = &other;
    }
    if (best != nullptr) _leader = best->id;
  }
  switch (_state) {
    case group_state::stable:
    case group_state::completing_rebalance:
      prepare_rebalance(now_ms);
      break;
    case group_state::preparing_rebalance:
      maybe_complete_join(now_ms);
      break;
    case group_state::empty:
    case group_state::dead:
      break;
  }
}

kafka_error group::validate_commit(int32_t generation, const std::string& member_id,
                                   const std::optional<std::string>& group_instance_id,
                                   int64_t now_ms) {
  if (_state == group_state::dead) return kafka_error::coordinator_not_available;
  if (generation >= 0 || !member_id.empty() || group_instance_id) {
    if (group_instance_id) {
      auto s = _static.find(*group_instance_id);
      if (s == _static.end()) return kafka_error::unknown_member_id;
      if (s->second != member_id) return kafka_error::fenced_instance_id;
    }
    auto it = _members.find(member_id);
    if (it == _members.end()) return kafka_error::unknown_member_id;
    if (generation != _generation) return kafka_error::illegal_generation;
    if (_state == group_state::completing_rebalance) return kafka_error::rebalance_in_progress;
    it->second.heartbeat_deadline_ms = now_ms + it->second.session_timeout_ms;
    return kafka_error::none;
  }
  // No member id and no generation: only a group without members (a
  // "simple" group: manual assignment, admin tools) may commit this way.
  if (_state != group_state::empty) return kafka_error::unknown_member_id;
  return kafka_error::none;
}

void group::tick(int64_t now_ms) {
  if (_state == group_state::dead) return;
  for (auto it = _pending.begin(); it != _pending.end();) {
    it = now_ms >= it->second ? _pending.erase(it) : std::next(it);
  }
  // A parked member is alive (a new one only up to its join timeout); the
  // others must have heartbeated in time.
  std::vector<std::string> expired;
  for (const auto& [id, m] : _members) {
    if ((!m.awaiting_join || m.is_new) && !m.awaiting_sync && now_ms >= m.heartbeat_deadline_ms) {
      expired.push_back(id);
    }
  }
  for (const auto& id : expired) {
    if (_members.count(id)) remove_member(id, now_ms);
  }
  if (_state == group_state::preparing_rebalance) {
    if (now_ms >= _join_deadline_ms) {
      complete_join(now_ms);
    } else {
      maybe_complete_join(now_ms);
    }
  }
}

void group::shut(kafka_error why) {
  for (auto& [id, m] : _members) {
    if (m.awaiting_join) {
      auto cb = std::move(m.awaiting_join);
      m.awaiting_join = nullptr;
      cb(join_error(why, id));
    }
    if (m.awaiting_sync) {
      auto cb = std::move(m.awaiting_sync);
      m.awaiting_sync = nullptr;
      cb(sync_error(why));
    }
  }
  _members.clear();
  _pending.clear();
  _static.clear();
  _leader.clear();
  _state = group_state::dead;
}

group_snapshot group::snapshot(int64_t wall_now_ms) const {
  group_snapshot s;
  s.protocol_type = _protocol_type.value_or("");
  s.generation = _generation;
  s.protocol = _protocol_name;
  if (!_leader.empty()) s.leader = _leader;
  s.current_state_timestamp_ms = state_timestamp_ms >= 0 ? state_timestamp_ms : wall_now_ms;
  if (_state != group_state::stable) return s;
  for (const auto& [id, m] : _members) {
    auto& o = s.members.emplace_back();
    o.member_id = id;
    o.group_instance_id = m.group_instance_id;
    o.client_id = m.client_id;
    o.client_host = m.client_host;
    o.rebalance_timeout_ms = m.rebalance_timeout_ms;
    o.session_timeout_ms = m.session_timeout_ms;
    const auto* md = _protocol_name ? m.metadata_for(*_protocol_name) : nullptr;
    if (md != nullptr) o.subscription = *md;
    o.assignment = m.assignment;
  }
  return s;
}

void group::restore(const group_snapshot& s, int64_t now_ms) {
  RINGLOG_ASSERT(_state != group_state::dead, "restoring the dead group {}", _id);
  for (auto& [id, m] : _members) {
    RINGLOG_ASSERT(!m.awaiting_join && !m.awaiting_sync, "restoring group {} with parked calls",
                   _id);
  }
  _members.clear();
  _pending.clear();
  _static.clear();
  _generation = s.generation;
  _protocol_type =
      s.protocol_type.empty() ? std::nullopt : std::optional<std::string>(s.protocol_type);
  _protocol_name = s.protocol;
  _leader.clear();
  for (const auto& o : s.members) {
    group_member m;
    m.id = o.member_id;
    m.group_instance_id = o.group_instance_id;
    m.client_id = o.client_id;
    m.client_host = o.client_host;
    m.session_timeout_ms = o.session_timeout_ms;
    m.rebalance_timeout_ms =
        o.rebalance_timeout_ms >= 0 ? o.rebalance_timeout_ms : o.session_timeout_ms;
    m.protocol_type = s.protocol_type;
    if (s.protocol) m.protocols.push_back({*s.protocol, o.subscription});
    m.assignment = o.assignment;
    m.heartbeat_deadline_ms = now_ms + m.session_timeout_ms;
    m.join_order = _next_join_order++;
    // A record naming one member id or one instance id twice (Kafka never
    // writes one) keeps the first: the instance map must point only at
    // members that exist.
    if (_members.count(m.id) != 0 || (m.group_instance_id && _static.count(*m.group_instance_id))) {
      RINGLOG_WARN("group {}: its stored metadata names member {} twice; the later one is dropped",
                   _id, m.id);
      continue;
    }
    if (m.group_instance_id) _static[*m.group_instance_id] = m.id;
    _members.emplace(m.id, std::move(m));
  }
  if (s.leader && _members.count(*s.leader)) _leader = *s.leader;
  if (_leader.empty() && !_members.empty()) _leader = _members.begin()->first;
  _state = _members.empty() || !_protocol_name ? group_state::empty : group_state::stable;
  if (_state == group_state::empty) {
    _members.clear();
    _static.clear();
    _leader.clear();
  }
  stored_generation = _generation;
  durable_generation = _generation;
  store_error = kafka_error::none;
  state_timestamp_ms = s.current_state_timestamp_ms;
}

std::vector<std::pair<std::string, int32_t>> group::expired_offsets(int64_t wall_now_ms,
                                                                    int64_t retention_ms) const {
  std::vector<std::pair<std::string, int32_t>> out;
  enum class base { commit, state } from = base::commit;
  std::vector<std::string> kept;
  if (!_protocol_type) {
    from = base::commit;
  } else if (_state == group_state::empty) {
    from = base::state;
  } else if (_protocol_type == "consumer" && _state == group_state::stable) {
    kept = subscribed_topics();
  } else {
    return out;
  }
  for (const auto& [topic, parts] : _offsets.topics()) {
    if (std::find(kept.begin(), kept.end(), topic) != kept.end()) continue;
    for (const auto& [partition, c] : parts) {
      bool expired = false;
      if (c.expire_timestamp_ms >= 0) {
        expired = wall_now_ms >= c.expire_timestamp_ms;
      } else {
        const int64_t since = from == base::state && state_timestamp_ms >= 0
                                  ? state_timestamp_ms
                                  : c.commit_timestamp_ms;
        // `since` comes from a stored record: any int64 (a hostile one, INT64_MIN).
        expired = sub_saturating(wall_now_ms, since) >= retention_ms;
      }
      if (expired) out.emplace_back(topic, partition);
    }
  }
  return out;
}

// ConsumerProtocolSubscription (every version starts the same way): int16
// version, then an array (int32 count) of int16-length topic names.
std::vector<std::string> group::subscribed_topics() const {
  std::vector<std::string> out;
  if (_protocol_type != "consumer") return out;
  for (const auto& [id, m] : _members) {
    const auto* md = _protocol_name ? m.metadata_for(*_protocol_name) : nullptr;
    if (md == nullptr && !m.protocols.empty()) md = &m.protocols.front().metadata;
    if (md == nullptr) continue;
    const auto& b = *md;
    auto u8 = [&](size_t i) { return static_cast<uint32_t>(std::to_integer<uint8_t>(b[i])); };
    if (b.size() < 6) continue;
    const int32_t n = static_cast<int32_t>((u8(2) << 24) | (u8(3) << 16) | (u8(4) << 8) | u8(5));
    size_t at = 6;
    for (int32_t i = 0; i < n && at + 2 <= b.size(); ++i) {
      const size_t len = (u8(at) << 8) | u8(at + 1);
      at += 2;
      if (at + len > b.size()) break;
      std::string topic(reinterpret_cast<const char*>(b.data() + at), len);
      at += len;
      if (std::find(out.begin(), out.end(), topic) == out.end()) out.push_back(std::move(topic));
    }
  }
  return out;
}

}  // namespace ringlog::broker
