// Compile-only stand-in (see UEStub.h): only what the real header declares and the plugin uses.
#pragma once
#include "IImageWrapper.h"
class IImageWrapperModule
{
public:
	TSharedPtr<IImageWrapper> CreateImageWrapper(EImageFormat) { return TSharedPtr<IImageWrapper>(); }
};
