// Compile-only stand-in (see UEStub.h): only what the real header declares and the plugin uses.
#pragma once
#include "UEStub.h"
class UBlueprintAsyncActionBase : public UObject
{
public:
	virtual void Activate() {}
	virtual void SetReadyToDestroy() {}
};
