// SPEC §12 deadline arithmetic: a step's time is its own budget cut to the deadline of the
// whole attempt (client) or session (server), never negative.
#include <gtest/gtest.h>

#include "smtp/steps.hpp"

using namespace dr::smtp;
using namespace std::chrono_literals;

namespace {
const auto t0 = std::chrono::steady_clock::time_point() + 1000s;
}

TEST(Bounded, NoDeadlineIsTheStepsOwnTime) {
    EXPECT_EQ(bounded(300s, std::nullopt, t0), 300s);
}

TEST(Bounded, TheDeadlineCutsALongerStep) {
    EXPECT_EQ(bounded(300s, t0 + 20s, t0), 20s);
    EXPECT_EQ(bounded(300s, t0 + 20s, t0 + 19500ms), 500ms);
}

TEST(Bounded, AStepShorterThanWhatIsLeftKeepsItsTime) {
    EXPECT_EQ(bounded(30s, t0 + 1h, t0), 30s);
}

TEST(Bounded, PastTheDeadlineNothingIsLeft) {
    EXPECT_EQ(bounded(300s, t0, t0), 0s);
    EXPECT_EQ(bounded(300s, t0 - 5s, t0), 0s);
}

TEST(Bounded, NegativeBudgetsAreZero) {
    EXPECT_EQ(bounded(-1s, std::nullopt, t0), 0s);
    EXPECT_EQ(bounded(-1s, t0 + 5s, t0), 0s);
}

// The client's table: Postfix's defaults per step (smtp_*_timeout).
TEST(StepTimeouts, PostfixDefaults) {
    StepTimeouts t;
    EXPECT_EQ(t.get(Step::connect), 30s);
    EXPECT_EQ(t.get(Step::greeting), 300s);
    EXPECT_EQ(t.get(Step::data), 120s);
    EXPECT_EQ(t.get(Step::body), 180s);
    EXPECT_EQ(t.get(Step::end_of_data), 600s);
    EXPECT_EQ(t.get(Step::rset), 20s);
}
