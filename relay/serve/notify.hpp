// systemd's service notifications (sd_notify(3)) for `dane-relay serve` under Type=notify:
// ready() once the daemon accepts mail (after the resolver has validated the root),
// reloading()/ready() around a SIGHUP reload, stopping() when SIGTERM starts the drain.
// Without NOTIFY_SOCKET (not under systemd) each call does nothing; a failed send is ignored
// (systemd then times the start out, which is the error the operator sees).
#pragma once

#include <string>

namespace dr::relay::notify {

void ready(const std::string& status);
void reloading();
void stopping();

}  // namespace dr::relay::notify
