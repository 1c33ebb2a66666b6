// Compile-only stand-in (see UEStub.h).
#pragma once
#include "UEStub.h"
#undef GENERATED_BODY
#define GENERATED_BODY() public: using Super = UObject; private:
