// sd_notify(3) calls for the daemon (see notify.hpp). One datagram on a local socket each,
// sent from the queue's event loop: it does not wait on anything but the kernel.
#include "relay/serve/notify.hpp"

#include <systemd/sd-daemon.h>

namespace dr::relay::notify {

namespace {

void send(const std::string& state) {
    (void)sd_notify(0, state.c_str());
}

}  // namespace

void ready(const std::string& status) {
    std::string state = "READY=1\nSTATUS=";
    state += status;
    send(state);
}

void reloading() {
    send("RELOADING=1\nSTATUS=reloading the configuration");
}

void stopping() {
    send("STOPPING=1\nSTATUS=stopping: finishing running deliveries");
}

}  // namespace dr::relay::notify
