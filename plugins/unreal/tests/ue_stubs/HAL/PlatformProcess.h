// Compile-only stand-in (see UEStub.h): only what the real header declares and the plugin uses.
#pragma once
#include "UEStub.h"
class FEvent;
struct FPlatformProcess
{
	static FEvent* GetSynchEventFromPool(bool) { return nullptr; }
	static void ReturnSynchEventToPool(FEvent*) {}
};
