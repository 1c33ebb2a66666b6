// Compile-only stand-in (see UEStub.h): only what the real header declares and the plugin uses.
#pragma once
#include "UEStub.h"
class FSubsystemCollectionBase;
class USubsystem : public UObject
{
public:
	virtual void Initialize(FSubsystemCollectionBase& Collection) { (void)Collection; }
	virtual void Deinitialize() {}
};
class UGameInstanceSubsystem : public USubsystem
{
};
