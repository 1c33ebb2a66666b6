// Compile-only stand-in (see UEStub.h): only what the real header declares and the plugin uses.
#pragma once
#include "UEStub.h"
class FRHITexture;
enum ERangeCompressionMode { RCM_UNorm, RCM_SNorm, RCM_MinMaxNorm, RCM_MinMax };
struct FReadSurfaceDataFlags
{
	explicit FReadSurfaceDataFlags(ERangeCompressionMode InCompressionMode = RCM_UNorm) { (void)InCompressionMode; }
};
class FRHICommandListImmediate
{
public:
	void ReadSurfaceData(FRHITexture* Texture, FIntRect Rect, TArray<FColor>& OutData, FReadSurfaceDataFlags InFlags)
	{
		(void)Texture; (void)Rect; (void)OutData; (void)InFlags;
	}
};
