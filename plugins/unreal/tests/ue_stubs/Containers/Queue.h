// Compile-only stand-in (see UEStub.h): only what the real header declares and the plugin uses.
#pragma once
#include "UEStub.h"
enum class EQueueMode { Mpsc, Spsc };
template <class T, EQueueMode Mode = EQueueMode::Spsc>
class TQueue
{
public:
	bool Enqueue(T&& Item) { Items.push(std::move(Item)); return true; }
	bool Dequeue(T& Out) { if (Items.empty()) return false; Out = std::move(Items.front()); Items.pop(); return true; }
private:
	std::queue<T> Items;
};
