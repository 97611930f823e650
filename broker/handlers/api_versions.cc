// ApiVersions: the version ranges of supported_apis.h. It must never close the
// connection (clients ask it first, some at versions newer than ours): a
// version above ours is answered by the dispatcher with UNSUPPORTED_VERSION in
// the v0 layout, from which clients retry at a version we know.
#include <string_view>

#include "broker/broker.h"
#include "broker/handlers/common.h"
#include "broker/handlers/handlers.h"
#include "broker/supported_apis.h"
#include "net/protocol/api/api_versions.h"

namespace ringlog::broker {
namespace {

// Kafka's rule for ClientSoftwareName/Version (v3+): alphanumerics, '-' and
// '.', starting and ending with an alphanumeric.
bool valid_software_field(std::string_view s) {
  if (s.empty()) return false;
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(s.front()) || !alnum(s.back())) return false;
  for (char c : s) {
    if (!alnum(c) && c != '-' && c != '.') return false;
  }
  return true;
}

}  // namespace

protocol::api_versions_response api_versions_body() {
  protocol::api_versions_response response;
  for (const auto& api : supported_apis()) {
    auto& entry = response.api_keys.emplace_back();
    entry.api_key = api.key;
    entry.min_version = api.min_version;
    entry.max_version = api.max_version;
  }
  return response;
}

task<net::reply> handle_api_versions(broker&, net::request_context& ctx, protocol::wire_writer& out) {
  protocol::api_versions_request request;
  if (!decode_request(ctx, request, "ApiVersions")) co_return net::reply::close;
  protocol::api_versions_response response = api_versions_body();
  if (ctx.header.api_version >= 3 && (!valid_software_field(request.client_software_name) ||
                                      !valid_software_field(request.client_software_version))) {
    response.error_code = protocol::code(protocol::kafka_error::invalid_request);
  }
  co_return send_response(ctx, response, out);
}

}  // namespace ringlog::broker
