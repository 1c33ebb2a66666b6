// Compile-only stand-in (see UEStub.h): only what the real header declares and the plugin uses.
#pragma once
#include "UEStub.h"
class AController : public AActor
{
public:
	bool IsLocalController() const { return true; }
};
