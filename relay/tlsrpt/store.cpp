#include "relay/tlsrpt/store.hpp"

#include <dirent.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "dane/small_file.hpp"

namespace dr::relay::tlsrpt {

namespace {
constexpr std::size_t kMaxFile = 64 * 1024 * 1024;
}

bool Store::is_day(std::string_view s) {
    if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
    for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9})
        if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    return true;
}

Store::Loaded Store::load(const std::string& day) const {
    Loaded l;
    const auto path = dir_ + "/" + day + ".json";
    auto text = dane::read_small_file(path, kMaxFile, l.error);
    if (!text) return l;
    boost::system::error_code ec;
    auto v = boost::json::parse(*text, ec);
    std::string why = ec ? ec.message() : "";
    if (!ec) l.tally = Tally::from_json(v, why);
    if (l.tally) return l;
    const auto bad = path + ".bad";
    l.error = path + ": " + why +
              (std::rename(path.c_str(), bad.c_str()) == 0
                   ? "; kept as " + bad
                   : "; cannot rename it: " + std::string(std::strerror(errno)));
    return l;
}

std::string Store::save(const std::string& day, const Tally& t) const {
    return dane::replace_file(dir_, day + ".json", boost::json::serialize(t.to_json()) + "\n");
}

std::vector<std::string> Store::days() const {
    std::vector<std::string> out;
    DIR* d = ::opendir(dir_.c_str());
    if (!d) return out;
    while (auto* e = ::readdir(d)) {
        std::string_view n = e->d_name;
        if (n.size() == 15 && n.ends_with(".json") && is_day(n.substr(0, 10)))
            out.emplace_back(n.substr(0, 10));
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace dr::relay::tlsrpt
