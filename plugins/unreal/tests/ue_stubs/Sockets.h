// Compile-only stand-in (see UEStub.h): only what the real header declares and the plugin uses.
#pragma once
#include "SocketTypes.h"
class FInternetAddr;
class FSocket
{
public:
	bool SetNonBlocking(bool = true) { return true; }
	bool SetReceiveBufferSize(int32, int32&) { return true; }
	bool Wait(ESocketWaitConditions::Type, FTimespan) { return false; }
	bool RecvFrom(uint8*, int32, int32&, FInternetAddr&) { return false; }
	bool SendTo(const uint8*, int32, int32&, const FInternetAddr&) { return true; }
	bool Close() { return true; }
};
