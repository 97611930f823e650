#include "broker/dispatcher.h"

#include <fmt/format.h>

#include "base/log.h"
#include "broker/handlers/common.h"
#include "broker/supported_apis.h"
#include "net/protocol/api/api_versions.h"
#include "net/protocol/api/api_table.h"

namespace ringlog::broker {

protocol::api_versions_response api_versions_body();

namespace {

constexpr int16_t k_api_versions_key = 18;

}  // namespace

task<net::reply> dispatcher::handle(net::request_context& ctx, protocol::wire_writer& out) {
  const auto& h = ctx.header;
  const supported_api* api = find_supported(h.api_key);
  if (api != nullptr && h.api_version >= api->min_version && h.api_version <= api->max_version) {
    co_return co_await api->handle(_broker, ctx, out);
  }
  if (h.api_key == k_api_versions_key) {
    // Header v0 and the v0 body, whatever version was asked.
    auto response = api_versions_body();
    response.error_code = protocol::code(protocol::kafka_error::unsupported_version);
    protocol::encode_response_header(out, h.correlation_id, h.api_key, 0);
    response.encode(out, 0);
    co_return net::reply::send;
  }
  const protocol::api_spec* spec = protocol::find_api(h.api_key);
  RINGLOG_WARN("{} v{} (api key {}) from {} (client {}) is not supported{}; closing the connection",
               spec != nullptr ? spec->name : "unknown api", h.api_version, h.api_key,
               ctx.connection->peer, h.client_id.value_or("-"),
               api != nullptr ? fmt::format(" (we serve v{}-v{})", api->min_version, api->max_version)
                              : std::string());
  co_return net::reply::close;
}

}  // namespace ringlog::broker
