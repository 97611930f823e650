#include "broker/supported_apis.h"

#include <array>

namespace ringlog::broker {
namespace {

// Lower bounds: Produce 3 and Fetch 4 are the first versions that carry
// RecordBatch v2 only (the legacy message formats are not stored); the others
// start where the oldest client of CLIENTS.md needs them. Upper bounds: the
// newest versions of the Kafka specs we read, for the APIs whose every field
// we honour.
constexpr std::array k_apis{
    supported_api{0, 3, 11, &handle_produce},
    supported_api{1, 4, 17, &handle_fetch},
    supported_api{2, 1, 10, &handle_list_offsets},
    supported_api{3, 0, 12, &handle_metadata},
    supported_api{8, 0, 8, &handle_offset_commit},
    supported_api{9, 0, 8, &handle_offset_fetch},
    supported_api{10, 0, 4, &handle_find_coordinator},
    supported_api{11, 0, 9, &handle_join_group},
    supported_api{12, 0, 4, &handle_heartbeat},
    supported_api{13, 0, 5, &handle_leave_group},
    supported_api{14, 0, 5, &handle_sync_group},
    supported_api{15, 0, 5, &handle_describe_groups},
    supported_api{16, 0, 5, &handle_list_groups},
    supported_api{18, 0, 4, &handle_api_versions},
    supported_api{19, 2, 7, &handle_create_topics},
    supported_api{20, 1, 6, &handle_delete_topics},
    supported_api{22, 0, 5, &handle_init_producer_id},
    supported_api{21, 0, 2, &handle_delete_records},
    supported_api{32, 0, 4, &handle_describe_configs},
    supported_api{33, 0, 2, &handle_alter_configs},
    supported_api{37, 0, 3, &handle_create_partitions},
    supported_api{42, 0, 2, &handle_delete_groups},
    supported_api{44, 0, 1, &handle_incremental_alter_configs},
    supported_api{47, 0, 0, &handle_offset_delete},
    supported_api{60, 0, 1, &handle_describe_cluster},
};

}  // namespace

std::span<const supported_api> supported_apis() noexcept { return k_apis; }

const supported_api* find_supported(int16_t key) noexcept {
  for (const auto& api : k_apis) {
    if (api.key == key) return &api;
  }
  return nullptr;
}

}  // namespace ringlog::broker
