// Compile-only stand-in (see UEStub.h): only what the real header declares and the plugin uses.
#pragma once
#include "UEStub.h"
struct FDelegateHandle {};
class FTickerDelegate
{
public:
	template <class L> static FTickerDelegate CreateLambda(L&& Lambda)
	{
		static_assert(std::is_same_v<std::invoke_result_t<L&, float>, bool>, "a ticker returns bool: true to tick again");
		(void)Lambda;
		return FTickerDelegate();
	}
};
class FTSTicker
{
public:
	static FTSTicker& GetCoreTicker() { static FTSTicker Ticker; return Ticker; }
	FDelegateHandle AddTicker(const FTickerDelegate& InDelegate, float InDelay = 0.0f) { (void)InDelegate; (void)InDelay; return FDelegateHandle(); }
};
