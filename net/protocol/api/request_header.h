// Kafka's request and response headers (FORMATS.md §5), hand-written because
// their versions follow from the body's API and version rather than from a
// declaration of their own:
//   request  v1: api_key int16, api_version int16, correlation_id int32,
//                client_id (always a classic int16-length nullable string)
//            v2: v1 + a tagged-field section (flexible body versions)
//   response v0: correlation_id int32
//            v1: v0 + a tagged-field section (flexible body versions, except
//                ApiVersions, whose response header is always v0: a client
//                must read it before it knows what the broker speaks)
// Request header v0 (ControlledShutdown v0 only) is not used: we do not
// declare that API. A key we do not declare reads as header v1, so the broker
// still learns the correlation id it needs to answer UNSUPPORTED_VERSION.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "net/protocol/wire.h"

namespace ringlog::protocol {

struct request_header {
  int16_t api_key = 0;
  int16_t api_version = 0;
  int32_t correlation_id = 0;
  // Kafka reads a null client id as "". Assigned, not replaced, on decode, so
  // a reused header keeps its capacity.
  std::optional<std::string> client_id;
};

// 1 or 2 (see above); the body's flexibility decides.
int16_t request_header_version(int16_t api_key, int16_t api_version);
// 0 or 1; ApiVersions is always 0.
int16_t response_header_version(int16_t api_key, int16_t api_version);

// Reads the header at the reader's position; false (and !r.ok()) on a
// malformed header. On success the reader sits at the body.
bool decode_request_header(wire_reader& r, request_header& h);
void encode_request_header(wire_writer& w, const request_header& h);
void encode_response_header(wire_writer& w, int32_t correlation_id, int16_t api_key,
                            int16_t api_version);

}  // namespace ringlog::protocol
