// Compile-only stand-in (see UEStub.h): only what the real header declares and the plugin uses.
#pragma once
#include "IPAddress.h"
struct FAddressInfoResultData
{
	TSharedRef<FInternetAddr> Address;
};
struct FAddressInfoResult
{
	ESocketErrors ReturnCode = SE_NO_ERROR;
	TArray<FAddressInfoResultData> Results;
};
class FSocket;
class ISocketSubsystem
{
public:
	static ISocketSubsystem* Get(const FName&) { return nullptr; }
	FAddressInfoResult GetAddressInfo(const TCHAR*, const TCHAR*, EAddressInfoFlags, const FName, ESocketType) { return {}; }
	TSharedRef<FInternetAddr> CreateInternetAddr() { return MakeShared<FInternetAddr>(); }
	TSharedRef<FInternetAddr> CreateInternetAddr(const FName) { return MakeShared<FInternetAddr>(); }
	FSocket* CreateSocket(const FName&, const FString&, const FName&) { return nullptr; }
	void DestroySocket(FSocket*) {}
	ESocketErrors GetLastErrorCode() { return SE_NO_ERROR; }
};
