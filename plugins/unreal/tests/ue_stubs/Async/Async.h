// Compile-only stand-in (see UEStub.h): only what the real header declares and the plugin uses.
#pragma once
#include "UEStub.h"
namespace ENamedThreads { enum Type { GameThread, AnyBackgroundThreadNormalTask }; }
enum class EAsyncExecution { TaskGraph, TaskGraphMainThread, Thread, ThreadPool };
inline void AsyncTask(ENamedThreads::Type Thread, TUniqueFunction<void()> Function) { (void)Thread; (void)Function; }
template <class F> void Async(EAsyncExecution Execution, F&& Function)
{
	static_assert(std::is_invocable_v<F&>, "Async runs a callable without arguments");
	(void)Execution; (void)Function;
}
