// The core header and nothing else, compiled with the strict flags of CMakeLists.txt.
#include "YumeBridgeCore/YumeBridgeCore.hpp"
