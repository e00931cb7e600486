// Test driver for post_report() (relay/tlsrpt/post.hpp), run by tlsrpt_post_test.py:
//   tlsrpt_post_probe URL CA_FILE ADDRESS PORT JSON_FILE
// prints "delivered: yes|no" and "text: ...", one per line.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "relay/tlsrpt/post.hpp"

int main(int argc, char** argv) {
    using namespace dr::relay::tlsrpt;
    if (argc != 6) {
        std::fprintf(stderr, "usage: tlsrpt_post_probe URL CA_FILE ADDRESS PORT JSON_FILE\n");
        return 2;
    }
    std::ifstream in(argv[5]);
    std::ostringstream json;
    json << in.rdbuf();
    PostOptions o;
    o.ca_file = argv[2];
    o.addresses = {argv[3]};
    o.connect_port = static_cast<unsigned>(std::stoul(argv[4]));
    o.timeout = std::chrono::milliseconds(3000);
    auto p = post_report(argv[1], json.str(), o);
    std::printf("delivered: %s\ntext: %s\n", p.delivered ? "yes" : "no", p.text.c_str());
    return 0;
}
