// Compile-only stand-in (see UEStub.h): only what the real header declares and the plugin uses.
#pragma once
#include "UEStub.h"
class FRunnable
{
public:
	virtual ~FRunnable() = default;
	virtual bool Init() { return true; }
	virtual uint32 Run() = 0;
	virtual void Stop() {}
	virtual void Exit() {}
};
