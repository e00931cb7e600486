#include "conf/config.hpp"

#include <gtest/gtest.h>

using dr::conf::PolicyConfig;
using dr::conf::TlsLevel;

TEST(PolicyConfig, ExactDomainEntryWinsOverDefault) {
    PolicyConfig p;
    p.default_level = TlsLevel::may;
    p.domains["example.org"] = {TlsLevel::dane_only, std::nullopt};
    EXPECT_EQ(p.for_domain("Example.ORG.").level, TlsLevel::dane_only);
    EXPECT_EQ(p.for_domain("sub.example.org").level, TlsLevel::may);
}

TEST(TlsLevel, NamesRoundTrip) {
    for (auto l : {TlsLevel::dane_only, TlsLevel::dane, TlsLevel::encrypt, TlsLevel::verify,
                   TlsLevel::may, TlsLevel::none})
        EXPECT_EQ(dr::conf::parse_tls_level(dr::conf::to_string(l)), l);
    EXPECT_FALSE(dr::conf::parse_tls_level("DANE").has_value());
}
