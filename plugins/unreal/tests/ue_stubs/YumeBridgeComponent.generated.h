// Compile-only stand-in (see UEStub.h).
#pragma once
#include "UEStub.h"
class UActorComponent;
#undef GENERATED_BODY
#define GENERATED_BODY() public: using Super = UActorComponent; private:
