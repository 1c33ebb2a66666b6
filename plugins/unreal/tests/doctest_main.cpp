// doctest's runner, compiled once in its own translation unit so that test files rebuild quickly.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
