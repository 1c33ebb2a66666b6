// Compile-only stand-in (see UEStub.h): only what the real header declares and the plugin uses.
#pragma once
#include "UEStub.h"
class FScopeLock
{
public:
	explicit FScopeLock(FCriticalSection* In) : Section(In) { Section->Lock(); }
	~FScopeLock() { Section->Unlock(); }
private:
	FCriticalSection* Section;
};
