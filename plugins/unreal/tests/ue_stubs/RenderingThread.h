// Compile-only stand-in (see UEStub.h): only what the real header declares and the plugin uses.
#pragma once
#include "RHICommandList.h"
#define ENQUEUE_RENDER_COMMAND(Type) ::UEStub::FRenderCommandEnqueuer()
namespace UEStub
{
	struct FRenderCommandEnqueuer
	{
		template <class L> void operator()(L&& Lambda) const
		{
			static_assert(std::is_invocable_v<L, FRHICommandListImmediate&>, "a render command takes FRHICommandListImmediate&");
			(void)Lambda;
		}
	};
}
