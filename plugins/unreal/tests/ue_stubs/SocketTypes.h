// Compile-only stand-in (see UEStub.h): only what the real header declares and the plugin uses.
#pragma once
#include "UEStub.h"
enum ESocketErrors { SE_NO_ERROR, SE_EWOULDBLOCK, SE_ECONNRESET, SE_ECONNREFUSED };
namespace ESocketWaitConditions { enum Type { WaitForRead, WaitForWrite }; }
enum class ESocketType { SOCKTYPE_Unknown, SOCKTYPE_Datagram };
enum class EAddressInfoFlags { Default };
struct FNetworkProtocolTypes { static inline const FName IPv4{}; static inline const FName IPv6{}; };
