// Compile-only stand-in (see UEStub.h): only what the real header declares and the plugin uses.
#pragma once
#include "SocketTypes.h"
class FInternetAddr
{
public:
	virtual ~FInternetAddr() = default;
	virtual void SetPort(int32) {}
	virtual FName GetProtocolType() const { return FName(); }
	virtual bool CompareEndpoints(const FInternetAddr&) const { return true; }
	virtual TSharedRef<FInternetAddr> Clone() const { return MakeShared<FInternetAddr>(); }
	virtual FString ToString(bool bAppendPort) const { (void)bAppendPort; return FString(); }
};
