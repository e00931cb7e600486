// Boost.JSON in header-only mode: its implementation is compiled here, once,
// so no extra Debian package (libboost-json) is needed.
#include <boost/json/src.hpp>
