// Compile-only stand-in (see UEStub.h): only what the real header declares and the plugin uses.
#pragma once
#include "UEStub.h"
class UTexture;
enum EBlendMode { BLEND_Opaque, BLEND_Masked, BLEND_Translucent };
class UCanvas : public UObject
{
public:
	void K2_DrawTexture(UTexture* RenderTexture, FVector2D ScreenPosition, FVector2D ScreenSize, FVector2D CoordinatePosition,
		FVector2D CoordinateSize = FVector2D::UnitVector, FLinearColor RenderColor = FLinearColor::White,
		EBlendMode BlendMode = BLEND_Translucent, float Rotation = 0.f, FVector2D PivotPoint = FVector2D(0.5, 0.5))
	{
		(void)RenderTexture; (void)ScreenPosition; (void)ScreenSize; (void)CoordinatePosition; (void)CoordinateSize;
		(void)RenderColor; (void)BlendMode; (void)Rotation; (void)PivotPoint;
	}
};
