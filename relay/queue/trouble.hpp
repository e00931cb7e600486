// The failure policy, in one place (DESIGN §3.4, Postfix's smtp_trouble.c): what a failed
// step means for a recipient, and which failure stands for a whole attempt when no host took
// the mail. Shared by delivery (relay/queue/delivery) and `dane-relay check`'s verdict.
// Entry points: on_failure(), on_notice_failure(), AttemptTrouble. Pure: no I/O.
#pragma once

#include <optional>
#include <string>

#include "dane/policy.hpp"
#include "smtp/delivery_status.hpp"

namespace dr::relay {

// What happens to a recipient after a failure (RFC 5321 §4.5.4.1, smtp_trouble.c): bounce on a
// permanent reply; on a temporary one keep it for the next host, unless this was the last host,
// then defer.
enum class FailureAction { bounce, next_host, defer };
const char* to_string(FailureAction a);
FailureAction on_failure(const smtp::DeliveryStatus& status, bool last_host);

// A recipient that bounced but whose sender cannot be told now (the notice could not be queued):
// Postfix's smtp_bounce() defers it instead when bounce_append() fails, so the bounce is
// retried later and never dropped silently (the scheduler keeps the message and tries the
// notice again after minimal_backoff; the recipient stays bounced). `notice_queued` is false only
// for that failure; "no notice wanted" (null sender, NOTIFY=NEVER) counts as queued.
FailureAction on_notice_failure(FailureAction action, bool notice_queued);

// A DNS/policy failure (dane::Failure) as a delivery status.
smtp::DeliveryStatus to_status(const dane::Failure& f);

// The failure that stands when no host took the mail: the last one seen, permanent only when
// every failure was permanent (Postfix: a soft error anywhere makes the whole attempt soft, so
// one host's 5xx does not bounce mail that another host deferred).
class AttemptTrouble {
  public:
    void note(const smtp::DeliveryStatus& status, std::string where);
    void note(const dane::Failure& failure) { note(to_status(failure), "none"); }
    bool any() const { return last_.has_value(); }
    // The verdict for what is still pending; "4.4.3 no usable mail host" when nothing was noted.
    smtp::DeliveryStatus verdict() const;
    const std::string& relay() const { return relay_; }  // where the last failure happened

  private:
    std::optional<smtp::DeliveryStatus> last_;
    std::string relay_ = "none";
    bool any_temporary_ = false;
};

}  // namespace dr::relay
