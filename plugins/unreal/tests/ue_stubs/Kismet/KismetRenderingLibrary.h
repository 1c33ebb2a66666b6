// Compile-only stand-in (see UEStub.h): only what the real header declares and the plugin uses.
#pragma once
#include "Engine/TextureRenderTarget2D.h"
class UCanvas;
struct FDrawToRenderTargetContext
{
	UTextureRenderTarget2D* RenderTarget = nullptr;
};
class UKismetRenderingLibrary : public UObject
{
public:
	static UTextureRenderTarget2D* CreateRenderTarget2D(UObject* WorldContextObject, int32 Width = 256, int32 Height = 256,
		ETextureRenderTargetFormat Format = RTF_RGBA16f, FLinearColor ClearColor = FLinearColor::Black,
		bool bAutoGenerateMipMaps = false, bool bSupportUAVs = false)
	{
		(void)WorldContextObject; (void)Width; (void)Height; (void)Format; (void)ClearColor; (void)bAutoGenerateMipMaps; (void)bSupportUAVs;
		return nullptr;
	}
	static void BeginDrawCanvasToRenderTarget(UObject* WorldContextObject, UTextureRenderTarget2D* TextureRenderTarget,
		UCanvas*& Canvas, FVector2D& Size, FDrawToRenderTargetContext& Context)
	{
		(void)WorldContextObject; (void)TextureRenderTarget; Canvas = nullptr; Size = FVector2D(); Context = {};
	}
	static void EndDrawCanvasToRenderTarget(UObject* WorldContextObject, const FDrawToRenderTargetContext& Context)
	{
		(void)WorldContextObject; (void)Context;
	}
};
