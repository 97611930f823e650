// Request and response headers; see request_header.h for the versions.
#include "net/protocol/api/request_header.h"

#include "net/protocol/api/api_table.h"

namespace ringlog::protocol {

namespace {

constexpr int16_t k_api_versions_key = 18;

bool flexible(int16_t api_key, int16_t api_version) {
  const api_spec* api = find_api(api_key);
  // Versions above our max count too: an ApiVersions request newer than we
  // speak still has a v2 header, and we must read past it to answer.
  return api != nullptr && api_version >= api->flexible_from;
}

}  // namespace

int16_t request_header_version(int16_t api_key, int16_t api_version) {
  return flexible(api_key, api_version) ? 2 : 1;
}

int16_t response_header_version(int16_t api_key, int16_t api_version) {
  if (api_key == k_api_versions_key) return 0;
  return flexible(api_key, api_version) ? 1 : 0;
}

bool decode_request_header(wire_reader& r, request_header& h) {
  r.set_field("request_header.request_api_key");
  h.api_key = r.read_int16();
  r.set_field("request_header.request_api_version");
  h.api_version = r.read_int16();
  r.set_field("request_header.correlation_id");
  h.correlation_id = r.read_int32();
  r.set_field("request_header.client_id");
  const auto client_id = r.read_nullable_string();
  if (!client_id) {
    h.client_id.reset();
  } else if (h.client_id) {
    h.client_id->assign(*client_id);
  } else {
    h.client_id.emplace(*client_id);
  }
  if (r.ok() && request_header_version(h.api_key, h.api_version) >= 2) {
    r.set_field("request_header.tagged_fields");
    r.skip_tagged_fields();
  }
  return r.ok();
}

void encode_request_header(wire_writer& w, const request_header& h) {
  w.write_int16(h.api_key);
  w.write_int16(h.api_version);
  w.write_int32(h.correlation_id);
  w.write_nullable_string(h.client_id);
  if (request_header_version(h.api_key, h.api_version) >= 2) w.write_empty_tagged_fields();
}

void encode_response_header(wire_writer& w, int32_t correlation_id, int16_t api_key,
                            int16_t api_version) {
  w.write_int32(correlation_id);
  if (response_header_version(api_key, api_version) >= 1) w.write_empty_tagged_fields();
}

}  // namespace ringlog::protocol
