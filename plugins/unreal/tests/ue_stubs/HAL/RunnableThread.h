// Compile-only stand-in (see UEStub.h): only what the real header declares and the plugin uses.
#pragma once
#include "UEStub.h"
class FRunnable;
class FRunnableThread
{
public:
	static FRunnableThread* Create(FRunnable*, const TCHAR*, uint32 = 0, EThreadPriority = TPri_Normal) { return nullptr; }
	virtual ~FRunnableThread() = default;
	bool Kill(bool) { return true; }
};
