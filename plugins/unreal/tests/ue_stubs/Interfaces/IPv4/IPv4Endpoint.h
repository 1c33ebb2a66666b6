// Compile-only stand-in (see UEStub.h): only what the real header declares and the plugin uses.
#pragma once
#include "Interfaces/IPv4/IPv4Address.h"
#include "IPAddress.h"
struct FIPv4Endpoint
{
	FIPv4Endpoint(const FIPv4Address& InAddress, uint16 InPort) : Address(InAddress), Port(InPort) {}
	TSharedRef<FInternetAddr> ToInternetAddr() const { return MakeShared<FInternetAddr>(); }
	FIPv4Address Address;
	uint16 Port;
};
