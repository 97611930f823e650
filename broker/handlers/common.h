// What every API handler shares: decoding a request body with a logged
// reason when it is malformed, writing a response frame (size, response
// header, body) for the request's version, and the authorized-operation sets
// the APIs that report them agree on.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/log.h"
#include "controller/uuid.h"
#include "net/protocol/errors.h"
#include "net/protocol/wire.h"
#include "net/request_handler.h"

namespace ringlog::broker {

// Without ACLs every operation is allowed: Kafka's AclOperation bit set for a
// topic (READ 3, WRITE 4, CREATE 5, DELETE 6, ALTER 7, DESCRIBE 8,
// DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11) and for the cluster (CREATE 5,
// ALTER 7, DESCRIBE 8, CLUSTER_ACTION 9, DESCRIBE_CONFIGS 10, ALTER_CONFIGS
// 11, IDEMPOTENT_WRITE 12). Metadata and DescribeCluster answer with these.
inline constexpr int32_t k_topic_operations = (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) |
                                              (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11);
inline constexpr int32_t k_cluster_operations =
    (1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12);

// Decodes ctx.body as `Request` at the request's version. A malformed body is
// logged with the API, version, client and reason; the caller then answers
// reply::close (Kafka closes such a connection too).
template <class Request>
bool decode_request(const net::request_context& ctx, Request& request, std::string_view api) {
  protocol::wire_reader reader(ctx.body);
  request.decode(reader, ctx.header.api_version);
  if (!reader.ok()) {
    RINGLOG_WARN("{} v{} from {} (client {}): malformed request: {}; closing the connection", api,
                 ctx.header.api_version, ctx.connection->peer,
                 ctx.header.client_id.value_or("-"), reader.error_message());
    return false;
  }
  return true;
}

template <class Response>
net::reply send_response(const net::request_context& ctx, const Response& response,
                         protocol::wire_writer& out) {
  protocol::encode_response_header(out, ctx.header.correlation_id, ctx.header.api_key,
                                   ctx.header.api_version);
  response.encode(out, ctx.header.api_version);
  return net::reply::send;
}

inline protocol::uuid to_wire(const controller::topic_id& id) noexcept {
  return protocol::uuid{id.bytes()};
}
inline controller::topic_id from_wire(const protocol::uuid& id) noexcept {
  return controller::topic_id::from_bytes(id.bytes);
}

}  // namespace ringlog::broker
