// Compile-only stand-in (see UEStub.h): only what the real header declares and the plugin uses.
#pragma once
#include "Sockets.h"
class FUdpSocketBuilder
{
public:
	explicit FUdpSocketBuilder(const FString&) {}
	FUdpSocketBuilder& AsNonBlocking() { return *this; }
	FUdpSocketBuilder& BoundToPort(uint16) { return *this; }
	FUdpSocketBuilder& WithReceiveBufferSize(int32) { return *this; }
	FUdpSocketBuilder& WithSendBufferSize(int32) { return *this; }
	FUdpSocketBuilder& WithMulticastLoopback() { return *this; }
	FUdpSocketBuilder& WithMulticastTtl(uint8) { return *this; }
	FSocket* Build() const { return nullptr; }
};
