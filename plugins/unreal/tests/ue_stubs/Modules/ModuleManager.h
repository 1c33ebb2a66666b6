// Compile-only stand-in (see UEStub.h): only what the real header declares and the plugin uses.
#pragma once
#include "UEStub.h"
struct FModuleManager
{
	template <class T> static T& LoadModuleChecked(const TCHAR*) { static T Module; return Module; }
	template <class T> static T* GetModulePtr(const TCHAR*) { return nullptr; }
};
