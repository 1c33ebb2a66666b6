// Compile-only stand-in (see UEStub.h): only what the real header declares and the plugin uses.
#pragma once
#include "Engine/Texture.h"
enum ETextureRenderTargetFormat { RTF_R8, RTF_RGBA8, RTF_RGBA16f };
class FRHITexture;
class FTextureRenderTargetResource : public FTextureResource
{
public:
	FRHITexture* GetRenderTargetTexture() const { return nullptr; }
};
class UTextureRenderTarget2D : public UTexture
{
public:
	int32 SizeX = 0;
	int32 SizeY = 0;
	FTextureRenderTargetResource* GameThread_GetRenderTargetResource() { return nullptr; }
	virtual float GetSurfaceWidth() const override { return static_cast<float>(SizeX); }
	virtual float GetSurfaceHeight() const override { return static_cast<float>(SizeY); }
};
