// One function per Kafka API (handlers/<api>.cc). Each runs on the
// connection's shard, decodes its request at the request's version, does its
// work (hopping to the shards that own the partitions involved) and writes
// its response. A malformed body returns reply::close after logging why.
#pragma once

#include "engine/runtime/task.h"
#include "net/protocol/wire.h"
#include "net/request_handler.h"

namespace ringlog::broker {

class broker;

using handler_fn = task<net::reply> (*)(broker&, net::request_context&, protocol::wire_writer&);

task<net::reply> handle_api_versions(broker& b, net::request_context& ctx, protocol::wire_writer& out);
task<net::reply> handle_metadata(broker& b, net::request_context& ctx, protocol::wire_writer& out);
task<net::reply> handle_produce(broker& b, net::request_context& ctx, protocol::wire_writer& out);
task<net::reply> handle_fetch(broker& b, net::request_context& ctx, protocol::wire_writer& out);
task<net::reply> handle_list_offsets(broker& b, net::request_context& ctx, protocol::wire_writer& out);
task<net::reply> handle_create_topics(broker& b, net::request_context& ctx, protocol::wire_writer& out);
task<net::reply> handle_delete_topics(broker& b, net::request_context& ctx, protocol::wire_writer& out);
task<net::reply> handle_init_producer_id(broker& b, net::request_context& ctx, protocol::wire_writer& out);
task<net::reply> handle_delete_records(broker& b, net::request_context& ctx, protocol::wire_writer& out);
task<net::reply> handle_describe_configs(broker& b, net::request_context& ctx, protocol::wire_writer& out);
task<net::reply> handle_alter_configs(broker& b, net::request_context& ctx, protocol::wire_writer& out);
task<net::reply> handle_create_partitions(broker& b, net::request_context& ctx, protocol::wire_writer& out);
task<net::reply> handle_incremental_alter_configs(broker& b, net::request_context& ctx,
                                                  protocol::wire_writer& out);
task<net::reply> handle_describe_cluster(broker& b, net::request_context& ctx, protocol::wire_writer& out);

// Consumer groups (broker/group): each hops to the group's shard.
task<net::reply> handle_find_coordinator(broker& b, net::request_context& ctx, protocol::wire_writer& out);
task<net::reply> handle_join_group(broker& b, net::request_context& ctx, protocol::wire_writer& out);
task<net::reply> handle_sync_group(broker& b, net::request_context& ctx, protocol::wire_writer& out);
task<net::reply> handle_heartbeat(broker& b, net::request_context& ctx, protocol::wire_writer& out);
task<net::reply> handle_leave_group(broker& b, net::request_context& ctx, protocol::wire_writer& out);
task<net::reply> handle_offset_commit(broker& b, net::request_context& ctx, protocol::wire_writer& out);
task<net::reply> handle_offset_fetch(broker& b, net::request_context& ctx, protocol::wire_writer& out);
task<net::reply> handle_list_groups(broker& b, net::request_context& ctx, protocol::wire_writer& out);
task<net::reply> handle_describe_groups(broker& b, net::request_context& ctx, protocol::wire_writer& out);
task<net::reply> handle_delete_groups(broker& b, net::request_context& ctx, protocol::wire_writer& out);
task<net::reply> handle_offset_delete(broker& b, net::request_context& ctx, protocol::wire_writer& out);

}  // namespace ringlog::broker
