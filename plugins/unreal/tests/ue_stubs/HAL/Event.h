// Compile-only stand-in (see UEStub.h): only what the real header declares and the plugin uses.
#pragma once
#include "UEStub.h"
class FEvent
{
public:
	void Trigger() {}
	bool Wait(uint32) { return false; }
};
