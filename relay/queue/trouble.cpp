// The failure policy (see trouble.hpp).
#include "relay/queue/trouble.hpp"

namespace dr::relay {

const char* to_string(FailureAction a) {
    switch (a) {
        case FailureAction::bounce:
            return "bounce";
        case FailureAction::next_host:
            return "next host";
        case FailureAction::defer:
            return "defer";
    }
    return "?";
}

FailureAction on_failure(const smtp::DeliveryStatus& status, bool last_host) {
    if (status.permanent()) return FailureAction::bounce;
    return last_host ? FailureAction::defer : FailureAction::next_host;
}

FailureAction on_notice_failure(FailureAction action, bool notice_queued) {
    if (action == FailureAction::bounce && !notice_queued) return FailureAction::defer;
    return action;
}

smtp::DeliveryStatus to_status(const dane::Failure& f) {
    return f.permanent ? smtp::DeliveryStatus::perm(f.dsn, f.reason)
                       : smtp::DeliveryStatus::temp(f.dsn, f.reason);
}

void AttemptTrouble::note(const smtp::DeliveryStatus& status, std::string where) {
    last_ = status;
    relay_ = std::move(where);
    any_temporary_ |= !status.permanent();
}

smtp::DeliveryStatus AttemptTrouble::verdict() const {
    smtp::DeliveryStatus s =
        last_.value_or(smtp::DeliveryStatus::temp("4.4.3", "no usable mail host"));
    if (any_temporary_ && s.permanent()) s.kind = smtp::DeliveryStatus::Kind::temporary;
    return s;
}

}  // namespace dr::relay
