// Compile-only stand-in (see UEStub.h): only what the real header declares and the plugin uses.
#pragma once
#include "UEStub.h"
enum class EImageFormat { PNG, JPEG };
enum class ERGBFormat { RGBA, BGRA, Gray };
class IImageWrapper
{
public:
	virtual ~IImageWrapper() = default;
	virtual bool SetCompressed(const void*, int64) { return false; }
	virtual bool SetRaw(const void*, int64, const int32, const int32, const ERGBFormat, const int32, const int32 = 0) { return false; }
	virtual bool GetRaw(const ERGBFormat, int32, TArray64<uint8>&) { return false; }
	virtual TArray64<uint8> GetCompressed(int32 = 0) { return {}; }
	virtual int64 GetWidth() const { return 0; }
	virtual int64 GetHeight() const { return 0; }
};
