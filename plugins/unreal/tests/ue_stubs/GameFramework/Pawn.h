// Compile-only stand-in (see UEStub.h): only what the real header declares and the plugin uses.
#pragma once
#include "UEStub.h"
class AController;
class APawn : public AActor
{
public:
	AController* GetController() const { return nullptr; }
	bool IsLocallyControlled() const { return true; }
};
