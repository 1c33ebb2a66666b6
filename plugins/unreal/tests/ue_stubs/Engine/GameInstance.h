// Compile-only stand-in (see UEStub.h): only what the real header declares and the plugin uses.
#pragma once
#include "UEStub.h"
class UGameInstance : public UObject
{
public:
	template <class T> T* GetSubsystem() const { static_assert(std::is_base_of_v<UObject, T>, "a subsystem class"); return nullptr; }
};
