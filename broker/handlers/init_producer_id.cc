// InitProducerId: a producer id and epoch for an idempotent producer.
//
// Non-transactional (transactional_id null): a fresh id from this shard's
// cache (broker::pids(), refilled from the controller in durable blocks, so
// no id is handed out twice, across restarts too) with epoch 0.
//
// v3+ epoch bump (KIP-360): a producer that sends the id and epoch it holds
// gets the same id with epoch + 1, which fences its older epoch and restarts
// its sequence numbers. We keep no per-id state here, so the id is only
// checked to be one of ours (below the image's next producer id); any other
// id, or an epoch that cannot grow (32767), gets a fresh id with epoch 0.
// (Kafka's own coordinator always answers a non-transactional request with
// a fresh id; both keep the producer's guarantee, the bump keeps its id.)
//
// Transactional (transactional_id non-null): not supported yet, see
// k_transactions_unsupported.
#include "net/protocol/api/init_producer_id.h"

#include <cstdint>
#include <limits>

#include "broker/broker.h"
#include "broker/handlers/common.h"
#include "broker/handlers/handlers.h"
#include "broker/producer_ids.h"
#include "controller/controller.h"

namespace ringlog::broker {
namespace {

using protocol::kafka_error;

// The answer to a transactional InitProducerId until transactions exist.
// TRANSACTIONAL_ID_AUTHORIZATION_FAILED is fatal in both clients that have
// transactional producers: librdkafka raises a fatal error on it
// (rd_kafka_idemp_check_error) and kafkajs marks it not retriable, so
// init_transactions() / transaction() fail at once with a clear error. The
// coordinator codes (COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR,
// COORDINATOR_LOAD_IN_PROGRESS) are retriable in both: the client would look
// for a coordinator until its timeout and report only a timeout. Produce
// answers transactional batches with the same code (handlers/produce.cc).
constexpr kafka_error k_transactions_unsupported =
    kafka_error::transactional_id_authorization_failed;

constexpr int64_t k_no_producer_id = -1;
constexpr int16_t k_no_producer_epoch = -1;

// Why no fresh id could be had. Controller errors go through its table (a
// stopped controller or an offline metadata log: KAFKA_STORAGE_ERROR, which
// clients retry); anything else is a server error.
kafka_error allocation_error(const error& e) noexcept {
  if (&e.domain() == &controller::domain_of(controller::errc{})) {
    return static_cast<kafka_error>(
        controller::to_kafka_error(static_cast<controller::errc>(e.code())));
  }
  return kafka_error::unknown_server_error;
}

}  // namespace

task<net::reply> handle_init_producer_id(broker& b, net::request_context& ctx,
                                         protocol::wire_writer& out) {
  protocol::init_producer_id_request request;
  if (!decode_request(ctx, request, "InitProducerId")) co_return net::reply::close;

  protocol::init_producer_id_response response;
  response.producer_id = k_no_producer_id;
  response.producer_epoch = k_no_producer_epoch;
  if (request.transactional_id.has_value()) {
    // Kafka refuses an empty transactional id as INVALID_REQUEST (its
    // clients never send one); any other is a transactional producer.
    response.error_code =
        protocol::code(request.transactional_id->empty() ? kafka_error::invalid_request
                                                         : k_transactions_unsupported);
    co_return send_response(ctx, response, out);
  }

  // v0-2 always send -1/-1 (the fields' defaults), so only v3+ can bump.
  const bool ours = request.producer_id >= 0 &&
                    request.producer_id < b.ctl().image_on_this_shard().next_producer_id();
  if (ours && request.producer_epoch >= 0 &&
      request.producer_epoch < std::numeric_limits<int16_t>::max()) {
    response.error_code = protocol::code(kafka_error::none);
    response.producer_id = request.producer_id;
    response.producer_epoch = static_cast<int16_t>(request.producer_epoch + 1);
    co_return send_response(ctx, response, out);
  }

  auto id = co_await b.pids().next();
  if (!id) {
    RINGLOG_WARN("InitProducerId from {} (client {}): no producer id: {}", ctx.connection->peer,
                 ctx.header.client_id.value_or("-"), id.error().message());
    response.error_code = protocol::code(allocation_error(id.error()));
    co_return send_response(ctx, response, out);
  }
  response.error_code = protocol::code(kafka_error::none);
  response.producer_id = *id;
  response.producer_epoch = 0;
  co_return send_response(ctx, response, out);
}

}  // namespace ringlog::broker
