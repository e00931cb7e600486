// Postfix's name for an SMTP peer, formatted in this one place: "host[addr]" (clients, error
// texts such as "… not offered by host mx[192.0.2.1]") and "host[addr]:port" (relay=, the TLS
// lines). Entry point: peer_name(). Pure; IPv6 addresses go in the brackets as they are.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dr::smtp {

std::string peer_name(std::string_view host, std::string_view addr);
std::string peer_name(std::string_view host, std::string_view addr, std::uint16_t port);

}  // namespace dr::smtp
