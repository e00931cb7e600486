// Backoff and next state (see retry.hpp).
#include "relay/queue/retry.hpp"

#include <algorithm>

namespace dr::relay {

namespace {
std::int64_t us(std::chrono::seconds s) {
    return std::chrono::duration_cast<std::chrono::microseconds>(s).count();
}
}  // namespace

const char* to_string(RecipientState s) {
    switch (s) {
        case RecipientState::sent:
            return "sent";
        case RecipientState::deferred:
            return "deferred";
        case RecipientState::bounced:
            return "bounced";
    }
    return "?";
}

std::chrono::seconds backoff(const conf::QueueConfig& q, std::uint32_t attempts) {
    auto b = q.minimal_backoff;
    for (std::uint32_t i = 1; i < attempts && b < q.maximal_backoff; ++i) b *= 2;
    return std::min(b, q.maximal_backoff);
}

RcptState next_state(RcptState st, RecipientState outcome, const std::string& dsn,
                     const std::string& text, std::int64_t arrival_us, std::int64_t now_us,
                     const conf::QueueConfig& q) {
    ++st.attempts;
    st.dsn = dsn;
    st.reason = text;
    switch (outcome) {
        case RecipientState::sent:
            st.status = RcptStatus::delivered;
            break;
        case RecipientState::bounced:
            st.status = RcptStatus::bounced;
            break;
        case RecipientState::deferred:
            // SPEC §4: past maximal_queue_lifetime a deferral becomes a bounce.
            if (now_us - arrival_us >= us(q.maximal_queue_lifetime)) {
                st.status = RcptStatus::bounced;
            } else {
                st.status = RcptStatus::deferred;
                st.next_attempt_us = now_us + us(backoff(q, st.attempts));
            }
            break;
    }
    return st;
}

bool expired(RecipientState outcome, const RcptState& next) {
    return outcome == RecipientState::deferred && next.status == RcptStatus::bounced;
}

}  // namespace dr::relay
