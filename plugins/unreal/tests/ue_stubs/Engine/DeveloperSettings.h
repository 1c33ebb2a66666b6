// Compile-only stand-in (see UEStub.h).
#pragma once
#include "UEStub.h"
