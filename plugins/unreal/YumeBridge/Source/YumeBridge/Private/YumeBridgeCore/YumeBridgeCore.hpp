// The yume_bridge protocol v1 client core: include this one header.
//
// Header-only C++17, standard library only, no exceptions, no RTTI, no I/O. The Unreal module is a
// thin shell over it; the host tests in plugins/unreal/tests drive it directly.
#pragma once

#include "Client.hpp"
#include "Common.hpp"
#include "Crypto.hpp"
#include "DnsSd.hpp"
#include "FrameQueue.hpp"
#include "Frames.hpp"
#include "Json.hpp"
#include "Messages.hpp"
#include "MsgPack.hpp"
#include "Recovery.hpp"
#include "Value.hpp"
