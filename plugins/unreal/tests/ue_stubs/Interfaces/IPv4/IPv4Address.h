// Compile-only stand-in (see UEStub.h).
#pragma once
#include "UEStub.h"
struct FIPv4Address
{
	FIPv4Address(uint8 InA, uint8 InB, uint8 InC, uint8 InD) : A(InA), B(InB), C(InC), D(InD) {}
	uint8 A, B, C, D;
};
